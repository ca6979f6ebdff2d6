"""The emulator's ASGI application: routing, key checks, recording and response writing.

A raw ASGI callable rather than a framework router: every request pays only a dict lookup
for routing and two ``send`` calls for a JSON answer (measured faster than Starlette
routing for the emulator's throughput target). Handlers are synchronous and pure apart from
the shared ``State``; only waiting (latency, stalls) and streaming happen here.

Streaming answers watch ``receive()`` for ``http.disconnect`` while they write, so a client
that closes a stream early is noticed and its ``RecordedRequest.closed_early`` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from . import _handlers as h
from ._relay import authenticate, middleware_error, new_request_id, not_found, not_implemented
from ._routes import is_public, native_route
from ._script import RecordedRequest
from ._state import State, Static, Streamed, json_response
from ._stream import Stall

__all__ = ["EmulatorApp"]

_log = logging.getLogger("juhe_core.testing")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[State, RecordedRequest], "h.Response"]

_ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/chat/completions"): h.chat_completions,
    ("POST", "/v1/embeddings"): h.embeddings,
    ("GET", "/v1/models"): h.list_models,
}
# Relay routes (relay-behavior.md §1) this emulator does not model yet.
_NOT_EMULATED = frozenset(
    {
        "/v1/completions",
        "/v1/responses/compact",
        "/v1/edits",
        "/v1/audio/transcriptions",
        "/v1/audio/translations",
        "/v1/rerank",
        "/v1beta/openai/models",
    }
)
_NOT_EMULATED_PREFIXES = ("/v1beta/models/", "/mj/", "/v1/engines/")


def _stub(state: State, rec: RecordedRequest) -> Static:
    """The relay's 501 stubs (§1)."""
    return json_response(501, not_implemented(), rec.request_id)


def _route(method: str, path: str) -> Handler | None:
    handler = _ROUTES.get((method, path)) or native_route(method, path)
    if handler is not None:
        return handler
    if path.startswith("/v1/models/"):
        if method == "GET":
            return h.retrieve_model
        return _stub if method == "DELETE" else h.not_emulated
    if (method, path) == ("POST", "/v1/images/variations") or path.startswith(
        ("/v1/files", "/v1/fine-tunes")
    ):
        return _stub
    if path in _NOT_EMULATED or path.startswith(_NOT_EMULATED_PREFIXES) or "/mj/" in path:
        return h.not_emulated
    return None


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


def _record(scope: Scope, body: bytes) -> RecordedRequest:
    raw_headers = scope["headers"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
    if len(headers) < len(raw_headers):  # a repeated header: join its values
        headers = {}
        for raw_name, raw_value in raw_headers:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    raw_query = scope.get("query_string", b"")
    query = (
        dict(parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True)) if raw_query else {}
    )
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return RecordedRequest(scope["method"], scope["path"], query, headers, body, parsed)


class EmulatorApp:
    """ASGI 3 application serving one ``State``."""

    def __init__(self, state: State) -> None:
        """Serve ``state``; ``bind`` must run on the server's event loop before serving."""
        self.state = state
        self._stopping: asyncio.Event | None = None

    def bind(self) -> None:
        """Create loop-bound objects; call from inside the server's event loop."""
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """End stalls and delays at once (call on the server loop)."""
        if self._stopping is not None:
            self._stopping.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request."""
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        rec = _record(scope, body)
        rec.request_id = new_request_id(self.state.rng)
        self.state.add_record(rec)
        response = self._dispatch(rec)
        if response.delay > 0:
            await self._pause(response.delay, None)
        if isinstance(response, Static):
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": response.headers,
                }
            )
            await send({"type": "http.response.body", "body": response.body})
        else:
            await self._stream(response, rec, receive, send)

    def _dispatch(self, rec: RecordedRequest) -> h.Response:
        handler = _route(rec.method, rec.path)
        rid = rec.request_id
        if handler is None:
            # The relay's NoRoute handler runs before any key check (§1).
            return json_response(404, not_found(rec.method, rec.path), rid)
        denied = (
            None
            if is_public(rec.path)
            else authenticate(rec.path, rec.headers, rec.query, self.state.keys)
        )
        if denied is not None:
            status, message = denied
            return json_response(status, middleware_error(message, rid), rid)
        try:
            return handler(self.state, rec)
        except Exception as exc:  # an emulator bug: answer in JSON, and say so loudly
            _log.exception("emulator bug while answering %s %s", rec.method, rec.path)
            inner = {"message": f"emulator bug: {exc!r}", "type": "emulator_error"}
            body = {"error": {**inner, "param": "", "code": "emulator_internal_error"}}
            return json_response(500, body, rid)

    async def _pause(self, seconds: float, watcher: asyncio.Future[Any] | None) -> None:
        """Sleep ``seconds``, cut short by ``stop()`` or by ``watcher`` completing."""
        assert self._stopping is not None, "EmulatorApp.bind() was not called"
        stopping = asyncio.ensure_future(self._stopping.wait())
        waiters: set[asyncio.Future[Any]] = {stopping}
        if watcher is not None:
            waiters.add(watcher)
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    async def _stream(
        self, response: Streamed, rec: RecordedRequest, receive: Receive, send: Send
    ) -> None:
        """Write frames one by one while watching for the client going away."""
        await send(
            {"type": "http.response.start", "status": response.status, "headers": response.headers}
        )
        # With the body read, receive() returns only on disconnect (or response end).
        watcher = asyncio.ensure_future(receive())
        complete = True
        try:
            for frame in response.frames:
                if watcher.done() or (self._stopping is not None and self._stopping.is_set()):
                    complete = False
                    break
                if isinstance(frame, Stall):
                    await self._pause(frame.seconds, watcher)
                    continue
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                await asyncio.sleep(0)  # let the loop see a closed connection
            if not complete and watcher.done():
                rec.closed_early = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
