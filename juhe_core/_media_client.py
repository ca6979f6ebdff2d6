"""Media, moderation, balance and Midjourney methods of ``JuheClient`` / ``AsyncJuheClient``.

Mixins over the (call, decoder) pairs of ``juhe_core._ops``: each method only sends and
decodes; Midjourney ``wait`` shares its decisions (``task_outcome``, ``wait_delay``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from juhe_core import _ops
from juhe_core._transport import AsyncTransport, SyncTransport
from juhe_core.errors import APITimeoutError
from juhe_core.wire import media
from juhe_core.wire.midjourney import MidjourneyTask, SubmitAction, task_outcome, wait_delay

__all__ = ["AsyncMediaMethods", "MediaMethods"]

T = TypeVar("T")
Progress = Callable[[MidjourneyTask], None]
Dimensions = Literal["PORTRAIT", "SQUARE", "LANDSCAPE"]
BotType = Literal["MID_JOURNEY", "NIJI_JOURNEY"]


def _timeout(task_id: str, seconds: float) -> APITimeoutError:
    return APITimeoutError(f"midjourney task {task_id} did not finish within {seconds:g} s")


class MediaMethods:
    """Images, speech, moderation, balance and Midjourney on the sync client."""

    _transport: SyncTransport

    def _run(self, op: _ops.Op[T]) -> T:
        call, decode = op
        return decode(self._transport.send(call))

    def generate_images(
        self,
        prompt: str,
        *,
        model: str = "dall-e-3",
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        style: str | None = None,
        response_format: _ops.ResponseFormat | None = None,
    ) -> media.ImageResult:
        """Generate images (``/v1/images/generations``); gpt-image models always answer bytes
        and are sent no ``response_format`` (``url`` from them is UnsupportedFeatureError)."""
        return self._run(
            _ops.generate_images(
                prompt,
                model=model,
                n=n,
                size=size,
                quality=quality,
                style=style,
                response_format=response_format,
            )
        )

    def edit_images(
        self,
        prompt: str,
        images: Sequence[bytes],
        *,
        model: str = "gpt-image-1",
        mask: bytes | None = None,
        n: int | None = None,
        size: str | None = None,
        response_format: _ops.ResponseFormat | None = None,
    ) -> media.ImageResult:
        """Edit or extend images (multipart ``/v1/images/edits``); ``response_format`` as for
        ``generate_images``."""
        return self._run(
            _ops.edit_images(
                prompt,
                images,
                model=model,
                mask=mask,
                n=n,
                size=size,
                response_format=response_format,
            )
        )

    def speech(
        self,
        text: str,
        *,
        model: str = "tts-1",
        voice: str = "alloy",
        response_format: str | None = None,
        speed: float | None = None,
        instructions: str | None = None,
    ) -> media.Speech:
        """Text to speech (``/v1/audio/speech``); the audio file's bytes."""
        return self._run(
            _ops.speech(
                text,
                model=model,
                voice=voice,
                response_format=response_format,
                speed=speed,
                instructions=instructions,
            )
        )

    def moderate(
        self, texts: str | Sequence[str], *, model: str = "omni-moderation-latest"
    ) -> media.ModerationResult:
        """Moderation verdicts (``/v1/moderations``), one per input."""
        return self._run(_ops.moderate(texts, model=model))

    def balance(self) -> media.Balance:
        """The key's quota and usage in dollars."""
        return media.decode_balance(self._run(_ops.subscription()), self._run(_ops.usage()))

    def mj_submit(
        self, action: SubmitAction, body: dict[str, Any], *, mode: str | None = None
    ) -> str:
        """Submit any Midjourney task; returns its id."""
        return self._run(_ops.mj_submit(action, body, mode))

    def imagine(
        self,
        prompt: str,
        *,
        bot_type: BotType = "MID_JOURNEY",
        images: Sequence[bytes] = (),
        mode: str | None = None,
    ) -> str:
        """Submit an Imagine task (text, optionally with reference images); its id."""
        return self.mj_submit(
            "imagine",
            {"prompt": prompt, "botType": bot_type, "base64Array": _ops.data_urls(images)},
            mode=mode,
        )

    def mj_action(self, task_id: str, custom_id: str, *, mode: str | None = None) -> str:
        """Press a button (``customId`` from a finished task's buttons); the new task's id."""
        return self.mj_submit("action", {"taskId": task_id, "customId": custom_id}, mode=mode)

    def describe(
        self, image: bytes, *, bot_type: BotType = "MID_JOURNEY", mode: str | None = None
    ) -> str:
        """Submit a Describe task (image to prompts); its id."""
        return self.mj_submit(
            "describe", {"base64": _ops.data_urls([image])[0], "botType": bot_type}, mode=mode
        )

    def blend(
        self,
        images: Sequence[bytes],
        *,
        dimensions: Dimensions = "SQUARE",
        mode: str | None = None,
    ) -> str:
        """Submit a Blend task (2-5 images); its id."""
        return self.mj_submit(
            "blend",
            {"base64Array": _ops.data_urls(images), "dimensions": dimensions},
            mode=mode,
        )

    def modal(
        self,
        task_id: str,
        *,
        prompt: str | None = None,
        mask: bytes | None = None,
        mode: str | None = None,
    ) -> str:
        """Confirm a task waiting in MODAL (remix, inpaint); the new task's id."""
        mask_url = _ops.data_urls([mask])[0] if mask else None
        return self.mj_submit(
            "modal", {"taskId": task_id, "prompt": prompt, "maskBase64": mask_url}, mode=mode
        )

    def fetch_task(self, task_id: str) -> MidjourneyTask:
        """One task as the relay knows it now."""
        return self._run(_ops.mj_fetch(task_id))

    def list_tasks(self, task_ids: Sequence[str]) -> list[MidjourneyTask]:
        """Several tasks at once."""
        return self._run(_ops.mj_list(task_ids))

    def image_seed(self, task_id: str) -> str:
        """The seed of a finished task's image."""
        return self._run(_ops.mj_seed(task_id))

    def wait_task(
        self,
        task_id: str,
        *,
        timeout: float = 900.0,
        poll_interval: float = 2.0,
        on_progress: Progress | None = None,
    ) -> MidjourneyTask:
        """Poll until the task succeeds (returned), fails (TaskFailedError), stops in MODAL
        (TaskNeedsModalError: submit ``modal`` and wait for the id it returns) or ``timeout``
        passes (APITimeoutError, after a last poll at the deadline). ``on_progress`` sees
        every fetched state."""
        deadline, attempt = time.monotonic() + timeout, 0
        while True:
            task = self.fetch_task(task_id)
            if on_progress is not None:
                on_progress(task)
            if task_outcome(task) is not None:
                return task
            delay = wait_delay(attempt, deadline - time.monotonic(), initial=poll_interval)
            if delay is None:
                raise _timeout(task_id, timeout)
            time.sleep(delay)
            attempt += 1


class AsyncMediaMethods:
    """Images, speech, moderation, balance and Midjourney on the async client."""

    _transport: AsyncTransport

    async def _run(self, op: _ops.Op[T]) -> T:
        call, decode = op
        return decode(await self._transport.send(call))

    async def generate_images(
        self,
        prompt: str,
        *,
        model: str = "dall-e-3",
        n: int | None = None,
        size: str | None = None,
        quality: str | None = None,
        style: str | None = None,
        response_format: _ops.ResponseFormat | None = None,
    ) -> media.ImageResult:
        """Generate images (``/v1/images/generations``); gpt-image models always answer bytes
        and are sent no ``response_format`` (``url`` from them is UnsupportedFeatureError)."""
        return await self._run(
            _ops.generate_images(
                prompt,
                model=model,
                n=n,
                size=size,
                quality=quality,
                style=style,
                response_format=response_format,
            )
        )

    async def edit_images(
        self,
        prompt: str,
        images: Sequence[bytes],
        *,
        model: str = "gpt-image-1",
        mask: bytes | None = None,
        n: int | None = None,
        size: str | None = None,
        response_format: _ops.ResponseFormat | None = None,
    ) -> media.ImageResult:
        """Edit or extend images (multipart ``/v1/images/edits``); ``response_format`` as for
        ``generate_images``."""
        return await self._run(
            _ops.edit_images(
                prompt,
                images,
                model=model,
                mask=mask,
                n=n,
                size=size,
                response_format=response_format,
            )
        )

    async def speech(
        self,
        text: str,
        *,
        model: str = "tts-1",
        voice: str = "alloy",
        response_format: str | None = None,
        speed: float | None = None,
        instructions: str | None = None,
    ) -> media.Speech:
        """Text to speech (``/v1/audio/speech``); the audio file's bytes."""
        return await self._run(
            _ops.speech(
                text,
                model=model,
                voice=voice,
                response_format=response_format,
                speed=speed,
                instructions=instructions,
            )
        )

    async def moderate(
        self, texts: str | Sequence[str], *, model: str = "omni-moderation-latest"
    ) -> media.ModerationResult:
        """Moderation verdicts (``/v1/moderations``), one per input."""
        return await self._run(_ops.moderate(texts, model=model))

    async def balance(self) -> media.Balance:
        """The key's quota and usage in dollars."""
        sub, used = await asyncio.gather(self._run(_ops.subscription()), self._run(_ops.usage()))
        return media.decode_balance(sub, used)

    async def mj_submit(
        self, action: SubmitAction, body: dict[str, Any], *, mode: str | None = None
    ) -> str:
        """Submit any Midjourney task; returns its id."""
        return await self._run(_ops.mj_submit(action, body, mode))

    async def imagine(
        self,
        prompt: str,
        *,
        bot_type: BotType = "MID_JOURNEY",
        images: Sequence[bytes] = (),
        mode: str | None = None,
    ) -> str:
        """Submit an Imagine task (text, optionally with reference images); its id."""
        return await self.mj_submit(
            "imagine",
            {"prompt": prompt, "botType": bot_type, "base64Array": _ops.data_urls(images)},
            mode=mode,
        )

    async def mj_action(self, task_id: str, custom_id: str, *, mode: str | None = None) -> str:
        """Press a button (``customId`` from a finished task's buttons); the new task's id."""
        return await self.mj_submit("action", {"taskId": task_id, "customId": custom_id}, mode=mode)

    async def describe(
        self, image: bytes, *, bot_type: BotType = "MID_JOURNEY", mode: str | None = None
    ) -> str:
        """Submit a Describe task (image to prompts); its id."""
        return await self.mj_submit(
            "describe", {"base64": _ops.data_urls([image])[0], "botType": bot_type}, mode=mode
        )

    async def blend(
        self,
        images: Sequence[bytes],
        *,
        dimensions: Dimensions = "SQUARE",
        mode: str | None = None,
    ) -> str:
        """Submit a Blend task (2-5 images); its id."""
        return await self.mj_submit(
            "blend",
            {"base64Array": _ops.data_urls(images), "dimensions": dimensions},
            mode=mode,
        )

    async def modal(
        self,
        task_id: str,
        *,
        prompt: str | None = None,
        mask: bytes | None = None,
        mode: str | None = None,
    ) -> str:
        """Confirm a task waiting in MODAL (remix, inpaint); the new task's id."""
        mask_url = _ops.data_urls([mask])[0] if mask else None
        return await self.mj_submit(
            "modal", {"taskId": task_id, "prompt": prompt, "maskBase64": mask_url}, mode=mode
        )

    async def fetch_task(self, task_id: str) -> MidjourneyTask:
        """One task as the relay knows it now."""
        return await self._run(_ops.mj_fetch(task_id))

    async def list_tasks(self, task_ids: Sequence[str]) -> list[MidjourneyTask]:
        """Several tasks at once."""
        return await self._run(_ops.mj_list(task_ids))

    async def image_seed(self, task_id: str) -> str:
        """The seed of a finished task's image."""
        return await self._run(_ops.mj_seed(task_id))

    async def wait_task(
        self,
        task_id: str,
        *,
        timeout: float = 900.0,
        poll_interval: float = 2.0,
        on_progress: Progress | None = None,
    ) -> MidjourneyTask:
        """Poll until the task succeeds (returned), fails (TaskFailedError), stops in MODAL
        (TaskNeedsModalError: submit ``modal`` and wait for the id it returns) or ``timeout``
        passes (APITimeoutError, after a last poll at the deadline). ``on_progress`` sees
        every fetched state."""
        deadline, attempt = time.monotonic() + timeout, 0
        while True:
            task = await self.fetch_task(task_id)
            if on_progress is not None:
                on_progress(task)
            if task_outcome(task) is not None:
                return task
            delay = wait_delay(attempt, deadline - time.monotonic(), initial=poll_interval)
            if delay is None:
                raise _timeout(task_id, timeout)
            await asyncio.sleep(delay)
            attempt += 1
