"""Folding juhe_core stream deltas into LlamaIndex's cumulative stream chunks.

One ``StreamFold`` serves the sync and the async loop alike: each loop only feeds it the
deltas its stream yields, passes on what it returns, and at the end passes on
``fold.finish(stream.result)``, so the streaming logic is written once.

The last chunk is built from the stream's whole result rather than from the deltas:
the result keeps what deltas cannot carry (a Gemini function call's thought signature,
text-part data, the order of interleaved parts), so a streamed answer put back into
history is the same message a non-streamed one would be.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatResponse
from typing_extensions import assert_never

from juhe_core.messages import (
    ChatResult,
    FinishDelta,
    MetadataDelta,
    Part,
    PartDelta,
    ReasoningDelta,
    ReasoningPart,
    StreamDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    Usage,
    UsageDelta,
)
from llama_index_juhe._convert import map_parts, response_kwargs, usage_counts

__all__ = ["StreamFold"]


class _Call:
    """A tool call being streamed: fragments with the same index belong together."""

    __slots__ = ("arguments", "id", "name")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.arguments = ""


class StreamFold:
    """Turns stream deltas into the ``ChatResponse`` chunks LlamaIndex streams carry.

    Every chunk holds the whole message so far (``message``: thinking, text and tool
    calls with the arguments received so far), the new text (``delta``), and in
    ``additional_kwargs`` the new reasoning (``thinking_delta``) and the token counts once
    the server sent them. ``raw`` holds the response id, model, finish reason and a
    ``usage`` mapping (None until known), so the last chunk tells ``TokenCountingHandler``
    the real counts. ``fallbacks`` (models that failed before the stream started) are in
    every chunk's ``additional_kwargs``, as in a whole answer's.
    """

    def __init__(self, *, request_id: str | None = None, fallbacks: Sequence[str] = ()) -> None:
        self._request_id = request_id
        self._fallbacks = tuple(fallbacks)
        # Running strings, not lists joined on every chunk: parts() is called per chunk,
        # and a join per chunk made long streams quadratic (half the time at 20,000).
        self._text = ""
        self._reasoning = ""
        self._signature: str | None = None
        self._calls: dict[int, _Call] = {}
        self._usage: Usage | None = None
        self._meta = MetadataDelta()
        self._finish: FinishDelta | None = None
        self._whole: list[Part] = []  # parts that arrived whole (images, provider blocks)

    def feed(self, delta: StreamDelta) -> ChatResponse | None:
        """Fold in one delta; the chunk to yield, or None when there is no news for users."""
        match delta:
            case TextDelta(text=text):
                self._text += text
                return self._chunk(delta=text)
            case ReasoningDelta(text=text, signature=signature):
                self._reasoning += text
                self._signature = signature or self._signature
                return self._chunk(thinking_delta=text)
            case ToolCallDelta(index=index, id=call_id, name=name, arguments=arguments):
                call = self._calls.setdefault(index, _Call())
                call.id = call.id or call_id or ""
                call.name = call.name or name or ""
                call.arguments += arguments
                return self._chunk()
            case UsageDelta(usage=usage):
                self._usage = usage
                return self._chunk()
            case FinishDelta():
                self._finish = delta
                return self._chunk()
            case MetadataDelta():
                self._meta = delta
                return None
            case PartDelta(part=part):
                self._whole.append(part)
                return self._chunk()
            case _:
                assert_never(delta)

    def parts(self) -> list[Part]:
        """The message so far: reasoning, text, then tool calls in index order."""
        parts: list[Part] = []
        if self._reasoning or self._signature:
            parts.append(ReasoningPart(self._reasoning, signature=self._signature))
        if self._text:
            parts.append(TextPart(self._text))
        for index in sorted(self._calls):
            call = self._calls[index]
            parts.append(ToolCallPart(call.id, call.name, call.arguments))
        return parts + self._whole

    def finish(self, result: ChatResult | None) -> ChatResponse:
        """The last chunk: the whole result as the message, with no new text."""
        if result is None:  # the stream was closed early; what arrived is all there is
            return self._chunk()
        self._usage = result.usage or self._usage
        return self._chunk(parts=result.parts, refusal=result.refusal)

    def _raw(self) -> dict[str, Any]:
        return {
            "id": self._meta.id,
            "model": self._meta.model,
            "system_fingerprint": self._meta.system_fingerprint,
            "request_id": self._request_id,
            "finish_reason": self._finish.raw_reason if self._finish else None,
            "usage": usage_counts(self._usage) or None,
        }

    def _chunk(
        self,
        *,
        delta: str = "",
        thinking_delta: str | None = None,
        parts: Sequence[Part] | None = None,
        refusal: str | None = None,
    ) -> ChatResponse:
        kwargs = response_kwargs(self._usage, self._fallbacks)
        if thinking_delta:
            kwargs["thinking_delta"] = thinking_delta
        return ChatResponse(
            message=map_parts(self.parts() if parts is None else parts, refusal=refusal),
            delta=delta,
            raw=self._raw(),
            additional_kwargs=kwargs,
        )
