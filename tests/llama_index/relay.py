"""``MockRelay``: an ``httpx.MockTransport`` handler standing in for routes the emulator
does not serve yet (native chat streams with image/audio parts, speech, Midjourney).

Given as ``http_client`` / ``async_http_client``, it never opens a socket. Answers are
queued per path (``add``) and taken in order; chat routes with nothing queued answer from
the codec fixtures in ``tests/fixtures``. Every request is recorded.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from llama_index_juhe import Juhe

FIXTURES = Path(__file__).parents[1] / "fixtures"
BASE = "https://relay.test"
KEY = "sk-mock-relay-key"
MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "responses": "o3-pro",
}
_RESPONSES_JSON = {
    "id": "resp_1",
    "object": "response",
    "model": "o3-pro",
    "status": "completed",
    "output": [
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello"}],
        }
    ],
    "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
}
_FIXTURES = {  # path prefix: (JSON answer, SSE answer)
    "/v1/chat/completions": ("openai/chat_response.json", "openai/text_stream.sse"),
    "/v1/messages": ("anthropic/message.json", "anthropic/tool_stream.sse"),
    "/v1beta/models/": ("gemini/response.json", "gemini/stream.sse"),
    "/v1/responses": (None, "responses/stream.sse"),
}
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def sse(*events: dict[str, Any], named: bool = False) -> bytes:
    """An SSE body of JSON events (``event:`` lines from each ``type`` when ``named``)."""
    out = []
    for event in events:
        head = f"event: {event['type']}\n" if named else ""
        out.append(f"{head}data: {json.dumps(event)}\n\n")
    return "".join(out).encode()


def stream_response(body: bytes) -> httpx.Response:
    """A 200 event-stream answer."""
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


class MockRelay:
    """Queued answers per path, fixture answers for chat routes, every request recorded."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._queue: defaultdict[str, deque[Answer]] = defaultdict(deque)

    def add(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` (no query string) with ``answers``."""
        self._queue[path].extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if self._queue[path]:
            answer = self._queue[path].popleft()
            return answer(request) if callable(answer) else answer
        for prefix, (json_name, sse_name) in _FIXTURES.items():
            if path.startswith(prefix):
                if self._streams(request):
                    return stream_response((FIXTURES / sse_name).read_bytes())
                if json_name is None:
                    return httpx.Response(200, json=_RESPONSES_JSON)
                return httpx.Response(200, content=(FIXTURES / json_name).read_bytes())
        return httpx.Response(404, json={"error": {"message": f"no mock for {path}"}})

    @staticmethod
    def _streams(request: httpx.Request) -> bool:
        if "streamGenerateContent" in request.url.path:
            return True
        body = json.loads(request.content) if request.content else {}
        return isinstance(body, dict) and bool(body.get("stream"))

    def json(self, index: int = -1) -> Any:
        """The JSON body of a recorded request."""
        return json.loads(self.requests[index].content)

    def http_clients(self) -> tuple[httpx.Client, httpx.AsyncClient]:
        """A sync and an async httpx client that talk to this relay."""
        transport = httpx.MockTransport(self)
        return httpx.Client(transport=transport), httpx.AsyncClient(transport=transport)

    def llm(self, api_format: str = "openai", **kwargs: Any) -> Juhe:
        """A ``Juhe`` in ``api_format`` (its fixture model unless given) on this relay."""
        sync, aio = self.http_clients()
        kwargs.setdefault("model", MODELS.get(api_format, "gpt-4o"))
        return Juhe(
            api_key=KEY,
            api_base=BASE,
            api_format=api_format,
            http_client=sync,
            async_http_client=aio,
            **kwargs,
        )
