"""Handlers of the native chat formats: Anthropic messages, Gemini generateContent, Responses.

They follow the OpenAI chat handler (``_handlers``): the distributor's checks, the handler's
validation, then a queued item, the ``FaultProfile`` or the built-in model, rendered by the
format's module (``_anthropic``, ``_gemini``, ``_responses``). What differs per route:

- ``/v1/messages``: errors the handler writes use Anthropic's shape (relay-behavior.md §3),
  middleware errors (auth, model routing, rate limit: a ``Fault`` of 400/401/429/503) stay
  OpenAI-shaped. Streams end with ``message_stop``; no ``ping`` unless a fault asks.
- ``/v1beta/models/{model}:…``: the model comes from the path; streaming needs ``?alt=sse``
  (the relay version emulated, v0.9.16, predates path-based detection, §12); any other
  method, ``:countTokens`` included, is answered as ``generateContent`` (§12).
- ``/v1/responses``: ``event:`` + ``data:`` streams with no ``[DONE]`` (§7).

``Reply.chunks`` are framed as the route frames its events; ``Reply.raw`` is sent verbatim.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from . import _anthropic as anth
from . import _gemini as gem
from . import _responses as resp
from ._events import NativeStream, event_frame, native_frames, unsupported_fault
from ._handlers import (
    _SSE_HEADERS,
    Response,
    _explicit,
    _fault,
    _route_model,
    _script_error,
    _take,
    _turn,
    _upstream_400,
)
from ._openai_request import InvalidRequest, UpstreamReject
from ._relay import (
    NO_CHANNEL,
    NO_MODEL,
    fault_body,
    fault_headers,
    fault_shape,
    header_pairs,
    middleware_error,
    relay_error,
)
from ._script import Fault, RecordedRequest, Reply, StreamFault
from ._state import State, Static, Streamed, json_response, response_headers
from ._store import PRICES
from ._stream import Frame, data_frame
from ._turn import ChatQuery, Turn

__all__ = ["gemini_generate", "gemini_models", "messages", "responses"]

Render = Callable[[Turn, Mapping[str, Any] | None], tuple[Mapping[str, Any], NativeStream]]
OnFault = Callable[[Fault, RecordedRequest, str], Static]


def _charge(state: State, turn: Turn) -> None:
    state.store.ledger.charge((turn.prompt_tokens + turn.completion_tokens) * PRICES["token"])


def _stream_of(
    chunks: list[Mapping[str, Any]], frame: Callable[[Mapping[str, Any]], bytes], rid: str
) -> NativeStream:
    """A scripted chunk list as a stream of this route's frames."""
    return NativeStream(
        frames=[frame(c) for c in chunks],
        end=max(len(chunks) - 1, 0),
        finish=None,
        error_event=None,
        bare_error=relay_error("upstream stream ended with an error", rid, "bad_response"),
        ping=None,
    )


def _answer(
    state: State,
    rec: RecordedRequest,
    query: ChatQuery,
    stream: bool,
    frame: Callable[[Mapping[str, Any]], bytes],
    render: Render,
    on_fault: OnFault = _fault,
    call_prefix: str = "call_",
) -> Response:
    """The shared tail of every native chat handler: scripting, rendering, framing."""
    rid = rec.request_id
    item = _take(state, rec, stream)
    if isinstance(item, Fault):
        return on_fault(item, rec, query.model)
    fault = item if isinstance(item, StreamFault) else None
    if fault is not None and not stream:
        message = f"StreamFault({fault.kind!r}) was queued but the request is not streaming"
        return _script_error(rec, message)
    reply = fault.reply if fault is not None else item
    assert reply is None or isinstance(reply, Reply)
    delay = fault.delay if fault is not None else reply.delay if reply is not None else 0.0
    status = reply.status if reply is not None else 200
    extra = header_pairs(reply.headers if reply is not None else None)
    sse = response_headers(rid, b"text/event-stream", [*_SSE_HEADERS, *extra])
    if stream and reply is not None and reply.raw is not None:
        return Streamed(status, sse, [reply.raw], delay)
    if stream and reply is not None and reply.chunks is not None:
        scripted = _stream_of([dict(c) for c in reply.chunks], frame, rid)
        return _streamed(rec, status, sse, scripted, fault, delay)
    if reply is not None and reply.body is not None:
        return json_response(status, reply.body, rid, extra, delay)
    turn = _turn(query, reply, state, call_prefix)
    _charge(state, turn)
    body, native = render(turn, reply.usage if reply is not None else None)
    if not stream:
        return json_response(status, body, rid, extra, delay)
    return _streamed(rec, status, sse, native, fault, delay)


def _streamed(
    rec: RecordedRequest,
    status: int,
    headers: list[tuple[bytes, bytes]],
    stream: NativeStream,
    fault: StreamFault | None,
    delay: float,
) -> Response:
    why = unsupported_fault(stream, fault) if fault is not None else None
    if why is not None:
        return _script_error(rec, why)
    frames: list[Frame] = native_frames(stream, fault)
    return Streamed(status, headers, frames, delay)


# --- /v1/messages ---


def _anthropic_body(openai_body: bytes, rid: str) -> bytes:
    """An OpenAI-shaped relay or upstream error in the shape ``/v1/messages`` writes (§3)."""
    inner = json.loads(openai_body)["error"]
    message = str(inner.get("message", ""))
    if inner.get("type") == "new_api_error":
        kind = "new_api_error"
    else:  # an upstream error: its code as text (often "<nil>"), and the request id added
        code = inner.get("code")
        kind = "<nil>" if code is None else str(code)
        message = f"{message} (request id: {rid})"
    return anth.error_body(message, kind)


def _anthropic_error(status: int, openai_body: bytes, rid: str) -> Static:
    return json_response(status, _anthropic_body(openai_body, rid), rid)


def _messages_fault(item: Fault, rec: RecordedRequest, model: str) -> Static:
    plain = item.empty_body or item.body is not None or item.status in (404, 501)
    if plain or fault_shape(item.status) == "middleware":
        return _fault(item, rec, model)
    rid = rec.request_id
    openai_body = fault_body(item, rid, model, rec.method, rec.path)
    body = _anthropic_body(openai_body, rid)
    return json_response(item.status, body, rid, fault_headers(item), item.delay)


def messages(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/messages`` (Anthropic format, relay-behavior.md §5, §11)."""
    routed = _route_model(state, rec)
    if isinstance(routed, Static):
        return routed
    body, model = routed
    rid = rec.request_id
    try:
        query, options = anth.parse_messages(body)
    except InvalidRequest as exc:
        return _anthropic_error(500, relay_error(str(exc), rid, "invalid_request"), rid)
    except UpstreamReject as exc:
        upstream = {"error": {"message": str(exc), "type": "invalid_request_error", "code": None}}
        return _anthropic_error(400, json.dumps(upstream).encode(), rid)
    cache = anth.Cache()
    if options.cache_key is not None:
        hit = state.store.prompt_cache.hit(options.cache_key)
        tokens = options.cache_tokens
        cache = anth.Cache(read=tokens) if hit else anth.Cache(created=tokens)
    message_id = state.random_id("msg_01", 22)
    rng = state.rng

    def render(
        turn: Turn, overlay: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any], NativeStream]:
        return (
            anth.message_body(turn, message_id, model, cache, overlay),
            anth.message_stream(turn, message_id, model, cache, overlay, rng, rid),
        )

    return _answer(
        state, rec, query, options.stream, event_frame, render, _messages_fault, "toolu_01"
    )


# --- /v1beta/models ---


def gemini_models(state: State, rec: RecordedRequest) -> Response:
    """``GET /v1beta/models``: the catalogue as bare names with null fields (§8, §12)."""
    scripted = _explicit(state, rec)
    if scripted is not None:
        return scripted
    return json_response(200, gem.model_list(list(state.catalog)), rec.request_id)


def gemini_generate(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``."""
    rid = rec.request_id
    tail = rec.path.split("/models/", 1)[1]
    model, _, method = tail.partition(":")
    if not method or not model:
        return json_response(400, middleware_error(NO_MODEL, rid), rid)
    if "embed" in method.lower():
        return json_response(
            501,
            relay_error(
                "The Juhe emulator does not emulate Gemini embeddings", rid, "not_emulated"
            ),
            rid,
        )
    if not state.serves(model):
        message = NO_CHANNEL.format(model=model)
        return json_response(503, middleware_error(message, rid, "model_not_found"), rid)
    body = rec.json
    if not isinstance(body, dict):
        message = "invalid character in request body: not a JSON object"
        return json_response(500, relay_error(message, rid, "invalid_request"), rid)
    try:
        query, options = gem.parse_generate(body, model)
    except InvalidRequest as exc:
        return json_response(500, relay_error(str(exc), rid, "invalid_request"), rid)
    except UpstreamReject as exc:
        # A Gemini upstream 400 reaches the client OpenAI-shaped with a numeric code (§6).
        inner = {"message": str(exc), "type": "upstream_error", "param": "", "code": 400}
        return json_response(400, {"error": inner}, rid)
    stream = rec.query.get("alt") == "sse"
    meta = (model, state.random_id("", 23))
    rng = state.rng

    def render(
        turn: Turn, overlay: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any], NativeStream]:
        return (
            gem.response_body(turn, options, meta, overlay),
            gem.response_stream(turn, options, meta, overlay, rng, rid),
        )

    return _answer(state, rec, query, stream, data_frame, render)


# --- /v1/responses ---


def responses(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/responses`` (OpenAI Responses, relay-behavior.md §7)."""
    routed = _route_model(state, rec)
    if isinstance(routed, Static):
        return routed
    body, model = routed
    rid = rec.request_id
    try:
        query, options = resp.parse_responses(body)
    except InvalidRequest as exc:
        return json_response(500, relay_error(str(exc), rid, "invalid_request"), rid)
    except UpstreamReject as exc:
        return _upstream_400(rid, str(exc), exc.param)
    rng = state.rng
    prefix = state.random_id("", 40).lower()

    def render(
        turn: Turn, overlay: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any], NativeStream]:
        ids = resp.Ids(
            response=f"resp_{prefix}",
            reasoning=f"rs_{prefix}",
            message=f"msg_{prefix}",
            calls=tuple(f"fc_{prefix}{i}" for i in range(len(turn.tool_calls))),
        )
        return (
            resp.response_object(turn, ids, model, options, overlay),
            resp.response_stream(turn, ids, model, options, overlay, rng, rid),
        )

    return _answer(state, rec, query, options.stream, event_frame, render)
