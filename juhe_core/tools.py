"""Framework-neutral agent tools over the media endpoints: one implementation, two wrappers.

``langchain_juhe.tools`` and ``llama_index_juhe.tools`` wrap these as LangChain
``BaseTool``s and a LlamaIndex ``BaseToolSpec``. Each tool is a ``ToolSpec``: a name, a
description written for the model, a JSON schema of its arguments, and a sync and an async
function returning a JSON-able dict (plus raw media for content blocks). Files are written
under ``output_dir``, never elsewhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from juhe_core.client import AsyncJuheClient, JuheClient
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.wire.media import ImageResult, image_sizes
from juhe_core.wire.midjourney import MidjourneyTask

__all__ = ["TOOL_NAMES", "JuheTools", "ToolSpec"]

Progress = Callable[[MidjourneyTask], None]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what the model sees, and how to run it (sync and async)."""

    name: str
    """The tool name."""
    description: str
    """What it does, for the model."""
    parameters: Mapping[str, Any]
    """JSON schema of the arguments."""
    run: Callable[..., dict[str, Any]]
    """The sync implementation (keyword arguments as in ``parameters``)."""
    arun: Callable[..., Awaitable[dict[str, Any]]]
    """The async implementation."""


def _schema(required: list[str], **props: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(props), "required": required}


_STR = {"type": "string"}
TOOL_NAMES: Final = (
    "generate_image",
    "edit_image",
    "text_to_speech",
    "moderate_text",
    "midjourney_imagine",
    "midjourney_action",
    "midjourney_modal",
    "midjourney_describe",
    "midjourney_blend",
)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "output"


def _size_schema(model: str) -> dict[str, Any]:
    """The ``size`` argument for ``model``: only the sizes it takes (``IMAGE_SIZES``)."""
    sizes = image_sizes(model)
    if sizes is None:
        return {**_STR, "description": "image size as WIDTHxHEIGHT, e.g. 1024x1024"}
    return {**_STR, "enum": list(sizes), "description": "image size"}


def _task_result(task: MidjourneyTask) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "status": task.status,
        "image_url": task.image_url,
        "prompt": task.prompt_en or task.prompt,
        "buttons": [{"custom_id": b.custom_id, "label": b.label or b.emoji} for b in task.buttons],
        "description": task.properties.get("finalPrompt") or task.description,
    }


@dataclass
class JuheTools:
    """The tools bound to clients and an output directory.

    Attributes:
        client / aclient: the sync and async clients the tools call.
        output_dir: where images and audio are written.
        image_model, edit_model, speech_model, voice, moderation_model: defaults the model
            cannot change. ``generate_image`` offers only the sizes ``image_model`` takes
            (``juhe_core.wire.media.IMAGE_SIZES``); images are asked for as bytes, which
            gpt-image models send without being asked (they reject ``response_format``).
        mj_timeout / mj_poll_interval: how long and how often Midjourney waits poll.
        on_progress: called with every fetched Midjourney task state.
    """

    client: JuheClient
    aclient: AsyncJuheClient
    output_dir: Path = field(default_factory=lambda: Path("juhe-output"))
    image_model: str = "dall-e-3"
    edit_model: str = "gpt-image-1"
    speech_model: str = "tts-1"
    voice: str = "alloy"
    moderation_model: str = "omni-moderation-latest"
    mj_timeout: float = 900.0
    mj_poll_interval: float = 2.0
    on_progress: Progress | None = None

    # --- helpers shared by sync and async ---

    def _save(self, data: bytes, stem: str, suffix: str) -> Path:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        path = self.output_dir / f"{_slug(stem)}-{time.time_ns() % 10**9}{suffix}"
        path.write_bytes(data)
        return path

    def _images(self, result: ImageResult, prompt: str) -> dict[str, Any]:
        images = []
        for image in result.images:
            entry: dict[str, Any] = {"url": image.url, "revised_prompt": image.revised_prompt}
            if image.data is not None:
                suffix = "." + image.mime_type.split("/")[-1]
                entry["path"] = str(self._save(image.data, prompt, suffix))
                entry["mime_type"] = image.mime_type
            images.append(entry)
        return {"images": images}

    def _checked_size(self, size: str) -> str:
        sizes = image_sizes(self.image_model)
        if sizes is not None and size not in sizes:
            raise UnsupportedFeatureError(
                f"size {size!r} is not one {self.image_model} takes: {', '.join(sizes)}"
            )
        return size

    @staticmethod
    def _read(path: str) -> bytes:
        file = Path(path)
        if not file.is_file():
            raise ValueError(f"image_path {path!r} is not a readable file")
        return file.read_bytes()

    # --- sync ---

    def generate_image(self, prompt: str, size: str = "1024x1024") -> dict[str, Any]:
        """Generate an image from a text prompt."""
        result = self.client.generate_images(
            prompt,
            model=self.image_model,
            size=self._checked_size(size),
            response_format="b64_json",
        )
        return self._images(result, prompt)

    def edit_image(self, prompt: str, image_path: str) -> dict[str, Any]:
        """Edit an image file following a prompt."""
        result = self.client.edit_images(
            prompt, [self._read(image_path)], model=self.edit_model, response_format="b64_json"
        )
        return self._images(result, prompt)

    def text_to_speech(self, text: str, voice: str | None = None) -> dict[str, Any]:
        """Speak a text; the audio file's path."""
        speech = self.client.speech(text, model=self.speech_model, voice=voice or self.voice)
        suffix = "." + {"audio/mpeg": "mp3", "audio/wav": "wav"}.get(speech.mime_type, "bin")
        return {"path": str(self._save(speech.audio, text, suffix)), "mime_type": speech.mime_type}

    def moderate_text(self, text: str) -> dict[str, Any]:
        """Moderation verdict of a text."""
        verdict = self.client.moderate(text, model=self.moderation_model).results[0]
        return {"flagged": verdict.flagged, "categories": verdict.flagged_categories}

    def midjourney_imagine(self, prompt: str) -> dict[str, Any]:
        """Midjourney Imagine, waited for."""
        task_id = self.client.imagine(prompt)
        return _task_result(self._wait(task_id))

    def midjourney_action(self, task_id: str, custom_id: str) -> dict[str, Any]:
        """Press a button of a finished Midjourney task, waited for."""
        return _task_result(self._wait(self.client.mj_action(task_id, custom_id)))

    def midjourney_modal(self, task_id: str, prompt: str) -> dict[str, Any]:
        """Answer a Midjourney task waiting for input (MODAL: remix, custom zoom), waited
        for."""
        return _task_result(self._wait(self.client.modal(task_id, prompt=prompt)))

    def midjourney_describe(self, image_path: str) -> dict[str, Any]:
        """Midjourney Describe (image to prompts), waited for."""
        return _task_result(self._wait(self.client.describe(self._read(image_path))))

    def midjourney_blend(self, image_paths: list[str]) -> dict[str, Any]:
        """Midjourney Blend of 2-5 images, waited for."""
        images = [self._read(p) for p in image_paths]
        return _task_result(self._wait(self.client.blend(images)))

    def _wait(self, task_id: str) -> MidjourneyTask:
        return self.client.wait_task(
            task_id,
            timeout=self.mj_timeout,
            poll_interval=self.mj_poll_interval,
            on_progress=self.on_progress,
        )

    # --- async ---

    async def agenerate_image(self, prompt: str, size: str = "1024x1024") -> dict[str, Any]:
        """Generate an image from a text prompt."""
        result = await self.aclient.generate_images(
            prompt,
            model=self.image_model,
            size=self._checked_size(size),
            response_format="b64_json",
        )
        return self._images(result, prompt)

    async def aedit_image(self, prompt: str, image_path: str) -> dict[str, Any]:
        """Edit an image file following a prompt."""
        result = await self.aclient.edit_images(
            prompt, [self._read(image_path)], model=self.edit_model, response_format="b64_json"
        )
        return self._images(result, prompt)

    async def atext_to_speech(self, text: str, voice: str | None = None) -> dict[str, Any]:
        """Speak a text; the audio file's path."""
        speech = await self.aclient.speech(text, model=self.speech_model, voice=voice or self.voice)
        suffix = "." + {"audio/mpeg": "mp3", "audio/wav": "wav"}.get(speech.mime_type, "bin")
        return {"path": str(self._save(speech.audio, text, suffix)), "mime_type": speech.mime_type}

    async def amoderate_text(self, text: str) -> dict[str, Any]:
        """Moderation verdict of a text."""
        verdict = (await self.aclient.moderate(text, model=self.moderation_model)).results[0]
        return {"flagged": verdict.flagged, "categories": verdict.flagged_categories}

    async def amidjourney_imagine(self, prompt: str) -> dict[str, Any]:
        """Midjourney Imagine, waited for."""
        return _task_result(await self._await(await self.aclient.imagine(prompt)))

    async def amidjourney_action(self, task_id: str, custom_id: str) -> dict[str, Any]:
        """Press a button of a finished Midjourney task, waited for."""
        return _task_result(await self._await(await self.aclient.mj_action(task_id, custom_id)))

    async def amidjourney_modal(self, task_id: str, prompt: str) -> dict[str, Any]:
        """Answer a Midjourney task waiting for input (MODAL), waited for."""
        task_id = await self.aclient.modal(task_id, prompt=prompt)
        return _task_result(await self._await(task_id))

    async def amidjourney_describe(self, image_path: str) -> dict[str, Any]:
        """Midjourney Describe (image to prompts), waited for."""
        task_id = await self.aclient.describe(self._read(image_path))
        return _task_result(await self._await(task_id))

    async def amidjourney_blend(self, image_paths: list[str]) -> dict[str, Any]:
        """Midjourney Blend of 2-5 images, waited for."""
        task_id = await self.aclient.blend([self._read(p) for p in image_paths])
        return _task_result(await self._await(task_id))

    async def _await(self, task_id: str) -> MidjourneyTask:
        return await self.aclient.wait_task(
            task_id,
            timeout=self.mj_timeout,
            poll_interval=self.mj_poll_interval,
            on_progress=self.on_progress,
        )

    # --- the specs ---

    def specs(self) -> list[ToolSpec]:
        """Every tool, in ``TOOL_NAMES`` order."""
        return [
            ToolSpec(
                "generate_image",
                "Generate an image from a detailed text description. Returns the saved "
                "file path and/or URL of each image.",
                _schema(
                    ["prompt"],
                    prompt={**_STR, "description": "what to draw"},
                    size=_size_schema(self.image_model),
                ),
                self.generate_image,
                self.agenerate_image,
            ),
            ToolSpec(
                "edit_image",
                "Edit or extend an existing image file (PNG, JPEG or WebP) following a "
                "text instruction. Returns the saved path of the edited image.",
                _schema(
                    ["prompt", "image_path"],
                    prompt={**_STR, "description": "the change to make"},
                    image_path={**_STR, "description": "path of the image file"},
                ),
                self.edit_image,
                self.aedit_image,
            ),
            ToolSpec(
                "text_to_speech",
                "Turn text into spoken audio. Returns the path of the audio file.",
                _schema(
                    ["text"],
                    text={**_STR, "description": "what to say"},
                    voice={**_STR, "description": "voice name, e.g. alloy"},
                ),
                self.text_to_speech,
                self.atext_to_speech,
            ),
            ToolSpec(
                "moderate_text",
                "Check a text for harmful content. Returns whether it is flagged and "
                "which categories.",
                _schema(["text"], text={**_STR, "description": "the text to check"}),
                self.moderate_text,
                self.amoderate_text,
            ),
            ToolSpec(
                "midjourney_imagine",
                "Create a 2x2 grid of images with Midjourney from a prompt (Midjourney "
                "flags such as --ar 16:9 allowed). Waits until done; returns the grid URL "
                "and the buttons (U1-U4 upscale, V1-V4 vary) for midjourney_action.",
                _schema(["prompt"], prompt={**_STR, "description": "the Midjourney prompt"}),
                self.midjourney_imagine,
                self.amidjourney_imagine,
            ),
            ToolSpec(
                "midjourney_action",
                "Press a button of a finished Midjourney task (upscale, vary, reroll, "
                "zoom). Waits until done; returns the new image URL and buttons.",
                _schema(
                    ["task_id", "custom_id"],
                    task_id={**_STR, "description": "the finished task's id"},
                    custom_id={**_STR, "description": "a button's custom_id"},
                ),
                self.midjourney_action,
                self.amidjourney_action,
            ),
            ToolSpec(
                "midjourney_modal",
                "Answer a Midjourney task that stopped for input (remix, custom zoom): "
                "midjourney_action reports it with the task id. Waits until done; returns "
                "the new image URL and buttons.",
                _schema(
                    ["task_id", "prompt"],
                    task_id={**_STR, "description": "the id of the task waiting for input"},
                    prompt={**_STR, "description": "the prompt to continue with"},
                ),
                self.midjourney_modal,
                self.amidjourney_modal,
            ),
            ToolSpec(
                "midjourney_describe",
                "Describe an image file with Midjourney: returns prompts that could have made it.",
                _schema(["image_path"], image_path={**_STR, "description": "image file"}),
                self.midjourney_describe,
                self.amidjourney_describe,
            ),
            ToolSpec(
                "midjourney_blend",
                "Blend 2 to 5 image files into one new image with Midjourney. Waits "
                "until done; returns the image URL.",
                _schema(
                    ["image_paths"],
                    image_paths={
                        "type": "array",
                        "items": _STR,
                        "minItems": 2,
                        "maxItems": 5,
                        "description": "paths of the image files",
                    },
                ),
                self.midjourney_blend,
                self.amidjourney_blend,
            ),
        ]
