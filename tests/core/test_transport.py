"""The transport against the emulator over real loopback sockets, sync and async.

Each test body runs twice: on ``JuheClient`` and on ``AsyncJuheClient`` (through the
``Both`` adapter), so the two drivers are held to one behaviour.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from juhe_core import AsyncJuheClient, JuheClient
from juhe_core.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    InternalServerError,
    JuheError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    StreamError,
)
from juhe_core.messages import ChatRequest, ChatResult, Message, StreamDelta, TextDelta
from juhe_core.testing import Emulator, Fault, Reply, StreamFault

CHAT = "/v1/chat/completions"
REQUEST = ChatRequest("gpt-4o-mini", [Message.text("user", "What is the capital of France?")])


class Both:
    """Runs one operation on the sync or the async client."""

    def __init__(self, kind: str, emu: Emulator, **kwargs: Any) -> None:
        self.kind = kind
        self.kwargs = {"api_key": emu.api_key, "base_url": emu.base_url, **kwargs}

    def run(self, op: Callable[[Any], Any]) -> Any:
        if self.kind == "sync":
            with JuheClient(**self.kwargs) as client:
                return op(client)

        async def main() -> Any:
            async with AsyncJuheClient(**self.kwargs) as client:
                result = op(client)
                while asyncio.iscoroutine(result):
                    result = await result
                return result

        return asyncio.run(main())

    def chat(self, request: ChatRequest = REQUEST) -> ChatResult:
        return self.run(lambda c: c.chat(request))  # type: ignore[no-any-return]

    def stream(
        self, request: ChatRequest = REQUEST, **kw: Any
    ) -> tuple[list[StreamDelta], ChatResult | None]:
        if self.kind == "sync":

            def op(client: JuheClient) -> Any:
                stream = client.chat_stream(request, **kw)
                return list(stream), stream.result

            return self.run(op)  # type: ignore[no-any-return]

        async def aop(client: AsyncJuheClient) -> Any:
            stream = await client.chat_stream(request, **kw)
            return [d async for d in stream], stream.result

        return self.run(aop)  # type: ignore[no-any-return]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def both(kind: str, juhe_emulator: Emulator) -> Both:
    return Both(kind, juhe_emulator)


def test_chat_sends_bearer_key_unchanged(both: Both, juhe_emulator: Emulator) -> None:
    result = both.chat()
    assert "capital of France" in result.text
    assert result.finish_reason == "stop"
    assert result.usage is not None and result.usage.total_tokens > 0
    [req] = juhe_emulator.requests
    assert req.path == CHAT
    assert req.headers["authorization"] == f"Bearer {juhe_emulator.api_key}"
    assert req.headers["user-agent"].startswith("juhe-integrations/")
    assert juhe_emulator.api_key not in req.path and not req.query
    assert req.json is not None and req.json["model"] == "gpt-4o-mini"


def test_request_id_is_reported(both: Both) -> None:
    result = both.chat()
    assert result.request_id and result.id


def test_stream_delivers_text_and_usage(both: Both, juhe_emulator: Emulator) -> None:
    deltas, result = both.stream()
    assert result is not None
    text = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    assert text == result.text and "capital of France" in text
    assert len([d for d in deltas if isinstance(d, TextDelta)]) > 1
    assert result.usage is not None and result.usage.output_tokens > 0
    body = juhe_emulator.requests[0].json
    assert body is not None and body["stream_options"] == {"include_usage": True}


def test_missing_key_fails_before_any_request(kind: str, juhe_emulator: Emulator) -> None:
    both = Both(kind, juhe_emulator, api_key=None)
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY"):
        both.chat()
    assert juhe_emulator.requests == []


def test_wrong_key_is_401(kind: str, juhe_emulator: Emulator) -> None:
    with pytest.raises(AuthenticationError) as info:
        Both(kind, juhe_emulator, api_key="sk-wrongkey").chat()
    assert info.value.status == 401 and info.value.request_id
    assert "sk-wrongkey" not in str(info.value) + repr(info.value)


def test_channel_pin_suffix_is_never_added(kind: str, juhe_emulator: Emulator) -> None:
    with pytest.raises(PermissionDeniedError):
        Both(kind, juhe_emulator, api_key=juhe_emulator.api_key + "-7").chat()


def test_retries_429_honouring_retry_after(both: Both, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(
        Fault(429, retry_after="0"), Fault(429, empty_body=True, retry_after="0"), path=CHAT
    )
    assert "France" in both.chat().text
    assert len(juhe_emulator.requests) == 3


def test_retries_5xx_without_retry_after(both: Both, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(Fault(502), path=CHAT)
    assert both.chat().text
    assert len(juhe_emulator.requests) == 2


def test_gives_up_after_max_retries(kind: str, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(*[Fault(500, retry_after="0")] * 3, path=CHAT)
    with pytest.raises(InternalServerError):
        Both(kind, juhe_emulator, max_retries=2).chat()
    assert len(juhe_emulator.requests) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault(400, message="bad"), BadRequestError),
        (Fault(503, code="model_not_found"), NotFoundError),
        (Fault(500, code="invalid_request"), InternalServerError),
        (Fault(403, code="insufficient_user_quota"), PermissionDeniedError),
    ],
)
def test_permanent_errors_are_not_retried(
    both: Both, juhe_emulator: Emulator, fault: Fault, error: type[Exception]
) -> None:
    juhe_emulator.enqueue(fault, path=CHAT)
    with pytest.raises(error):
        both.chat()
    assert len(juhe_emulator.requests) == 1


def test_rate_limit_surfaces_after_retries(kind: str, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(Fault(429, retry_after="0"), Fault(429, retry_after="0"), path=CHAT)
    with pytest.raises(RateLimitError):
        Both(kind, juhe_emulator, max_retries=1).chat()


def test_timeout_is_typed(kind: str, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(Reply(text="late", delay=1.0), path=CHAT)
    with pytest.raises(APITimeoutError):
        Both(kind, juhe_emulator, timeout=0.2, max_retries=0).chat()


def test_connection_refused_is_typed(kind: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    both = Both.__new__(Both)
    both.kind, both.kwargs = (
        kind,
        {"api_key": "sk-x", "base_url": f"http://127.0.0.1:{port}", "max_retries": 0},
    )
    with pytest.raises(APIConnectionError):
        both.chat()


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        (StreamFault("cut", after=2), r"before \[DONE\]"),
        (StreamFault("cut_done", after=2), "without a finish reason"),
        (StreamFault("no_finish"), "without a finish reason"),
        (StreamFault("malformed", after=2), "not JSON"),
        (StreamFault("error_mid_stream", after=2), "error in stream"),
        (StreamFault("bare_json_error", after=2), "upstream stream ended with an error"),
    ],
)
def test_broken_streams_raise_never_short_answers(
    both: Both, juhe_emulator: Emulator, fault: StreamFault, match: str
) -> None:
    juhe_emulator.enqueue(fault, path=CHAT)
    with pytest.raises(StreamError, match=match):
        both.stream()
    assert len(juhe_emulator.requests) == 1  # a started stream is never retried


def test_ping_comments_are_ignored(both: Both, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(StreamFault("ping"), path=CHAT)
    _, result = both.stream()
    assert result is not None and "France" in result.text


def test_idle_stream_watchdog(both: Both, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(StreamFault("stall", after=1, seconds=2.0), path=CHAT)
    with pytest.raises(APITimeoutError):
        both.stream(idle_timeout=0.3)


def test_http_200_with_error_object_is_typed(both: Both, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(
        Reply(
            body={"error": {"message": "upstream said no", "type": "upstream_error", "code": "x"}}
        ),
        path=CHAT,
    )
    with pytest.raises(JuheError, match="upstream said no"):
        both.chat()


def test_key_never_in_errors_or_reprs(kind: str, juhe_emulator: Emulator) -> None:
    key = juhe_emulator.api_key
    faults = [
        Fault(400),
        Fault(401),
        Fault(429, empty_body=True),
        Fault(503, code="model_not_found"),
    ]
    for fault in faults:
        juhe_emulator.enqueue(fault, path=CHAT)
        with pytest.raises(JuheError) as info:
            Both(kind, juhe_emulator, max_retries=0).chat()
        err = info.value
        assert key not in str(err) and key not in repr(err) and key not in repr(err.__dict__)
    client = JuheClient(api_key=key, base_url=juhe_emulator.base_url)
    assert key not in repr(client) and key not in repr(client.settings)
    client.close()


def test_caller_supplied_clients_are_used_and_left_open(juhe_emulator: Emulator) -> None:
    http = httpx.Client(headers={"X-Custom": "yes"})
    with JuheClient(
        api_key=juhe_emulator.api_key,
        base_url=juhe_emulator.base_url,
        http_client=http,
        default_headers={"X-Default": "d"},
    ) as client:
        assert client.chat(REQUEST).text
    assert not http.is_closed
    headers = juhe_emulator.requests[0].headers
    assert headers["x-custom"] == "yes" and headers["x-default"] == "d"
    http.close()

    async def main() -> None:
        ahttp = httpx.AsyncClient()
        async with AsyncJuheClient(
            api_key=juhe_emulator.api_key,
            base_url=juhe_emulator.base_url + "/v1/",
            http_client=ahttp,
        ) as client:
            assert (await client.chat(REQUEST)).text
        assert not ahttp.is_closed
        await ahttp.aclose()

    asyncio.run(main())


def test_embeddings_in_order_across_batches(both: Both, juhe_emulator: Emulator) -> None:
    texts = [f"text number {i}" for i in range(5)]
    result = both.run(
        lambda c: c.embed(texts, model="text-embedding-3-small", batch_size=2, dimensions=16)
    )
    assert len(result.vectors) == 5 and all(len(v) == 16 for v in result.vectors)
    bodies = [r.json for r in juhe_emulator.requests]
    # async batches run concurrently and may arrive in any order; the vectors may not
    assert sorted(b["input"] for b in bodies) == sorted([texts[0:2], texts[2:4], texts[4:5]])
    assert all(b["encoding_format"] == "base64" for b in bodies)
    single = both.run(lambda c: c.embed([texts[3]], model="text-embedding-3-small", dimensions=16))
    assert single.vectors[0] == pytest.approx(result.vectors[3])


def test_embeddings_accept_float_answers(both: Both, juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(
        Reply(
            body={
                "object": "list",
                "model": "m",
                "data": [{"object": "embedding", "index": 0, "embedding": [0.25, 0.5]}],
            }
        ),
        path="/v1/embeddings",
    )
    result = both.run(lambda c: c.embed(["x"], model="m"))
    assert result.vectors == [[0.25, 0.5]]


def test_model_list(both: Both) -> None:
    models = both.run(lambda c: c.list_models())
    by_id = {m.id: m for m in models}
    assert "gpt-4o-mini" in by_id
    assert "gemini" in by_id["gemini-2.5-flash"].supported_endpoint_types


@pytest.mark.parametrize("stream_body", [False, True], ids=["content-length", "chunked"])
def test_body_size_cap(kind: str, juhe_emulator: Emulator, stream_body: bool) -> None:
    # A non-stream call whose body is larger than max_body_bytes is refused, whether the
    # length is declared (JSON) or not (here an SSE body, chunked, read as a whole).
    request = ChatRequest(
        "gpt-4o-mini",
        [Message.text("user", "What is the capital of France?")],
        extra_body={"stream": True} if stream_body else {},
    )
    both = Both(kind, juhe_emulator, max_body_bytes=200, max_retries=0)
    with pytest.raises(StreamError, match="max_body_bytes"):
        both.chat(request)
    assert len(juhe_emulator.requests) == 1  # refused, not retried
    assert "France" in Both(kind, juhe_emulator).chat(REQUEST).text  # the default cap is ample


@pytest.mark.parametrize("suffix", ["\n", "\u00e9"], ids=["newline", "non-ascii"])
def test_unsendable_key_is_refused_before_sending_and_never_quoted(
    kind: str, juhe_emulator: Emulator, suffix: str
) -> None:
    key = juhe_emulator.api_key + suffix
    both = Both.__new__(Both)
    both.kind, both.kwargs = kind, {"base_url": juhe_emulator.base_url, "max_retries": 2}
    # Built through the client: the key is read from the environment on first use too.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUHE_API_KEY", key)
        with pytest.raises(ConfigurationError, match="JUHE_API_KEY") as info:
            both.chat()
    err = info.value
    for text in (str(err), repr(err), repr(err.__dict__), repr(err.__context__)):
        assert juhe_emulator.api_key not in text
    assert juhe_emulator.requests == []  # refused, not sent (nor retried)


@pytest.mark.parametrize(
    ("value", "error"),
    [("Bearer sk-secret\n", APIConnectionError), ("Bearer sk-s\u00e9cret", ConfigurationError)],
    ids=["newline", "non-ascii"],
)
def test_unsendable_header_error_never_quotes_the_request(
    juhe_emulator: Emulator, value: str, error: type[Exception]
) -> None:
    # Past the settings' checks (a codec's own header), httpx/h11 refuse the request and
    # their exception text quotes it; the translated error must not.
    from juhe_core._transport import AsyncTransport, Call, SyncTransport
    from juhe_core.settings import Settings

    settings = Settings.resolve(
        api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url, max_retries=0
    )
    call = Call("POST", CHAT, body={"model": "m"}, headers={"X-Secret": value})
    sync = SyncTransport(settings)
    with pytest.raises(error) as info:
        sync.send(call)
    sync.close()

    async def main() -> BaseException:
        transport = AsyncTransport(settings)
        try:
            with pytest.raises(error) as ainfo:
                await transport.send(call)
            assert transport._gate._value == 100  # the in-flight place was given back
            return ainfo.value
        finally:
            await transport.aclose()

    for err in (info.value, asyncio.run(main())):
        for text in (str(err), repr(err), repr(err.__dict__)):
            assert "sk-s" not in text and juhe_emulator.api_key not in text
    assert juhe_emulator.requests == []


@pytest.mark.parametrize("name", ["authorization", "AUTHORIZATION", "X-Api-Key", "x-goog-api-key"])
def test_default_headers_cannot_set_an_auth_header(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"default_headers may not set '{name}'"):
        JuheClient(api_key="sk-x", default_headers={name: "Bearer sk-other"})


def test_headers_merge_case_insensitively_and_auth_is_ours(juhe_emulator: Emulator) -> None:
    # The caller's own http_client may carry auth headers in any case; x-api-key would
    # replace the Bearer key on /v1/models (relay-behavior.md §2), so both must go.
    http = httpx.Client(headers={"authorization": "Bearer sk-wrongkey", "X-API-KEY": "sk-wrongkey"})
    with JuheClient(
        api_key=juhe_emulator.api_key,
        base_url=juhe_emulator.base_url,
        http_client=http,
        default_headers={"x-trace": "t1", "user-agent": "mine/1"},
    ) as client:
        assert client.list_models()
    http.close()
    headers = juhe_emulator.requests[0].headers
    assert headers["authorization"] == f"Bearer {juhe_emulator.api_key}"  # one, not joined
    assert "x-api-key" not in headers
    assert headers["x-trace"] == "t1" and headers["user-agent"] == "mine/1"


def test_a_call_header_cannot_replace_the_auth_header(juhe_emulator: Emulator) -> None:
    from juhe_core._transport import Call, SyncTransport
    from juhe_core.settings import Settings

    settings = Settings.resolve(api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url)
    transport = SyncTransport(settings)
    call = Call("GET", "/v1/models", headers={"AUTHORIZATION": "x", "x-goog-api-key": "y"})
    assert transport.send(call).status_code == 200
    transport.close()
    headers = juhe_emulator.requests[0].headers
    assert headers["authorization"] == f"Bearer {juhe_emulator.api_key}"
    assert "x-goog-api-key" not in headers


def test_body_size_cap_holds_for_a_stream_call_answered_without_a_stream(
    kind: str, juhe_emulator: Emulator
) -> None:
    # A stream request answered by a plain JSON 200 has its body read to find the error
    # in it: that read is capped too.
    big = {"object": "chat.completion", "padding": "x" * 5000}
    juhe_emulator.enqueue(Reply(body=big), path=CHAT)
    both = Both(kind, juhe_emulator, max_body_bytes=1000, max_retries=0)
    with pytest.raises(StreamError, match="max_body_bytes"):
        both.stream()
    juhe_emulator.enqueue(Reply(body={"object": "chat.completion"}), path=CHAT)
    with pytest.raises(StreamError, match="expected an event stream"):
        both.stream()  # under the cap: the body is read and reported


def test_a_closed_client_raises_a_typed_error(kind: str, juhe_emulator: Emulator) -> None:
    kwargs = {"api_key": juhe_emulator.api_key, "base_url": juhe_emulator.base_url}
    if kind == "sync":
        client = JuheClient(**kwargs)
        client.close()
        for op in (client.chat, client.chat_stream):
            with pytest.raises(ConfigurationError, match="client is closed"):
                op(REQUEST)
        with pytest.raises(ConfigurationError, match="client is closed"):
            client.list_models()
    else:

        async def main() -> None:
            client = AsyncJuheClient(**kwargs)
            await client.aclose()
            for op in (client.chat, client.chat_stream):
                with pytest.raises(ConfigurationError, match="client is closed"):
                    await op(REQUEST)
            transport = client._transport
            assert transport._gate._value == 100  # no in-flight place was kept

        asyncio.run(main())
    assert juhe_emulator.requests == []
