"""Native-format streams as SSE frames: Anthropic, Responses and Gemini, with scripted faults.

The OpenAI chat stream has its own framing (``_stream``) because of the relay's usage chunk
and ``[DONE]``. The native formats are simpler: the relay re-emits each upstream event
(relay-behavior.md §5, §7, §12) and adds no ending of its own, so a ``NativeStream`` is just
the frames in order plus what the format looks like when it breaks. ``native_frames`` applies
a ``StreamFault`` to it; each format says which fault kinds make sense on its route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._relay import dumps
from ._script import StreamFault
from ._stream import Frame, Stall, pinging

__all__ = ["MALFORMED", "NativeStream", "event_frame", "native_frames", "unsupported_fault"]

MALFORMED = b"data: {not json\n\n"
"""A ``data:`` line whose payload is not JSON (the ``malformed`` fault)."""


def event_frame(payload: Mapping[str, Any]) -> bytes:
    """``event: <type>`` + ``data: <json>``, as the relay re-emits named events (§5, §7)."""
    return b"event: " + str(payload["type"]).encode() + b"\ndata: " + dumps(payload) + b"\n\n"


@dataclass(frozen=True)
class NativeStream:
    """One streamed answer in a native format, and how it breaks."""

    frames: Sequence[bytes]
    """Every frame of the whole answer, in order."""
    end: int
    """Index of the frame that marks a complete answer (``message_stop``, the chunk with
    ``finishReason``, ``response.completed``); a ``cut`` never reaches it."""
    finish: int | None
    """Index of the frame a ``no_finish`` fault drops (e.g. ``message_delta``), if any."""
    error_event: bytes | None
    """What an upstream error mid-stream looks like after the relay; ``None``: swallowed."""
    bare_error: bytes
    """The relay's JSON error object appended with no ``data:`` prefix (§10)."""
    ping: bytes | None
    """A keep-alive frame that passes through on this route; ``None``: none can occur."""


def unsupported_fault(stream: NativeStream, fault: StreamFault) -> str | None:
    """Why ``fault`` cannot happen on this route, or ``None`` when it can."""
    if fault.kind == "cut_done":
        return "StreamFault('cut_done') needs the OpenAI [DONE] ending; this route has none"
    if fault.kind in ("ping", "stall_pinging") and stream.ping is None:
        return "StreamFault('ping'): the relay sends no keep-alive on this route (§4)"
    if fault.kind == "no_finish" and stream.finish is None:
        return "StreamFault('no_finish') does not apply to this route; use 'cut'"
    return None


def native_frames(stream: NativeStream, fault: StreamFault | None) -> list[Frame]:
    """The frames of ``stream`` broken as ``fault`` asks (``unsupported_fault`` checked first).

    ``after`` counts frames already sent; cuts stop before ``stream.end`` whatever ``after``.
    """
    frames: list[Frame] = list(stream.frames)
    if fault is None:
        return frames
    n = fault.after
    stop = min(n, stream.end)
    kind = fault.kind
    if kind == "cut":
        return frames[:stop]
    if kind == "no_finish":
        assert stream.finish is not None
        return frames[: stream.finish] + frames[stream.finish + 1 :]
    if kind == "bare_json_error":
        return [*frames[:stop], stream.bare_error]
    if kind == "error_mid_stream":
        tail = [stream.error_event] if stream.error_event is not None else []
        return [*frames[:stop], *tail]
    if kind == "malformed":
        return [*frames[:n], MALFORMED, *frames[n:]]
    if kind == "stall":
        return [*frames[:n], Stall(fault.seconds), *frames[n:]]
    if kind == "stall_pinging":
        assert stream.ping is not None
        return [*frames[:n], *pinging(stream.ping, fault.seconds), *frames[n:]]
    # kind == "ping": keep-alives between frames from frame ``after`` on
    assert stream.ping is not None
    out: list[Frame] = []
    for i, frame in enumerate(frames):
        if i >= max(n, 1):
            out.append(stream.ping)
        out.append(frame)
    return out
