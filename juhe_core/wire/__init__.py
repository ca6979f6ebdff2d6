"""Wire codecs: one pure module per format, with the same names in each.

A chat codec module provides ``chat_path``, ``encode_chat_request``,
``decode_chat_response`` and ``ChatStreamAccumulator`` (``feed(event)`` / ``finish()``).
Codecs import neither httpx nor the transport, and no framework.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from juhe_core._sse import ServerSentEvent
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import ChatRequest, ChatResult, StreamDelta

__all__ = ["API_FORMATS", "ChatCodec", "StreamAccumulator", "codec_for"]


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


API_FORMATS: Final = ("openai", "anthropic", "gemini")


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
    raise UnsupportedFeatureError(
        f"unknown api_format {api_format!r}; expected one of {', '.join(API_FORMATS)}"
    )
