"""Checks of a neutral request before anything is sent: bad input fails with its name.

Shared by every framework class through the client, so a bad tool schema, a negative
``max_tokens`` or bytes that are not an image are refused the same way everywhere, with
an ``UnsupportedFeatureError`` naming the parameter, instead of an upstream 400 (or worse,
a silent success).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import ChatRequest, ImagePart, ToolResultPart

__all__ = ["check_request", "check_schema", "image_kind"]

_TYPES: Final = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})
_MAX_DEPTH: Final = 64  # far beyond any real tool; keeps a hostile schema off the C stack
# Formats every vendor accepts (OpenAI, Anthropic: png/jpeg/gif/webp; Gemini adds heic/heif).
_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def image_kind(data: bytes) -> str | None:
    """The image format of ``data`` from its signature, or None when it is not one."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypheif"):
        return "heic"
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_type(kind: Any, where: str) -> None:
    kinds = kind if isinstance(kind, list) else [kind]
    if not kinds or not all(isinstance(k, str) for k in kinds):
        raise UnsupportedFeatureError(
            f"{where}.type must be a JSON schema type name or a non-empty list of them, "
            f"got {_show(kind)}"
        )
    for k in kinds:
        if k not in _TYPES:
            raise UnsupportedFeatureError(f"{where} has an unknown JSON schema type {k!r}")


def _check_sub(value: Any, where: str, depth: int) -> None:
    """A place that takes one schema: an object, or ``true``/``false`` (any/no value)."""
    if not isinstance(value, bool):
        check_schema(value, where, _depth=depth)


def check_schema(schema: Any, where: str, *, _depth: int = 0) -> None:
    """UnsupportedFeatureError when ``schema`` is not a plausible JSON schema.

    ``where`` names the tool (e.g. ``"tool 'f' parameters"``); the error adds the path
    of the bad keyword to it (``…properties.city.items``). Only the keywords that shape
    a schema are checked (``type``, ``properties``, ``required``, ``items``,
    ``additionalProperties``, ``anyOf``/``oneOf``/``allOf``, ``enum``), but any value at
    all raises this error or passes: never a TypeError.
    """
    if _depth > _MAX_DEPTH:
        raise UnsupportedFeatureError(f"{where} is nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(schema, Mapping):
        raise UnsupportedFeatureError(
            f"{where} must be a JSON schema object, got {type(schema).__name__}"
        )
    depth = _depth + 1
    if "type" in schema:
        _check_type(schema["type"], where)
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise UnsupportedFeatureError(f"{where}.properties must be an object")
    for name, sub in properties.items():
        check_schema(sub, f"{where}.properties.{name}", _depth=depth)
    required = schema.get("required", [])
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise UnsupportedFeatureError(
            f"{where}.required must be a list of property names, got {_show(required)}"
        )
    items = schema.get("items", True)
    if isinstance(items, list):  # the older tuple form: one schema per position
        for i, sub in enumerate(items):
            _check_sub(sub, f"{where}.items[{i}]", depth)
    elif isinstance(items, (Mapping, bool)):
        _check_sub(items, f"{where}.items", depth)
    else:
        raise UnsupportedFeatureError(f"{where}.items must be a schema, got {_show(items)}")
    extra = schema.get("additionalProperties", True)
    if not isinstance(extra, (Mapping, bool)):
        raise UnsupportedFeatureError(
            f"{where}.additionalProperties must be a schema or a boolean, got {_show(extra)}"
        )
    _check_sub(extra, f"{where}.additionalProperties", depth)
    for key in ("anyOf", "oneOf", "allOf"):
        subs = schema.get(key, [])
        if not isinstance(subs, list):
            raise UnsupportedFeatureError(
                f"{where}.{key} must be a list of schemas, got {_show(subs)}"
            )
        for i, sub in enumerate(subs):
            check_schema(sub, f"{where}.{key}[{i}]", _depth=depth)
    if not isinstance(schema.get("enum", []), list):
        raise UnsupportedFeatureError(f"{where}.enum must be a list of values")


def _check_images(request: ChatRequest) -> None:
    for m, message in enumerate(request.messages):
        parts = [
            p
            for part in message.parts
            for p in (
                part.content
                if isinstance(part, ToolResultPart) and not isinstance(part.content, str)
                else (part,)
            )
        ]
        for part in parts:
            if isinstance(part, ImagePart) and part.data is not None and not image_kind(part.data):
                raise UnsupportedFeatureError(
                    f"messages[{m}] holds image bytes that are not a PNG, JPEG, GIF, WebP or "
                    "HEIC image"
                )


def check_request(request: ChatRequest) -> None:
    """Refuse a request whose parameters are invalid, naming the parameter."""
    if not request.model.strip():
        raise UnsupportedFeatureError("model must be a non-empty model name")
    if request.max_tokens is not None and request.max_tokens < 1:
        raise UnsupportedFeatureError(f"max_tokens must be >= 1, got {request.max_tokens}")
    if request.temperature is not None and not 0 <= request.temperature <= 2:
        raise UnsupportedFeatureError(
            f"temperature must be within [0, 2], got {request.temperature}"
        )
    if request.top_p is not None and not 0 <= request.top_p <= 1:
        raise UnsupportedFeatureError(f"top_p must be within [0, 1], got {request.top_p}")
    for tool in request.tools:
        if not tool.name:
            raise UnsupportedFeatureError("a tool needs a name")
        check_schema(tool.parameters, f"tool {tool.name!r} parameters")
        if tool.parameters.get("type", "object") != "object":
            raise UnsupportedFeatureError(f"tool {tool.name!r} parameters must be an object schema")
    _check_images(request)
