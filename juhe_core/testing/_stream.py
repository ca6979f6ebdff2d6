"""OpenAI chat streams as SSE frames, including the relay's endings and scripted faults.

A renderer describes one answer as a ``ChunkPlan``; ``frames`` turns it into the byte frames
the relay would write (relay-behavior.md §4, §7, §8, §10), breaking it as a ``StreamFault``
asks. A ``Stall`` in the frame list tells the writer to go quiet without closing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._relay import dumps
from ._script import StreamFault

__all__ = ["DONE", "PING", "ChunkPlan", "Frame", "Stall", "data_frame", "frames", "pinging"]

DONE = b"data: [DONE]\n\n"
"""The relay's last frame on every OpenAI chat stream (§7)."""
PING = b": PING\n\n"
"""The relay's optional keep-alive comment (§4)."""
_MALFORMED = b"data: {not json\n\n"


@dataclass(frozen=True)
class Stall:
    """Stop sending for ``seconds`` without closing the connection."""

    seconds: float
    """How long to stay quiet."""


Frame = bytes | Stall
"""One write of a stream, or a pause."""


@dataclass(frozen=True)
class ChunkPlan:
    """One streamed answer before it is framed."""

    chunks: Sequence[Mapping[str, Any]]
    """Chunks from the role chunk to the finish chunk, in order."""
    finish_index: int | None
    """Index in ``chunks`` of the chunk that carries ``finish_reason``."""
    usage: Mapping[str, Any] | None
    """Usage chunk as the upstream sends it (``choices: []``)."""
    relay_usage: Mapping[str, Any] | None
    """Usage chunk the relay makes up itself when the upstream sent none (§4, §8)."""
    error_event: Mapping[str, Any]
    """Payload of an upstream ``data: {"error": …}`` event (§10)."""
    bare_error: bytes
    """A JSON error object the relay may append with no ``data:`` prefix (§10)."""


def data_frame(payload: Mapping[str, Any]) -> bytes:
    """``data: <json>`` followed by a blank line, as the relay re-emits each chunk (§4)."""
    return b"data: " + dumps(payload) + b"\n\n"


def _finish_only(chunk: Mapping[str, Any]) -> bool:
    """Whether a chunk carries nothing but ``finish_reason`` (and usage), see #7489."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"):
            return False
    return True


def frames(plan: ChunkPlan, fault: StreamFault | None, include_usage: bool) -> list[Frame]:
    """The frames of ``plan``; ``include_usage`` is false only when the client said so (§8)."""
    chunks = list(plan.chunks)
    finish = plan.finish_index
    if finish is not None and not include_usage and _finish_only(chunks[finish]):
        # Issue #7489: with include_usage:false the last finish-only chunk is dropped.
        del chunks[finish]
        finish = None
    if fault is not None and fault.kind in ("no_finish", "cut_done") and finish is not None:
        del chunks[finish]
    data: list[Frame] = [data_frame(c) for c in chunks]
    usage: list[Frame] = [data_frame(plan.usage)] if include_usage and plan.usage else []
    relay_usage: list[Frame] = (
        [data_frame(plan.relay_usage)] if include_usage and plan.relay_usage else []
    )
    if fault is None or fault.kind == "no_finish":
        return [*data, *usage, DONE]
    n = fault.after
    kind = fault.kind
    if kind == "cut":
        return data[:n]
    if kind == "cut_done":
        return [*data[:n], *relay_usage, DONE]
    if kind == "malformed":
        return [*data[:n], _MALFORMED, *data[n:], *usage, DONE]
    if kind == "error_mid_stream":
        return [*data[:n], data_frame(plan.error_event), *relay_usage, DONE]
    if kind == "bare_json_error":
        return [*data[:n], plan.bare_error]
    everything = [*data, *usage, DONE]
    if kind == "ping":
        out: list[Frame] = []
        for i, frame in enumerate(everything):
            if i >= max(n, 1):
                out.append(PING)
            out.append(frame)
        return out
    if kind == "stall_pinging":
        return [*everything[:n], *pinging(PING, fault.seconds), *everything[n:]]
    # kind == "stall"
    return [*everything[:n], Stall(fault.seconds), *everything[n:]]


def pinging(ping: Frame, seconds: float, every: float = 0.1) -> list[Frame]:
    """``seconds`` without an event: a keep-alive frame every ``every`` seconds."""
    count = max(1, round(seconds / every))
    return [frame for _ in range(count) for frame in (Stall(seconds / count), ping)]
