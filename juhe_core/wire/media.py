"""Images, speech, moderation and balance endpoints, sans-IO.

- ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart):
  DALL-E 3 / gpt-image-1 (juhe-api.md §3.5, §3.6); answers ``{created, data: [{url |
  b64_json, revised_prompt}]}``. The relay passes both through to OpenAI
  (relay-behavior.md §7), so OpenAI's Images API rules apply: gpt-image models always
  answer ``b64_json`` and reject a ``response_format`` field with 400 "Unknown parameter",
  and each model family takes its own sizes (``IMAGE_SIZES``).
- ``POST /v1/audio/speech``: the body is the audio itself, not JSON (§3.7).
- ``POST /v1/moderations``: always send ``model`` (relay-behavior.md §7: a missing model
  is routed as ``text-moderation-stable``); the relay may add a ``usage`` key.
- ``GET /v1/dashboard/billing/subscription`` and ``/usage``: ``hard_limit_usd`` is dollars,
  ``total_usage`` is hundredths of a dollar (§7.2).

Results are pydantic models: these calls are not on a hot path, and users get
validation, ``model_dump`` and a clear schema.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from juhe_core.errors import APIError, UnsupportedFeatureError

__all__ = [
    "IMAGE_EDITS_PATH",
    "IMAGE_GENERATIONS_PATH",
    "IMAGE_SIZES",
    "MODERATIONS_PATH",
    "SPEECH_PATH",
    "SUBSCRIPTION_PATH",
    "USAGE_PATH",
    "Balance",
    "GeneratedImage",
    "ImageResult",
    "ModerationCategory",
    "ModerationResult",
    "Speech",
    "decode_balance",
    "decode_image_response",
    "decode_moderation_response",
    "encode_image_edit",
    "encode_image_request",
    "encode_moderation_request",
    "encode_speech_request",
    "image_sizes",
    "is_gpt_image",
    "speech_mime_type",
]

IMAGE_GENERATIONS_PATH: Final = "/v1/images/generations"
IMAGE_EDITS_PATH: Final = "/v1/images/edits"
SPEECH_PATH: Final = "/v1/audio/speech"
MODERATIONS_PATH: Final = "/v1/moderations"
SUBSCRIPTION_PATH: Final = "/v1/dashboard/billing/subscription"
USAGE_PATH: Final = "/v1/dashboard/billing/usage"
SPEECH_FORMATS: Final[Mapping[str, str]] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
IMAGE_SIZES: Final[Mapping[str, tuple[str, ...]]] = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
"""Model family → the ``size`` values OpenAI's Images API takes for it (API reference,
``images.create`` / ``images.edit``). gpt-image-1, -1.5 and -1-mini share a family; later
gpt-image models take free ``WIDTHxHEIGHT`` sizes and have no entry."""
_LOOSE = ConfigDict(extra="allow", frozen=True)


class GeneratedImage(BaseModel):
    """One generated image: a URL, or the bytes (``b64_json`` decoded)."""

    model_config = _LOOSE
    url: str | None = None
    """Where to download it (URLs usually expire within an hour)."""
    data: bytes | None = None
    """The image bytes, when the server sent them inline."""
    revised_prompt: str | None = None
    """The prompt as the model rewrote it (DALL-E 3)."""
    mime_type: str = "image/png"
    """MIME type of ``data``."""


class ImageResult(BaseModel):
    """The answer of an image generation or edit."""

    model_config = _LOOSE
    created: int | None = None
    """Unix time of creation."""
    images: list[GeneratedImage]
    """The images, in order."""


class Speech(BaseModel):
    """Synthesised speech."""

    model_config = _LOOSE
    audio: bytes
    """The audio file's bytes."""
    mime_type: str
    """Its MIME type."""


class ModerationCategory(BaseModel):
    """Moderation verdict for one input."""

    model_config = _LOOSE
    flagged: bool
    """Whether any category was flagged."""
    categories: dict[str, bool] = Field(default_factory=dict)
    """Category → flagged."""
    category_scores: dict[str, float] = Field(default_factory=dict)
    """Category → score in [0, 1]."""

    @property
    def flagged_categories(self) -> list[str]:
        """The names of the flagged categories."""
        return [name for name, hit in self.categories.items() if hit]


class ModerationResult(BaseModel):
    """Moderation verdicts, one per input."""

    model_config = _LOOSE
    id: str | None = None
    """The response id."""
    model: str | None = None
    """The model that judged."""
    results: list[ModerationCategory]
    """One verdict per input, in order."""


class Balance(BaseModel):
    """The key's balance in US dollars."""

    model_config = _LOOSE
    limit_usd: float
    """The key's total quota (``hard_limit_usd``)."""
    used_usd: float
    """What has been used (``total_usage`` / 100)."""

    @property
    def remaining_usd(self) -> float:
        """What is left."""
        return round(self.limit_usd - self.used_usd, 6)


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def is_gpt_image(model: str) -> bool:
    """Whether ``model`` is a gpt-image model: it answers ``b64_json`` only and rejects
    ``response_format`` (OpenAI Images API reference, ``response_format``: not supported
    for gpt-image-1, which always returns base64-encoded images; later ones alike)."""
    return model.startswith("gpt-image")


def image_sizes(model: str) -> tuple[str, ...] | None:
    """The sizes ``model`` takes (``IMAGE_SIZES``), or None when we do not know them."""
    if model.startswith("gpt-image-1"):
        return IMAGE_SIZES["gpt-image-1"]
    if model in ("dall-e-2", "dall-e"):  # the relay checks "dall-e" as dall-e-2 (§7)
        return IMAGE_SIZES["dall-e-2"]
    return IMAGE_SIZES.get(model)


def _response_format(
    model: str, response_format: Literal["url", "b64_json"] | None
) -> Literal["url", "b64_json"] | None:
    """The ``response_format`` to send: none for gpt-image models, which reject the field.

    Asking them for ``b64_json`` asks for what they always send, so the field is left out
    and nothing changes; ``url`` they cannot do, which is an error rather than bytes the
    caller did not ask for.
    """
    if response_format is None or not is_gpt_image(model):
        return response_format
    if response_format == "url":
        raise UnsupportedFeatureError(
            f"{model} answers with image bytes only (b64_json); response_format='url' "
            "is for dall-e models"
        )
    return None


def encode_image_request(
    prompt: str,
    *,
    model: str,
    n: int | None = None,
    size: str | None = None,
    quality: str | None = None,
    style: str | None = None,
    response_format: Literal["url", "b64_json"] | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of an image generation (no ``response_format`` for gpt-image models)."""
    if not prompt.strip():
        raise UnsupportedFeatureError("an image prompt must not be empty")
    body = _drop_none(
        {
            "model": model,
            "prompt": prompt,
            "n": n,
            "size": size,
            "quality": quality,
            "style": style,
            "response_format": _response_format(model, response_format),
        }
    )
    return {**body, **(extra_body or {})}


def _image_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    raise UnsupportedFeatureError(
        "image edits take PNG, JPEG or WebP images; these bytes are none of them"
    )


def encode_image_edit(
    prompt: str,
    images: Sequence[bytes],
    *,
    model: str,
    mask: bytes | None = None,
    n: int | None = None,
    size: str | None = None,
    quality: str | None = None,
    response_format: Literal["url", "b64_json"] | None = None,
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
    """Multipart form fields and files of an image edit (no ``response_format`` for
    gpt-image models)."""
    if not images:
        raise UnsupportedFeatureError("an image edit needs at least one image")
    form = {
        k: str(v)
        for k, v in _drop_none(
            {
                "model": model,
                "prompt": prompt,
                "n": n,
                "size": size,
                "quality": quality,
                "response_format": _response_format(model, response_format),
            }
        ).items()
    }
    field = "image" if len(images) == 1 else "image[]"
    files = [
        (field, (f"image{i}.{_image_mime(b).split('/')[1]}", b, _image_mime(b)))
        for i, b in enumerate(images)
    ]
    if mask is not None:
        files.append(("mask", ("mask.png", mask, _image_mime(mask))))
    return form, files


def decode_image_response(body: Any) -> ImageResult:
    """Images from an images response; APIError if malformed."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list):
        raise APIError("malformed images response: no data list")
    images = []
    for item in data:
        if not isinstance(item, Mapping) or not (item.get("url") or item.get("b64_json")):
            raise APIError(f"malformed images response item: {item!r:.200}")
        raw = base64.b64decode(item["b64_json"]) if item.get("b64_json") else None
        images.append(
            GeneratedImage(
                url=item.get("url") or None,
                data=raw,
                revised_prompt=item.get("revised_prompt"),
                mime_type=_sniff(raw) if raw else "image/png",
            )
        )
    created = body.get("created")
    return ImageResult(created=created if isinstance(created, int) else None, images=images)


def _sniff(data: bytes) -> str:
    try:
        return _image_mime(data)
    except UnsupportedFeatureError:
        return "application/octet-stream"


def speech_mime_type(response_format: str | None) -> str:
    """The MIME type of speech in ``response_format`` (mp3 by default)."""
    return SPEECH_FORMATS.get(response_format or "mp3", "application/octet-stream")


def encode_speech_request(
    text: str,
    *,
    model: str,
    voice: str,
    response_format: str | None = None,
    speed: float | None = None,
    instructions: str | None = None,
) -> dict[str, Any]:
    """The JSON body of a text-to-speech call."""
    if not text.strip():
        raise UnsupportedFeatureError("text to speak must not be empty")
    if response_format is not None and response_format not in SPEECH_FORMATS:
        raise UnsupportedFeatureError(
            f"speech response_format must be one of {sorted(SPEECH_FORMATS)}, "
            f"got {response_format!r}"
        )
    return _drop_none(
        {
            "model": model,
            "input": text,
            "voice": voice,
            "response_format": response_format,
            "speed": speed,
            "instructions": instructions,
        }
    )


def encode_moderation_request(texts: str | Sequence[str], *, model: str) -> dict[str, Any]:
    """The JSON body of a moderation call (``model`` always sent, see module doc)."""
    return {"model": model, "input": texts if isinstance(texts, str) else list(texts)}


def decode_moderation_response(body: Any) -> ModerationResult:
    """Verdicts from a moderation response; APIError if malformed."""
    try:
        return ModerationResult.model_validate(body)
    except ValidationError as exc:
        raise APIError(f"malformed moderation response: {exc.errors()[0]['msg']}") from None


def decode_balance(subscription: Any, usage: Any) -> Balance:
    """The balance from the subscription and usage bodies (usage is in cents)."""
    limit = subscription.get("hard_limit_usd") if isinstance(subscription, Mapping) else None
    used = usage.get("total_usage", 0) if isinstance(usage, Mapping) else None
    if not isinstance(limit, (int, float)) or not isinstance(used, (int, float)):
        raise APIError("malformed billing response: no hard_limit_usd / total_usage")
    return Balance(limit_usd=float(limit), used_usd=float(used) / 100.0)
