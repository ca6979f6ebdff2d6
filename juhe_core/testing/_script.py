"""Scripting items for the emulator: what the next matching request should get.

A test puts items on the emulator's FIFO queue with ``Emulator.enqueue``; each request on a
scripted route takes the first item whose ``path`` matches. ``Reply`` overrides the built-in
model, ``Fault`` answers with an error, ``StreamFault`` breaks a streaming answer in one of the
ways relay-behavior.md §7/§8/§10 describe. ``FaultProfile`` injects random faults for soak tests
into requests that found nothing on the queue. ``RecordedRequest`` is what the emulator saw.

This module is pure data: stdlib only, nothing is imported from the server side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "Fault",
    "FaultProfile",
    "RecordedRequest",
    "Reply",
    "ScriptItem",
    "StreamFault",
    "StreamFaultKind",
]

StreamFaultKind = Literal[
    "cut",
    "cut_done",
    "malformed",
    "error_mid_stream",
    "no_finish",
    "bare_json_error",
    "ping",
    "stall",
    "stall_pinging",
]
_STREAM_FAULT_KINDS: frozenset[str] = frozenset(get_args(StreamFaultKind))


def _check_delay(delay: float) -> None:
    if delay < 0:
        raise ValueError(f"delay must be >= 0, got {delay!r}")


@dataclass(frozen=True)
class Reply:
    """One scripted successful answer, in place of the built-in model's.

    For chat, ``text``, ``reasoning`` and ``tool_calls`` replace the built-in model's turn
    (any left as ``None`` while another is set stays empty); when all three are ``None`` the
    built-in model answers and only the other fields apply. The turn is rendered in the
    route's wire format, as a JSON body or as the relay's chunk sequence for a stream.
    ``chunks`` and ``raw`` apply to streaming requests, ``body`` to the others (and to a
    stream request that has no ``chunks``/``raw``). For embeddings and other routes only
    ``body``, ``status``, ``headers`` and ``delay`` apply (and ``raw``, as the audio bytes, on
    ``/v1/audio/speech``). On the native chat routes ``chunks`` are framed as that route
    frames events (``event: <type>`` for Anthropic and Responses, ``data:`` only for
    Gemini, never a ``[DONE]``), and ``usage`` is laid over the format's own usage object.

    Images, speech and moderations take items queued with ``path=None`` like the chat
    routes; billing and Midjourney routes only take items queued for their exact path
    (Midjourney: the path without a ``/{mode}`` prefix).
    """

    text: str | None = None
    """Assistant text of the turn."""
    reasoning: str | None = None
    """Thinking text, sent as ``reasoning_content``."""
    tool_calls: Sequence[Mapping[str, Any]] | None = None
    """Tool calls: ``{"name": str, "arguments": dict | str, "id"?: str}`` each."""
    finish_reason: str | None = None
    """Finish reason to report; default ``"tool_calls"`` with tool calls, else ``"stop"``."""
    usage: Mapping[str, Any] | None = None
    """Usage fields laid over the computed usage (e.g. ``{"prompt_tokens": 7}``)."""
    body: Mapping[str, Any] | None = None
    """Non-stream answer served verbatim as JSON instead of a rendered turn."""
    chunks: Sequence[Mapping[str, Any]] | None = None
    """Stream answer: each dict sent verbatim as ``data: <json>``, then ``data: [DONE]``."""
    raw: bytes | None = None
    """Stream answer: these bytes verbatim as the whole SSE body."""
    status: int = 200
    """HTTP status of the answer."""
    headers: Mapping[str, str] | None = None
    """Extra response headers."""
    delay: float = 0.0
    """Seconds of latency before the response starts."""

    def __post_init__(self) -> None:
        _check_delay(self.delay)
        for call in self.tool_calls or ():
            if not isinstance(call.get("name"), str):
                raise ValueError(f"each tool call needs a string 'name', got {call!r}")
            if not isinstance(call.get("arguments", {}), (str, Mapping)):
                raise ValueError(f"tool call arguments must be a dict or a JSON string: {call!r}")

    @property
    def scripts_turn(self) -> bool:
        """Whether this reply supplies the turn itself (text, reasoning or tool calls)."""
        return self.text is not None or self.reasoning is not None or self.tool_calls is not None


@dataclass(frozen=True)
class Fault:
    """One scripted error answer.

    By default the body is the relay's own envelope for ``status`` (relay-behavior.md §3): a
    ``new_api_error`` whose message ends in `` (request id: <id>)``. ``code`` and ``message``
    replace the envelope's code and message text; ``body`` (dict or bytes) is sent verbatim
    instead; ``empty_body`` sends nothing, as the relay's in-memory 429 limiter does (§5).
    Relay routes never send ``Retry-After`` (§5), so ``retry_after``/``retry_after_ms`` exist
    only to emulate upstreams that do.
    """

    status: int
    """HTTP status."""
    code: str | int | None = None
    """Envelope ``code``; default: the relay's code for this status."""
    message: str | None = None
    """Envelope message text (the request-id suffix is added where the relay adds it)."""
    body: Mapping[str, Any] | bytes | None = None
    """Body sent verbatim instead of the envelope (dict as JSON, bytes as is)."""
    retry_after: str | None = None
    """Value of a ``Retry-After`` header."""
    retry_after_ms: str | None = None
    """Value of a ``retry-after-ms`` header."""
    headers: Mapping[str, str] | None = None
    """Extra response headers."""
    empty_body: bool = False
    """Send no body at all (the in-memory rate limiter's 429)."""
    delay: float = 0.0
    """Seconds of latency before the response starts."""

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status!r}")
        _check_delay(self.delay)


@dataclass(frozen=True)
class StreamFault:
    """A broken streaming answer; consumed only by streaming requests.

    ``after`` counts ``data:`` events already sent (the first role chunk included). Kinds:

    - ``cut``: the body ends after ``after`` events; no usage, no ``[DONE]``.
    - ``cut_done``: after ``after`` events the relay's own usage chunk and ``[DONE]``, as when
      the upstream hits EOF (§7); no ``finish_reason`` arrives.
    - ``malformed``: a ``data: {not json`` line after ``after`` events, then the rest.
    - ``error_mid_stream``: ``data: {"error":…}`` after ``after`` events, then usage and
      ``[DONE]`` (§10).
    - ``no_finish``: the whole answer without the chunk carrying ``finish_reason`` (#7489).
    - ``bare_json_error``: after ``after`` events a JSON error object with no ``data:`` prefix,
      then the body ends (§10).
    - ``ping``: ``: PING`` comments between events from event ``after`` on (§4).
    - ``stall``: after ``after`` events nothing for ``seconds`` (connection open), then the rest.
    - ``stall_pinging``: after ``after`` events no event for ``seconds``, only the relay's
      keep-alive every 0.1 s (as while a model thinks silently), then the rest.

    On the native routes ``after`` counts frames of that format, the relay adds no ending of
    its own, and ``cut`` always stops before the frame that completes the answer
    (``message_stop``, the Gemini chunk with ``finishReason``, ``response.completed``).
    ``/v1/messages``: ``error_mid_stream`` just ends the stream (the relay does not pass an
    upstream ``event: error`` on, §10), ``bare_json_error`` then appends the Anthropic-shaped
    error, ``no_finish`` drops ``message_delta``, ``ping`` inserts Claude ``ping`` events.
    Gemini: ``error_mid_stream`` is an upstream ``data: {"error": …}`` line; ``ping`` is
    refused (no keep-alive on Gemini streams). Responses: ``error_mid_stream`` is an ``event:
    error``; ``ping`` is a ``: PING`` comment. ``no_finish`` is refused on Gemini and
    Responses (use ``cut``), ``cut_done`` on all three (it needs ``[DONE]``): a 500 script
    error.

    The turn itself comes from ``reply`` when given, else from the built-in model.
    """

    kind: StreamFaultKind
    """Which fault."""
    after: int = 0
    """Number of ``data:`` events sent before the fault."""
    seconds: float = 5.0
    """Length of a ``stall``."""
    reply: Reply | None = None
    """Scripted turn to break; ``None``: the built-in model's turn."""
    delay: float = 0.0
    """Seconds of latency before the response starts."""

    def __post_init__(self) -> None:
        if self.kind not in _STREAM_FAULT_KINDS:
            raise ValueError(f"unknown StreamFault kind {self.kind!r}")
        if self.after < 0:
            raise ValueError(f"after must be >= 0, got {self.after!r}")
        if self.seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {self.seconds!r}")
        if self.reply is not None and (self.reply.raw is not None or self.reply.body is not None):
            raise ValueError(
                "a StreamFault cannot break a verbatim raw/body reply; script the bytes"
            )
        _check_delay(self.delay)


ScriptItem = Reply | Fault | StreamFault
"""Anything ``Emulator.enqueue`` accepts."""


@dataclass(frozen=True)
class FaultProfile:
    """Random faults for soak tests, applied to scripted-route requests with no queued item.

    Draws come from ``random.Random(seed)`` in request order, so a sequential run is
    reproducible. Per request, in this order: a 429 with probability ``rate_429`` (carrying
    ``Retry-After: 1`` with probability ``rate_429_retry_after``), else a 500/502/503 with
    probability ``rate_5xx`` (the 503 is the relay's retryable ``system_cpu_overloaded``), else,
    for streams only, a ``cut`` (half bare, half ended with the relay's usage chunk and
    ``[DONE]``) with probability ``rate_cut``
    or an ``error_mid_stream`` with probability ``rate_error_mid_stream``. Every request also
    gets a latency drawn uniformly from ``latency`` (seconds).
    """

    rate_429: float = 0.0
    """Probability of a 429."""
    rate_429_retry_after: float = 0.0
    """Fraction of the 429s that carry ``Retry-After: 1``."""
    rate_5xx: float = 0.0
    """Probability of a 500 or 502."""
    rate_cut: float = 0.0
    """Probability that a stream is cut (no ``[DONE]``)."""
    rate_error_mid_stream: float = 0.0
    """Probability of an error event inside a stream."""
    latency: tuple[float, float] = (0.0, 0.0)
    """Range of added latency in seconds."""
    seed: int = 0
    """Seed of the random draws."""

    def __post_init__(self) -> None:
        rates = (
            self.rate_429,
            self.rate_429_retry_after,
            self.rate_5xx,
            self.rate_cut,
            self.rate_error_mid_stream,
        )
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError("FaultProfile rates must be within [0, 1]")
        low, high = self.latency
        if not 0.0 <= low <= high:
            raise ValueError(
                f"latency must be (low, high) with 0 <= low <= high, got {self.latency}"
            )


@dataclass
class RecordedRequest:
    """One request as the emulator received it (recorded before it is answered)."""

    method: str
    """HTTP method."""
    path: str
    """URL path, without the query."""
    query: dict[str, str]
    """Query parameters (the last value wins for repeated names)."""
    headers: dict[str, str]
    """Request headers with lower-case names (repeated headers joined with ``", "``)."""
    body: bytes
    """Raw request body."""
    json: Any
    """The body parsed as JSON, or ``None`` when it is not JSON."""
    request_id: str = ""
    """The ``X-Oneapi-Request-Id`` the emulator answered with."""
    closed_early: bool = False
    """Set when the client disconnected before a streaming answer was complete."""
