"""Midjourney task endpoints (``/mj/...``), sans-IO.

Submit (``/mj/submit/imagine|action|describe|blend|modal``) answers ``{"code",
"description", "properties", "result": <task id>}``; code 1 is success (the relay rewrites
21 "exists" and 22 "queued" to 1; we accept them too). Other codes are errors carried in
a 200 body: 23 queue full, 24 banned prompt (relay-behavior.md §9, §14).

Fetch reads the relay's own database, refreshed about every 15 s, so a fresh task shows
``status: ""`` and ``progress: "0%"``; ``progress: "100%"`` means finished, and the relay
fails a task after an hour. ``poll_delay`` paces ``wait`` accordingly, and ``wait_delay``
cuts the last sleep short so that the last poll happens at the deadline.

``MODAL`` (plus-type proxies, relay-behavior.md §14; juhe-api.md §6.3, §6.4, midjourney-proxy
convention, unverified on JuheNext) means the task waits for input sent with
``/mj/submit/modal`` (a remix prompt, an inpaint mask) and will not move on by itself, so
``task_outcome`` stops a wait there with ``TaskNeedsModalError`` instead of polling on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from juhe_core.errors import (
    APIError,
    APIStatusError,
    BadRequestError,
    RateLimitError,
    TaskFailedError,
    TaskNeedsModalError,
)

__all__ = [
    "LIST_PATH",
    "Button",
    "MidjourneyTask",
    "SubmitAction",
    "decode_seed",
    "decode_submit",
    "decode_task",
    "decode_task_list",
    "fetch_path",
    "ids_body",
    "poll_delay",
    "seed_path",
    "submit_path",
    "task_outcome",
    "wait_delay",
]

SubmitAction = Literal["imagine", "action", "describe", "blend", "modal"]
SUCCESS_CODES: Final = frozenset({1, 21, 22})
LIST_PATH: Final = "/mj/task/list-by-condition"
DONE_STATUSES: Final = frozenset({"SUCCESS", "FAILURE", "CANCEL"})
_DEADLINE_SLACK: Final = 0.001
_CODE_ERRORS: Final[Mapping[int, type[APIStatusError]]] = {23: RateLimitError}


class Button(BaseModel):
    """A follow-up action offered by a finished task (U1, V2, reroll, zoom ...)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    custom_id: str = Field(alias="customId")
    """Pass to ``mj_action`` to press it."""
    label: str = ""
    """The button's label (``U1``, ``V2`` ...)."""
    emoji: str = ""
    """The button's emoji, if any."""


class MidjourneyTask(BaseModel):
    """A Midjourney task as the relay reports it."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    id: str
    """The task id."""
    action: str = ""
    """IMAGINE, UPSCALE, VARIATION, DESCRIBE, BLEND ..."""
    status: str = ""
    """"" before the first poll, then NOT_START, SUBMITTED, IN_PROGRESS, SUCCESS, FAILURE
    (plus-type proxies also MODAL: waiting for ``/mj/submit/modal``, and CANCEL)."""
    progress: str = "0%"
    """"0%" .. "100%"."""
    prompt: str = ""
    """The prompt as submitted."""
    prompt_en: str = Field("", alias="promptEn")
    """The prompt as sent to Midjourney."""
    description: str = ""
    """The submit description."""
    fail_reason: str = Field("", alias="failReason")
    """Why it failed."""
    image_url: str = Field("", alias="imageUrl")
    """The result grid or image."""
    submit_time: int = Field(0, alias="submitTime")
    """Milliseconds since the epoch."""
    finish_time: int = Field(0, alias="finishTime")
    """Milliseconds since the epoch (0 until finished)."""
    buttons: list[Button] = Field(default_factory=list)
    """Follow-up actions."""
    properties: dict[str, Any] = Field(default_factory=dict)
    """Extra data (``finalPrompt`` ...)."""

    @property
    def percent(self) -> int:
        """Progress as a number 0..100."""
        digits = self.progress.rstrip("%").strip()
        return int(float(digits)) if digits.replace(".", "", 1).isdigit() else 0

    @property
    def done(self) -> bool:
        """Finished one way or the other."""
        return self.status in DONE_STATUSES or (self.percent >= 100 and self.status != "")


def submit_path(action: SubmitAction, mode: str | None = None) -> str:
    """``/mj/submit/<action>``, or ``/<mode>/mj/submit/<action>`` (e.g. ``mj-fast``)."""
    return f"/{mode}/mj/submit/{action}" if mode else f"/mj/submit/{action}"


def fetch_path(task_id: str) -> str:
    """The path that fetches one task."""
    return f"/mj/task/{_safe(task_id)}/fetch"


def seed_path(task_id: str) -> str:
    """The path that reads a task's seed."""
    return f"/mj/task/{_safe(task_id)}/image-seed"


def _safe(task_id: str) -> str:
    return quote(task_id, safe="")


def _code_error(body: Mapping[str, Any]) -> APIStatusError:
    code = body.get("code")
    description = str(body.get("description") or "midjourney error").strip()
    cls = _CODE_ERRORS.get(code, BadRequestError) if isinstance(code, int) else BadRequestError
    return cls(
        f"midjourney: {description}",
        status=200,
        type="midjourney",
        code=code if isinstance(code, (int, str)) else None,
        body=dict(body),
    )


def decode_submit(body: Any) -> str:
    """The task id of a submit answer; a typed error for any other code."""
    if not isinstance(body, Mapping):
        raise APIError("malformed midjourney submit answer")
    if body.get("code") not in SUCCESS_CODES or not body.get("result"):
        raise _code_error(body)
    return str(body["result"])


def decode_task(body: Any) -> MidjourneyTask:
    """A task object; APIError if malformed."""
    try:
        return MidjourneyTask.model_validate(body)
    except ValidationError as exc:
        raise APIError(f"malformed midjourney task: {exc.errors()[0]['msg']}") from None


def decode_task_list(body: Any) -> list[MidjourneyTask]:
    """The tasks of a list-by-condition answer (a JSON array)."""
    if not isinstance(body, list):
        raise APIError("malformed midjourney task list: not an array")
    return [decode_task(item) for item in body]


def decode_seed(body: Any) -> str:
    """The seed of an image-seed answer."""
    if not isinstance(body, Mapping) or body.get("code") not in SUCCESS_CODES:
        raise _code_error(body if isinstance(body, Mapping) else {})
    return str(body.get("result"))


def task_outcome(task: MidjourneyTask) -> MidjourneyTask | None:
    """The task when it succeeded, None while running; TaskFailedError when it failed,
    TaskNeedsModalError when it waits in MODAL for ``/mj/submit/modal``."""
    if task.status == "MODAL":
        raise TaskNeedsModalError(
            f"midjourney task {task.id} is waiting in MODAL for more input (a remix prompt "
            "or an inpaint mask) and will not finish by itself: submit it with "
            "modal(task_id, prompt=..., mask=...) and wait for the task id that returns",
            task_id=task.id,
            status=task.status,
        )
    if task.status in ("FAILURE", "CANCEL"):
        raise TaskFailedError(
            f"midjourney task {task.id} ended in {task.status}: {task.fail_reason or 'no reason'}",
            task_id=task.id,
            status=task.status,
            fail_reason=task.fail_reason or None,
        )
    return task if task.done else None


def poll_delay(attempt: int, *, initial: float = 2.0, maximum: float = 15.0) -> float:
    """Seconds before poll ``attempt``: grows by half each time up to the relay's 15 s."""
    return min(initial * 1.5**attempt, maximum)


def wait_delay(attempt: int, remaining: float, *, initial: float = 2.0) -> float | None:
    """Seconds to sleep after poll ``attempt`` of a wait with ``remaining`` seconds left.

    ``poll_delay``, cut to ``remaining`` so the last poll happens at the deadline rather
    than up to one delay (15 s) before it; None once the deadline has come (within
    ``_DEADLINE_SLACK``: a timer may wake a hair early, and that is not worth a poll).
    """
    if remaining <= _DEADLINE_SLACK:
        return None
    return min(poll_delay(attempt, initial=initial), remaining)


def ids_body(task_ids: Sequence[str]) -> dict[str, list[str]]:
    """The body of a list-by-condition call."""
    return {"ids": list(task_ids)}
