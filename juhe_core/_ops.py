"""Media, moderation, balance and Midjourney operations as (call, decoder) pairs.

Each function is pure: it returns the ``Call`` to send and the function that turns the
response into a typed result. The sync and async clients only send and decode, so the
two stay one line per method and cannot drift apart.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeAlias, TypeVar

import httpx

from juhe_core._transport import Call, decode_json
from juhe_core.errors import APIError
from juhe_core.wire import media, midjourney
from juhe_core.wire.midjourney import MidjourneyTask, SubmitAction

T = TypeVar("T")
Op: TypeAlias = tuple[Call, Callable[[httpx.Response], T]]
ResponseFormat = Literal["url", "b64_json"]


def _json(decode: Callable[[Any], T]) -> Callable[[httpx.Response], T]:
    return lambda response: decode(decode_json(response))


def generate_images(
    prompt: str,
    *,
    model: str,
    n: int | None,
    size: str | None,
    quality: str | None,
    style: str | None,
    response_format: ResponseFormat | None,
) -> Op[media.ImageResult]:
    body = media.encode_image_request(
        prompt,
        model=model,
        n=n,
        size=size,
        quality=quality,
        style=style,
        response_format=response_format,
    )
    return Call("POST", media.IMAGE_GENERATIONS_PATH, body=body), _json(media.decode_image_response)


def edit_images(
    prompt: str,
    images: Sequence[bytes],
    *,
    model: str,
    mask: bytes | None,
    n: int | None,
    size: str | None,
    response_format: ResponseFormat | None,
) -> Op[media.ImageResult]:
    form, files = media.encode_image_edit(
        prompt, images, model=model, mask=mask, n=n, size=size, response_format=response_format
    )
    return (
        Call("POST", media.IMAGE_EDITS_PATH, form=form, files=files),
        _json(media.decode_image_response),
    )


def speech(
    text: str,
    *,
    model: str,
    voice: str,
    response_format: str | None,
    speed: float | None,
    instructions: str | None,
) -> Op[media.Speech]:
    body = media.encode_speech_request(
        text,
        model=model,
        voice=voice,
        response_format=response_format,
        speed=speed,
        instructions=instructions,
    )

    def decode(response: httpx.Response) -> media.Speech:
        ctype = response.headers.get("content-type", "")
        if "json" in ctype or not response.content:
            decode_json(response)  # raises the error the body carries
            raise APIError(f"expected audio from {media.SPEECH_PATH}, got {ctype or 'nothing'}")
        mime = ctype.split(";")[0] if ctype.startswith("audio/") else None
        return media.Speech(
            audio=response.content, mime_type=mime or media.speech_mime_type(response_format)
        )

    return Call("POST", media.SPEECH_PATH, body=body, headers={"Accept": "*/*"}), decode


def moderate(texts: str | Sequence[str], *, model: str) -> Op[media.ModerationResult]:
    body = media.encode_moderation_request(texts, model=model)
    return Call("POST", media.MODERATIONS_PATH, body=body), _json(media.decode_moderation_response)


def subscription() -> Op[Any]:
    return Call("GET", media.SUBSCRIPTION_PATH), decode_json


def usage() -> Op[Any]:
    return Call("GET", media.USAGE_PATH), decode_json


def mj_submit(action: SubmitAction, body: dict[str, Any], mode: str | None) -> Op[str]:
    clean = {k: v for k, v in body.items() if v is not None}
    return Call("POST", midjourney.submit_path(action, mode), body=clean), _json(
        midjourney.decode_submit
    )


def mj_fetch(task_id: str) -> Op[MidjourneyTask]:
    return Call("GET", midjourney.fetch_path(task_id)), _json(midjourney.decode_task)


def mj_list(task_ids: Sequence[str]) -> Op[list[MidjourneyTask]]:
    return (
        Call("POST", midjourney.LIST_PATH, body=midjourney.ids_body(task_ids)),
        _json(midjourney.decode_task_list),
    )


def mj_seed(task_id: str) -> Op[str]:
    return Call("GET", midjourney.seed_path(task_id)), _json(midjourney.decode_seed)


def data_urls(images: Sequence[bytes]) -> list[str]:
    """Images as ``data:`` URLs, the form Midjourney's base64 fields take."""
    return [f"data:{media._sniff(b)};base64,{base64.b64encode(b).decode()}" for b in images]
