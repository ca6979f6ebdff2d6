"""Handlers of the OpenAI-format routes: the relay's checks, scripted items, the built-in model.

Each handler takes the ``State`` and the ``RecordedRequest`` (already authenticated) and
returns a ``Static`` or ``Streamed`` response. Order of checks follows the relay: the
distributor's 400/503 (relay-behavior.md §3), then the handler's 500 ``invalid_request``,
then the answer, where a queued item (or the random ``FaultProfile``) takes effect.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from typing import Any

from . import _openai as oa
from . import _openai_request as oa_request
from ._embed import default_dimensions, embed_text, embed_token_ids, to_base64
from ._model import answer, make_turn
from ._relay import (
    INVALID_JSON,
    NO_CHANNEL,
    NO_MODEL,
    fault_body,
    fault_headers,
    header_pairs,
    middleware_error,
    relay_error,
)
from ._script import Fault, RecordedRequest, Reply, ScriptItem, StreamFault
from ._state import State, Static, Streamed, json_response, response_headers
from ._store import PRICES
from ._stream import Frame, frames
from ._text import count_tokens
from ._turn import ChatQuery, ToolCall, Turn

__all__ = ["chat_completions", "embeddings", "list_models", "not_emulated", "retrieve_model"]

_SSE_HEADERS = [
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),
]
Response = Static | Streamed


def _fault(item: Fault, rec: RecordedRequest, model: str) -> Static:
    body = fault_body(item, rec.request_id, model, rec.method, rec.path)
    return json_response(item.status, body, rec.request_id, fault_headers(item), item.delay)


def _script_error(rec: RecordedRequest, message: str) -> Static:
    inner = {
        "message": message,
        "type": "emulator_error",
        "param": "",
        "code": "emulator_script_error",
    }
    return json_response(500, {"error": inner}, rec.request_id)


def _route_model(state: State, rec: RecordedRequest) -> tuple[Mapping[str, Any], str] | Static:
    """The distributor's checks (§3): JSON body with a string ``model`` that has a channel."""
    body, rid = rec.json, rec.request_id
    if not isinstance(body, dict):
        return json_response(400, middleware_error(INVALID_JSON, rid), rid)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        message = "Invalid request, field model must be a string"
        return json_response(400, middleware_error(message, rid), rid)
    if not model:
        return json_response(400, middleware_error(NO_MODEL, rid), rid)
    if not state.serves(model):
        message = NO_CHANNEL.format(model=model)
        return json_response(503, middleware_error(message, rid, "model_not_found"), rid)
    return body, model


def _random_item(state: State, stream: bool) -> ScriptItem | None:
    """The ``FaultProfile`` draw for one request; always the same number of draws."""
    profile = state.faults
    if profile is None:
        return None
    rng = state.fault_rng
    a, b, c, d = rng.random(), rng.random(), rng.random(), rng.random()
    latency = rng.uniform(*profile.latency)
    after = rng.randint(1, 3)
    if a < profile.rate_429:
        retry_after = "1" if b < profile.rate_429_retry_after else None
        return Fault(429, retry_after=retry_after, delay=latency)
    if c < profile.rate_5xx:
        if b < 1 / 3:
            return Fault(500, delay=latency)
        if b < 2 / 3:
            return Fault(502, delay=latency)
        # the relay's retryable 503 (host overloaded), not the permanent model_not_found
        return Fault(503, code="system_cpu_overloaded", delay=latency)
    if stream and d < profile.rate_cut:
        # half cut bare, half ended by the relay's own usage chunk and [DONE] (§7)
        if b < 0.5:
            return StreamFault("cut", after=after, delay=latency)
        return StreamFault("cut_done", after=after, delay=latency)
    if stream and d < profile.rate_cut + profile.rate_error_mid_stream:
        return StreamFault("error_mid_stream", after=after, delay=latency)
    return Reply(delay=latency) if latency > 0 else None


def _take(state: State, rec: RecordedRequest, stream: bool) -> ScriptItem | None:
    item = state.take(rec.path, scripted=True)
    return item if item is not None else _random_item(state, stream)


def _scripted_turn(query: ChatQuery, reply: Reply, state: State, call_prefix: str) -> Turn:
    calls = []
    for raw in reply.tool_calls or ():
        args = raw.get("arguments", {})
        text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        call_id = str(raw.get("id") or state.random_id(call_prefix))
        calls.append(ToolCall(call_id, str(raw["name"]), text))
    finish = "tool_calls" if calls else "stop"
    return make_turn(query, reply.text or "", reply.reasoning or "", tuple(calls), finish)


def _turn(query: ChatQuery, reply: Reply | None, state: State, call_prefix: str = "call_") -> Turn:
    if reply is not None and reply.scripts_turn:
        turn = _scripted_turn(query, reply, state, call_prefix)
    else:
        turn = answer(query, lambda: state.random_id(call_prefix))
    if reply is not None and reply.finish_reason is not None:
        return dataclasses.replace(turn, finish_reason=reply.finish_reason)
    return turn


def _verbatim(reply: Reply, fault: StreamFault | None, request_id: str) -> list[Frame]:
    """Scripted ``raw`` bytes as they are, or scripted ``chunks`` then ``[DONE]``."""
    if reply.raw is not None:
        return [reply.raw]
    return frames(oa.verbatim_plan(reply.chunks or (), request_id), fault, include_usage=True)


def chat_completions(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/chat/completions``."""
    routed = _route_model(state, rec)
    if isinstance(routed, Static):
        return routed
    body, model = routed
    rid = rec.request_id
    try:
        query, options = oa_request.parse_chat(body)
    except oa_request.InvalidRequest as exc:
        return json_response(500, relay_error(str(exc), rid, "invalid_request"), rid)
    except oa_request.UpstreamReject as exc:
        return _upstream_400(rid, str(exc), exc.param)
    item = _take(state, rec, options.stream)
    if isinstance(item, Fault):
        return _fault(item, rec, model)
    if isinstance(item, StreamFault):
        if not options.stream:
            message = f"StreamFault({item.kind!r}) was queued but the request is not streaming"
            return _script_error(rec, message)
        return _chat_answer(state, rec, query, options, item.reply, item)
    return _chat_answer(state, rec, query, options, item, None)


def _chat_answer(
    state: State,
    rec: RecordedRequest,
    query: ChatQuery,
    options: oa_request.ChatOptions,
    reply: Reply | None,
    fault: StreamFault | None,
) -> Response:
    rid = rec.request_id
    delay = fault.delay if fault is not None else reply.delay if reply is not None else 0.0
    status = reply.status if reply is not None else 200
    extra = header_pairs(reply.headers if reply is not None else None)
    sse = response_headers(rid, b"text/event-stream", [*_SSE_HEADERS, *extra])
    if options.stream and reply is not None and (reply.raw is not None or reply.chunks is not None):
        return Streamed(status, sse, _verbatim(reply, fault, rid), delay)
    if reply is not None and reply.body is not None:
        return json_response(status, reply.body, rid, extra, delay)
    turn = _turn(query, reply, state)
    state.store.ledger.charge((turn.prompt_tokens + turn.completion_tokens) * PRICES["token"])
    meta = oa.Meta(
        state.random_id("chatcmpl-", 29), int(time.time()), query.model, state.fingerprint
    )
    overlay = reply.usage if reply is not None else None
    if not options.stream:
        return json_response(status, oa.completion(turn, meta, options, overlay), rid, extra, delay)
    plan = oa.chunk_plan(turn, meta, options, state.rng, rid, overlay)
    return Streamed(status, sse, frames(plan, fault, options.include_usage), delay)


def _embedding_inputs(raw: Any) -> list[str | list[int]] | None:
    """The inputs as a list, or ``None`` when they are not strings or token-id lists."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        return None
    if raw and all(isinstance(i, int) for i in raw):
        return [list(raw)]
    out: list[str | list[int]] = []
    for item in raw:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list) and all(isinstance(i, int) for i in item):
            out.append(list(item))
        else:
            return None
    return out


def _upstream_400(rid: str, message: str, param: str, code: str | None = None) -> Static:
    inner = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return json_response(400, {"error": inner}, rid)


def embeddings(state: State, rec: RecordedRequest) -> Response:
    """``POST /v1/embeddings``."""
    routed = _route_model(state, rec)
    if isinstance(routed, Static):
        return routed
    body, model = routed
    rid = rec.request_id
    if body.get("input") in (None, "", []):
        return json_response(500, relay_error("input is empty", rid, "invalid_request"), rid)
    inputs = _embedding_inputs(body["input"])
    if inputs is None:
        return _upstream_400(rid, "'$.input' is invalid.", "input")
    dims = body.get("dimensions", default_dimensions(model))
    if not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= 8192:
        return _upstream_400(rid, "Invalid value for 'dimensions'.", "dimensions")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        return _upstream_400(rid, "Invalid value for 'encoding_format'.", "encoding_format")
    item = _take(state, rec, stream=False)
    if isinstance(item, Fault):
        return _fault(item, rec, model)
    if isinstance(item, StreamFault):
        return _script_error(rec, "StreamFault was queued but embeddings do not stream")
    status, extra, delay = 200, [], 0.0
    if item is not None:
        status, extra, delay = item.status, header_pairs(item.headers), item.delay
        if item.body is not None:
            return json_response(status, item.body, rid, extra, delay)
    vectors = [
        embed_text(i, dims) if isinstance(i, str) else embed_token_ids(i, dims) for i in inputs
    ]
    encoded = [to_base64(v) for v in vectors] if fmt == "base64" else vectors
    tokens = sum(count_tokens(i) if isinstance(i, str) else len(i) for i in inputs)
    state.store.ledger.charge(tokens * PRICES["embedding_token"])
    return json_response(status, oa.embedding_list(encoded, model, tokens), rid, extra, delay)


def _explicit(state: State, rec: RecordedRequest) -> Static | None:
    """A queued item aimed at this non-generation path (``path=`` given explicitly)."""
    item = state.take(rec.path, scripted=False)
    if isinstance(item, Fault):
        return _fault(item, rec, "")
    if isinstance(item, StreamFault):
        return _script_error(rec, "StreamFault was queued for a route that does not stream")
    if item is not None and item.body is not None:
        return json_response(
            item.status, item.body, rec.request_id, header_pairs(item.headers), item.delay
        )
    return None


def list_models(state: State, rec: RecordedRequest) -> Response:
    """``GET /v1/models``; Anthropic's shape with ``x-api-key`` and ``anthropic-version`` (§8)."""
    scripted = _explicit(state, rec)
    if scripted is not None:
        return scripted
    models = list(state.catalog.values())
    if rec.headers.get("x-api-key") and rec.headers.get("anthropic-version"):
        created = time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(models[0]["created"] if models else 0)
        )
        data = [
            {"id": m["id"], "created_at": created, "display_name": m["id"], "type": "model"}
            for m in models
        ]
        body: dict[str, Any] = {
            "data": data,
            "first_id": data[0]["id"] if data else "",
            "last_id": data[-1]["id"] if data else "",
            "has_more": False,
        }
        return json_response(200, body, rec.request_id)
    return json_response(200, oa.model_list(models), rec.request_id)


def retrieve_model(state: State, rec: RecordedRequest) -> Response:
    """``GET /v1/models/{id}``: the item, or HTTP 200 with an error object (§6, §8)."""
    scripted = _explicit(state, rec)
    if scripted is not None:
        return scripted
    model_id = rec.path[len("/v1/models/") :]
    known = state.catalog.get(model_id)
    return json_response(
        200, known if known is not None else oa.model_not_found(model_id), rec.request_id
    )


def not_emulated(state: State, rec: RecordedRequest) -> Response:
    """A relay route this emulator does not model yet: only explicitly queued items apply."""
    scripted = _explicit(state, rec)
    if scripted is not None:
        return scripted
    message = f"The Juhe emulator does not emulate {rec.method} {rec.path} yet"
    return json_response(501, relay_error(message, rec.request_id, "not_emulated"), rec.request_id)
