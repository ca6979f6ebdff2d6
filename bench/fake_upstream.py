"""A fast fake upstream for the benchmark: a raw asyncio HTTP/1.1 server on 127.0.0.1.

It is what every client is measured against, so it does as little as possible per
request: an ``asyncio.Protocol`` (no stream reader/writer tasks), the request line and
headers parsed by hand, keep-alive honoured, and every response body built once and
cached (streams included), so serving a request is a dictionary lookup and one write.
Latency is a ``call_later`` timer, so 1,000 delayed requests wait together.
Run it in its own process:

    python bench/fake_upstream.py --port 0      # prints "listening on http://127.0.0.1:PORT"

Routes (JSON unless the request body says ``"stream": true``):

- ``POST /v1/chat/completions``: OpenAI chat completions; a stream has a role chunk, N
  content chunks, a finish chunk, a usage chunk and ``data: [DONE]``.
- ``POST /v1/messages``: Anthropic messages; a stream has the full event sequence,
  ``message_start`` to ``message_stop``.
- ``POST /v1/embeddings``: one vector per input (any batch size), float or base64 as
  ``encoding_format`` asks; ``dimensions`` is honoured (default 1536).
- ``GET /stats``: counters as JSON (connections accepted, requests, CPU seconds);
  ``POST /stats/reset`` zeroes them.

Knobs travel in the model name, so every client can reach them without custom headers:
``bench-stream-20000`` streams 20,000 content chunks (default 20), ``bench-lat-100``
waits 100 ms (``asyncio.sleep``, so concurrent requests wait together) before
answering; they combine (``bench-stream-500-lat-100``). The headers ``x-bench-chunks``
and ``x-bench-latency-ms`` do the same and win over the name.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import struct
import time
from functools import lru_cache
from typing import Any

HOST = "127.0.0.1"
DEFAULT_CHUNKS = 20
DEFAULT_DIMENSIONS = 1536
SSE_WRITE_BYTES = 64 * 1024  # one write per this many bytes of a precomputed stream
_KNOB = re.compile(r"-(stream|lat)-(\d+)")
WORDS = (" lorem", " ipsum", " dolor", " sit", " amet", " consectetur", " adipiscing", " elit")
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
}


class Stats:
    """Counters served by ``GET /stats``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter and restart the CPU clock."""
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.requests = 0
        self.by_path: dict[str, int] = {}
        self.cpu_start = os.times()
        self.wall_start = time.perf_counter()

    def as_json(self) -> bytes:
        """The counters, with CPU (user + system) and wall seconds since the last reset."""
        now, start = os.times(), self.cpu_start
        return json.dumps(
            {
                "connections": self.connections,
                "open": self.open,
                "max_open": self.max_open,
                "requests": self.requests,
                "by_path": self.by_path,
                "cpu_seconds": (now.user + now.system) - (start.user + start.system),
                "user_seconds": now.user - start.user,
                "wall_seconds": time.perf_counter() - self.wall_start,
            }
        ).encode()


STATS = Stats()


# --- knobs ---


def knobs(model: str, headers: dict[str, str]) -> tuple[int, float]:
    """(content chunks, latency seconds) from the model name, then the headers."""
    chunks, latency_ms = DEFAULT_CHUNKS, 0
    for name, value in _KNOB.findall(model):
        if name == "stream":
            chunks = int(value)
        else:
            latency_ms = int(value)
    chunks = int(headers.get("x-bench-chunks", chunks))
    latency_ms = int(headers.get("x-bench-latency-ms", latency_ms))
    return chunks, latency_ms / 1000


# --- bodies, built once per distinct request shape ---


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@lru_cache(maxsize=64)
def openai_json(model: str) -> bytes:
    """A non-stream chat completion."""
    return _dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Hello! How can I help you today?",
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        }
    )


def _sse(data: bytes, event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + data + b"\n\n"


def _openai_chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    return _dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
    )


@lru_cache(maxsize=16)
def openai_events(model: str, chunks: int) -> tuple[bytes, ...]:
    """The SSE events of a streamed chat completion with ``chunks`` content chunks."""
    events = [_sse(_openai_chunk(model, {"role": "assistant", "content": ""}))]
    events += [
        _sse(_openai_chunk(model, {"content": WORDS[i % len(WORDS)]})) for i in range(chunks)
    ]
    events.append(_sse(_openai_chunk(model, {}, "stop")))
    usage = {"prompt_tokens": 12, "completion_tokens": chunks, "total_tokens": 12 + chunks}
    events.append(
        _sse(
            _dumps(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": 1_700_000_000,
                    "model": model,
                    "system_fingerprint": "fp_bench",
                    "choices": [],
                    "usage": usage,
                }
            )
        )
    )
    events.append(_sse(b"[DONE]"))
    return tuple(events)


@lru_cache(maxsize=64)
def anthropic_json(model: str) -> bytes:
    """A non-stream Anthropic message."""
    return _dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Hello! How can I help you today?"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 9},
        }
    )


@lru_cache(maxsize=16)
def anthropic_events(model: str, chunks: int) -> tuple[bytes, ...]:
    """The SSE events of a streamed Anthropic message with ``chunks`` text deltas."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 1},
        },
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    events = [
        _sse(_dumps(start), "message_start"),
        _sse(_dumps(block), "content_block_start"),
        _sse(b'{"type":"ping"}', "ping"),
    ]
    for i in range(chunks):
        delta = {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": WORDS[i % len(WORDS)]},
        }
        events.append(_sse(_dumps(delta), "content_block_delta"))
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": chunks},
    }
    events += [
        _sse(b'{"type":"content_block_stop","index":0}', "content_block_stop"),
        _sse(_dumps(end), "message_delta"),
        _sse(b'{"type":"message_stop"}', "message_stop"),
    ]
    return tuple(events)


@lru_cache(maxsize=8)
def chunked_body(events: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """``events`` as an HTTP/1.1 chunked body, one HTTP chunk per event (as a server that
    flushes every token sends them), grouped into writes of about ``SSE_WRITE_BYTES``."""
    writes, pending, size = [], [], 0
    for event in events:
        piece = b"%x\r\n%s\r\n" % (len(event), event)
        pending.append(piece)
        size += len(piece)
        if size >= SSE_WRITE_BYTES:
            writes.append(b"".join(pending))
            pending, size = [], 0
    pending.append(b"0\r\n\r\n")
    writes.append(b"".join(pending))
    return tuple(writes)


@lru_cache(maxsize=8)
def _vector(dimensions: int) -> tuple[bytes, bytes]:
    """One vector as (float JSON, base64 float32), of realistic-looking values."""
    values = [round(((i * 7919) % 2001 - 1000) / 31_337.0, 9) for i in range(dimensions)]
    floats = _dumps(values)
    packed = struct.pack(f"<{dimensions}f", *values)
    return floats, b'"' + base64.b64encode(packed) + b'"'


@lru_cache(maxsize=4)
def embeddings_json(model: str, count: int, dimensions: int, b64: bool) -> bytes:
    """An embeddings response with ``count`` vectors."""
    vector = _vector(dimensions)[1 if b64 else 0]
    items = b",".join(
        b'{"object":"embedding","index":%d,"embedding":%s}' % (i, vector) for i in range(count)
    )
    usage = _dumps({"prompt_tokens": 8 * count, "total_tokens": 8 * count})
    return (
        b'{"object":"list","data":['
        + items
        + b'],"model":'
        + _dumps(model)
        + b',"usage":'
        + usage
        + b"}"
    )


def _input_count(value: Any) -> int:
    if isinstance(value, str):
        return 1
    if isinstance(value, list) and value and all(isinstance(x, int) for x in value):
        return 1  # one text as a token array
    return len(value) if isinstance(value, list) else 0


# --- HTTP ---


def _head(status: int, ctype: str, length: int | None, keep_alive: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
        f"content-type: {ctype}",
        "x-oneapi-request-id: bench",
        "request-id: bench",
        "transfer-encoding: chunked" if length is None else f"content-length: {length}",
        "connection: keep-alive" if keep_alive else "connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, _dumps({"error": {"message": message, "type": "bench_error", "code": status}})


def respond(
    method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes | tuple[bytes, ...], float]:
    """(status, JSON bytes or chunked SSE writes, seconds to wait first) for one request."""
    if path == "/stats/reset" and method == "POST":
        STATS.reset()
        return 200, STATS.as_json(), 0.0
    if path == "/stats":
        return 200, STATS.as_json(), 0.0
    if method != "POST":
        return (*_error(405, f"{method} {path} is not served"), 0.0)
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        return (*_error(400, "body is not JSON"), 0.0)
    model = str(payload.get("model", "bench"))
    chunks, latency = knobs(model, headers)
    stream = payload.get("stream") is True
    if path == "/v1/chat/completions":
        if stream:
            return 200, chunked_body(openai_events(model, chunks)), latency
        return 200, openai_json(model), latency
    if path == "/v1/messages":
        if stream:
            return 200, chunked_body(anthropic_events(model, chunks)), latency
        return 200, anthropic_json(model), latency
    if path == "/v1/embeddings":
        count = _input_count(payload.get("input"))
        dims = payload.get("dimensions") or DEFAULT_DIMENSIONS
        b64 = payload.get("encoding_format") == "base64"
        return 200, embeddings_json(model, count, dims, b64), latency
    return (*_error(404, f"no route for {path}"), 0.0)


class HTTPServerProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive on one connection, parsed by hand.

    A protocol rather than stream reader/writer pairs: a request answered at once costs
    one ``data_received`` and one ``write``, no task switches. Requests on a connection
    are answered in order; a delayed answer (latency knob) holds the ones behind it.
    """

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._waiting = False  # a delayed answer is pending

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        STATS.connections += 1
        STATS.open += 1
        STATS.max_open = max(STATS.max_open, STATS.open)

    def connection_lost(self, exc: Exception | None) -> None:
        STATS.open -= 1
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self._serve()

    def _serve(self) -> None:
        while not self._waiting and self._transport is not None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = self._buffer[:end].decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self._send(*_error(411, "send a content-length"), keep_alive=False)
                return
            length = int(headers.get("content-length", 0))
            if len(self._buffer) < end + 4 + length:
                return
            body = self._buffer[end + 4 : end + 4 + length]
            self._buffer = self._buffer[end + 4 + length :]
            path = target.split("?", 1)[0]
            if not path.startswith("/stats"):  # the benchmark's own reads are not counted
                STATS.requests += 1
                STATS.by_path[path] = STATS.by_path.get(path, 0) + 1
            keep_alive = version == "HTTP/1.1" and headers.get("connection") != "close"
            status, content, delay = respond(method, path, headers, body)
            if delay:
                self._waiting = True
                loop = asyncio.get_running_loop()
                loop.call_later(delay, self._send_later, status, content, keep_alive)
                return
            self._send(status, content, keep_alive=keep_alive)

    def _send_later(
        self, status: int, content: bytes | tuple[bytes, ...], keep_alive: bool
    ) -> None:
        self._waiting = False
        self._send(status, content, keep_alive=keep_alive)
        self._serve()

    def _send(self, status: int, content: bytes | tuple[bytes, ...], *, keep_alive: bool) -> None:
        transport = self._transport
        if transport is None:
            return
        if isinstance(content, tuple):
            transport.writelines((_head(status, "text/event-stream", None, keep_alive), *content))
        else:
            transport.writelines(
                (_head(status, "application/json", len(content), keep_alive), content)
            )
        if not keep_alive:
            transport.close()
            self._transport = None


async def serve(port: int) -> None:
    """Listen on 127.0.0.1:``port`` (0 picks a free port) until killed."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HTTPServerProtocol, HOST, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on http://{HOST}:{bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Command line: ``--port`` (default 0, a free port)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
