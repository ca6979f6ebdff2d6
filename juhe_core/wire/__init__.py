"""Wire codecs: one pure module per format, with the same names in each.

A chat codec module provides ``chat_path``, ``encode_chat_request``,
``decode_chat_response`` and ``ChatStreamAccumulator`` (``feed(event)`` / ``finish()``).
Codecs import neither httpx nor the transport, and no framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

from juhe_core._sse import ServerSentEvent
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import ChatRequest, ChatResult, StreamDelta
from juhe_core.wire._server_tools import is_server_tool, server_tool

__all__ = [
    "API_FORMATS",
    "ChatCodec",
    "StreamAccumulator",
    "codec_for",
    "is_server_tool",
    "resolve_format",
    "server_tool",
]


class StreamAccumulator(Protocol):
    """Folds stream events into deltas and a final result."""

    def feed(self, event: ServerSentEvent) -> list[StreamDelta]:
        """Deltas carried by one event."""
        ...

    def finish(self) -> ChatResult:
        """The whole result, or StreamError if the stream did not end properly."""
        ...


class ChatCodec(Protocol):
    """What the transport needs from a chat wire format (a codec module)."""

    def chat_path(self, request: ChatRequest, *, stream: bool) -> str:
        """The request path."""
        ...

    def encode_chat_request(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        """The request body."""
        ...

    def decode_chat_response(self, body: Any, *, request_id: str | None = None) -> ChatResult:
        """The result of a non-stream call."""
        ...

    def new_accumulator(self, *, request_id: str | None = None) -> StreamAccumulator:
        """A fresh stream accumulator."""
        ...


API_FORMATS: Final = ("openai", "anthropic", "gemini", "responses")
# supported_endpoint_types from /v1/models (relay-behavior.md §8), preferred first.
_ENDPOINT_FORMATS: Final = (
    ("anthropic", "anthropic"),
    ("gemini", "gemini"),
    ("openai", "openai"),
    ("openai-response", "responses"),
)


def codec_for(api_format: str) -> ChatCodec:
    """The codec module for ``api_format``; UnsupportedFeatureError for unknown names."""
    if api_format == "openai":
        from juhe_core.wire import openai

        return openai
    if api_format == "anthropic":
        from juhe_core.wire import anthropic

        return anthropic
    if api_format == "gemini":
        from juhe_core.wire import gemini

        return gemini
    if api_format == "responses":
        from juhe_core.wire import responses

        return responses
    raise UnsupportedFeatureError(
        f"unknown api_format {api_format!r}; expected one of {', '.join(API_FORMATS)} or auto"
    )


def resolve_format(api_format: str, model: str, endpoint_types: Sequence[str] | None = None) -> str:
    """The concrete format for ``api_format``; ``"auto"`` picks the model's native one.

    With the model list's ``supported_endpoint_types`` (when known) the first native type
    served wins; otherwise the name family decides (gemini-* → gemini, claude-* →
    anthropic, else openai).
    """
    if api_format != "auto":
        codec_for(api_format)  # validates the name
        return api_format
    if endpoint_types:
        for endpoint, fmt in _ENDPOINT_FORMATS:
            if endpoint in endpoint_types:
                return fmt
    from juhe_core.catalogue import guess_format

    return guess_format(model)
