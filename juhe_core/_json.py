"""JSON helpers shared by codecs: fast parsing, partial parsing, tool arguments.

We use ``pydantic_core.from_json`` (jiter, already a dependency through pydantic) rather
than writing a parser: it is faster than ``json.loads`` on stream chunks and parses the
incomplete JSON of a tool call whose arguments are still streaming (``allow_partial``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from pydantic_core import from_json

from juhe_core.errors import UnsupportedFeatureError

__all__ = [
    "data_url",
    "dumps",
    "loads",
    "parse_partial_json",
    "parse_tool_arguments",
]


def loads(data: str | bytes) -> Any:
    """Parse JSON; raises ValueError on malformed input."""
    return from_json(data)


def dumps(value: Any) -> bytes:
    """Serialise a request body compactly; NaN and infinities are refused (not JSON)."""
    try:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
    except (TypeError, ValueError) as exc:
        raise UnsupportedFeatureError(f"request body is not JSON-serialisable: {exc}") from exc


def parse_partial_json(text: str) -> Any:
    """Best-effort value of an incomplete JSON text (None when nothing parses yet)."""
    if not text:
        return None
    try:
        return from_json(text, allow_partial=True)
    except ValueError:
        return None


def parse_tool_arguments(text: str) -> dict[str, Any]:
    """Parse a tool call's complete arguments text into a dict.

    An empty text means no arguments. Raises UnsupportedFeatureError (with the reason)
    when the text is not JSON or not an object, so callers can report an invalid tool
    call (LangChain's ``invalid_tool_calls``) or refuse to send it on.
    """
    if not text.strip():
        return {}
    try:
        value = from_json(text)
    except ValueError as exc:
        raise UnsupportedFeatureError(f"tool arguments are not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise UnsupportedFeatureError(
            f"tool arguments must be a JSON object, got {type(value).__name__}"
        )
    return value


def data_url(data: bytes, mime_type: str) -> str:
    """A ``data:`` URL carrying ``data`` in base64."""
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"
