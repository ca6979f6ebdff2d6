"""Midjourney tasks as the relay's database shows them, moving on with the clock.

The relay answers fetches from its own table, which a poller refreshes about every 15 s
(relay-behavior.md §9, §14). Here one "poll" happens every ``step`` seconds after submit:

=================  ===============  ==========  =========================================
time since submit  ``status``       progress    other fields
=================  ===============  ==========  =========================================
< step             ``""``           ``0%``      only ``submitTime`` set
< 2 step           ``SUBMITTED``    ``0%``
< 3 step           ``IN_PROGRESS``  ``45%``     ``startTime``; ``imageUrl`` with ``?rand=``
>= 3 step          ``SUCCESS``      ``100%``    ``finishTime``, ``imageUrl``, ``buttons``
                   or ``FAILURE``   ``100%``    ``failReason``
=================  ===============  ==========  =========================================

A prompt containing ``--fail`` ends in FAILURE (``failReason`` says the parameter is not
recognised, as Midjourney does); one containing ``--stall`` stays IN_PROGRESS forever (to
test client timeouts). Images are served by the emulator at ``/mj/image/{id}``, the relay's
own forwarding route (``MjForwardUrlEnabled``), which needs no key.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._media import png, png_grid

__all__ = ["Task", "TaskBook", "button_action"]

_GRID_ACTIONS = frozenset(
    {
        "IMAGINE",
        "VARIATION",
        "LOW_VARIATION",
        "HIGH_VARIATION",
        "REROLL",
        "PAN",
        "ZOOM",
        "BLEND",
        "MODAL",
        "INPAINT",
        "CUSTOM_ZOOM",
    }
)
# customId verb → (action, index taken from the customId) after the relay's
# CoverPlusActionToNormalAction (relay/mjproxy_handler.go via service/midjourney.go).
_VERBS = {
    "upsample": "UPSCALE",
    "variation": "VARIATION",
    "low_variation": "LOW_VARIATION",
    "high_variation": "HIGH_VARIATION",
    "reroll": "REROLL",
    "pan": "PAN",
    "Outpaint": "ZOOM",
    "CustomZoom": "CUSTOM_ZOOM",
    "Inpaint": "INPAINT",
}


def button_action(custom_id: str) -> tuple[str, int] | None:
    """(action, index) a button's ``customId`` stands for, or ``None`` if unknown."""
    parts = custom_id.split("::")
    if len(parts) < 3:
        return None
    verb = parts[2] if parts[1] == "JOB" else parts[1]
    action = next((a for v, a in _VERBS.items() if v == verb), None)
    if action is None:
        action = next((a for v, a in _VERBS.items() if v in verb and v.islower()), None)
    if action is None:
        return None
    index = parts[3] if len(parts) > 3 and action in ("UPSCALE", "VARIATION") else "1"
    return (action, int(index)) if index.isdigit() else None


def _hash(task_id: str) -> str:
    h = hashlib.blake2b(task_id.encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _button(custom_id: str, label: str, emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def _buttons(task_id: str, action: str) -> list[dict[str, Any]]:
    h = _hash(task_id)
    if action in _GRID_ACTIONS:
        ups = [_button(f"MJ::JOB::upsample::{i}::{h}", f"U{i}") for i in range(1, 5)]
        reroll = [_button(f"MJ::JOB::reroll::0::{h}::SOLO", "", "🔄")]
        variations = [_button(f"MJ::JOB::variation::{i}::{h}", f"V{i}") for i in range(1, 5)]
        return ups + reroll + variations
    if action == "UPSCALE":
        return [
            _button(f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
            _button(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
        ]
    return []


@dataclass
class Task:
    """One task as submitted; its visible state is computed from the clock."""

    id: str
    """Task id (the submit answer's ``result``)."""
    action: str
    """IMAGINE, UPSCALE, VARIATION, DESCRIBE, BLEND ..."""
    prompt: str
    """The prompt as submitted (for actions: the parent task's prompt)."""
    submit_ms: int
    """Submit time in milliseconds."""
    image: bytes
    """The result image (grid, upscale, or the described image)."""
    state: str = ""
    """The caller's ``state``, echoed."""
    bot_type: str = ""
    """``botType`` as submitted."""
    index: int = 0
    """Button index for UPSCALE / VARIATION."""
    properties: dict[str, Any] = field(default_factory=dict)
    """Extra fields (``finalPrompt`` ...)."""

    @property
    def outcome(self) -> str:
        """``success``, ``failure`` (prompt has ``--fail``) or ``stall`` (``--stall``)."""
        if "--fail" in self.prompt:
            return "failure"
        return "stall" if "--stall" in self.prompt else "success"


class TaskBook:
    """The relay's task table: submitted tasks and their state at any moment."""

    def __init__(self, lock: threading.Lock, step: float) -> None:
        """Empty; each stage lasts ``step`` seconds."""
        if step < 0:
            raise ValueError(f"mj_step_seconds must be >= 0, got {step!r}")
        self._lock = lock
        self.step = step
        """Seconds between two polls of the relay."""
        self._tasks: dict[str, Task] = {}
        self._counter = 0

    def new_id(self) -> str:
        """A fresh numeric task id (milliseconds + a counter), like the proxy's."""
        with self._lock:
            self._counter += 1
            return f"{int(time.time() * 1000)}{self._counter % 1000:03d}"

    def add(self, task: Task) -> None:
        """Store a submitted task."""
        with self._lock:
            self._tasks[task.id] = task

    def get(self, task_id: str) -> Task | None:
        """The task with this id, if any."""
        with self._lock:
            return self._tasks.get(task_id)

    def status(self, task: Task, now_ms: int | None = None) -> str:
        """The task's ``status`` at ``now_ms`` (default: now)."""
        return str(self.view(task, "", now_ms)["status"])

    def view(self, task: Task, base_url: str, now_ms: int | None = None) -> dict[str, Any]:
        """The task object a fetch returns at ``now_ms`` (relay-behavior.md §9 shape)."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        step = self.step * 1000
        stage = 3 if step <= 0 else min(int((now - task.submit_ms) // step), 3)
        if task.outcome == "stall":
            stage = min(stage, 2)
        image_url = f"{base_url}/mj/image/{task.id}"
        out: dict[str, Any] = {
            "id": task.id,
            "action": task.action,
            "customId": "",
            "botType": task.bot_type,
            "prompt": task.prompt,
            "promptEn": task.prompt if stage >= 1 else "",
            "description": "提交成功",
            "state": task.state,
            "submitTime": task.submit_ms,
            "startTime": 0,
            "finishTime": 0,
            "imageUrl": "",
            "videoUrl": "",
            "videoUrls": None,
            "status": ["", "SUBMITTED", "IN_PROGRESS", "SUCCESS"][stage],
            "progress": ["0%", "0%", "45%", "100%"][stage],
            "failReason": "",
            "buttons": [],
            "maskBase64": "",
            "properties": {"finalPrompt": task.prompt, "finalZhPrompt": "", **task.properties},
        }
        if stage >= 2:
            out["startTime"] = task.submit_ms + int(2 * step)
        if stage == 2:
            # The relay appends ?rand= to the forwarded URL of an unfinished task (§9).
            out["imageUrl"] = f"{image_url}?rand={now * 1_000_000}"
        if stage == 3:
            out["finishTime"] = task.submit_ms + int(3 * step)
            if task.outcome == "failure":
                out["status"] = "FAILURE"
                out["failReason"] = "Invalid parameter: Unrecognized parameter(s): `--fail`"
            else:
                out["imageUrl"] = image_url
                out["buttons"] = _buttons(task.id, task.action)
        return out

    def image(self, task_id: str) -> bytes | None:
        """The image of a task (served at ``/mj/image/{id}``)."""
        task = self.get(task_id)
        return task.image if task is not None else None


def result_image(action: str, prompt: str, index: int, parent: Mapping[str, Any] | None) -> bytes:
    """The image a finished task shows: a grid, one upscaled cell, or the given image."""
    if action == "UPSCALE":
        return png(f"{prompt}#{index}")
    return png_grid(f"{prompt}|{action}|{index}|{parent.get('id') if parent else ''}")
