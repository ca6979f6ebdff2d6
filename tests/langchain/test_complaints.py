"""What users of ChatOpenAI & co. complain about behind a relay, each fixed and tested here.

(Reasoning round trips, streaming usage with a custom base URL, profiles for unknown
names, structured-output method mismatches and merged tool calls are in
``test_chat_models.py``; embeddings token arrays in ``test_embeddings.py``.)
Also: an LCEL chain and an agent, end to end, and the key never escaping.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import pickle
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain.agents import create_agent
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from juhe_core.errors import (
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    StreamError,
)
from juhe_core.testing import Emulator, Fault, Reply, StreamFault
from langchain_juhe import ChatJuhe, JuheEmbeddings

from .conftest import Both, require_route

CHAT = "/v1/chat/completions"
SECRET = "sk-Very-Secret-Key-0123456789"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


def chat(emu: Emulator, **kwargs: Any) -> ChatJuhe:
    return ChatJuhe(**{"base_url": emu.base_url, "api_key": emu.api_key, **kwargs})


def run_stream(both: Both, llm: ChatJuhe, text: str) -> list[Any]:
    async def collect() -> list[Any]:
        return [c async for c in llm.astream(text)]

    return both.run(llm, lambda: list(llm.stream(text)), collect)


# --- /v1/v1 base-URL mistakes ---


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_base_url_with_or_without_v1(emu: Emulator, suffix: str) -> None:
    llm = ChatJuhe(base_url=emu.base_url + suffix, api_key=emu.api_key)
    embeddings = JuheEmbeddings(base_url=emu.base_url + suffix, api_key=emu.api_key)
    llm.invoke("hi")
    embeddings.embed_query("hi")
    assert [r.path for r in emu.requests] == [CHAT, "/v1/embeddings"]


def test_base_url_and_key_from_the_environment(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUHE_BASE_URL", emu.base_url + "/v1/")
    monkeypatch.setenv("JUHE_API_KEY", emu.api_key)
    assert "hello" in ChatJuhe().invoke("hello").text
    assert emu.requests[-1].headers["authorization"] == f"Bearer {emu.api_key}"


def test_configuration_errors_name_the_fix(emu: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY"):
        ChatJuhe(base_url=emu.base_url).invoke("hi")
    with pytest.raises(ConfigurationError, match="absolute http"):
        ChatJuhe(base_url="api.juheai.top/v1", api_key="k").invoke("hi")
    assert emu.requests == []


# --- hung streams ---


def test_idle_stream_watchdog(both: Both, emu: Emulator) -> None:
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=3.0), path=CHAT)
    llm = chat(emu, stream_chunk_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        run_stream(both, llm, "Tell me a long story")
    assert time.monotonic() - started < 2.5


def test_keep_alive_comments_do_not_feed_the_watchdog(both: Both, emu: Emulator) -> None:
    """The relay's ``: PING`` comments keep bytes flowing while no event comes: the
    watchdog times events, as langchain-openai's stream_chunk_timeout times chunks."""
    emu.enqueue(StreamFault(kind="stall_pinging", after=2, seconds=3.0), path=CHAT)
    llm = chat(emu, stream_chunk_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(APITimeoutError, match="only keep-alive comments"):
        run_stream(both, llm, "Tell me a long story")
    assert time.monotonic() - started < 2.5


def test_pings_alone_never_cut_a_stream_without_a_watchdog(both: Both, emu: Emulator) -> None:
    emu.enqueue(StreamFault(kind="stall_pinging", after=2, seconds=0.6), path=CHAT)
    chunks = run_stream(both, chat(emu, timeout=0.3), "Tell me a story")  # reads keep coming
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


def test_a_slow_but_live_stream_is_not_cut(both: Both, emu: Emulator) -> None:
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=0.2), path=CHAT)
    chunks = run_stream(both, chat(emu, stream_chunk_timeout=2.0), "Tell me a story")
    assert chunks[-1].response_metadata["finish_reason"] == "stop"


# --- leaving a stream early: the connection closes at once (the emulator sees it) ---


@pytest.mark.parametrize("how", ["break", "close"])
def test_leaving_a_stream_early_closes_the_connection(emu: Emulator, how: str) -> None:
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=5.0), path=CHAT)
    llm = chat(emu, max_retries=0)
    if how == "break":
        for chunk in llm.stream("hello there"):
            if chunk.text:
                break  # the generator is dropped here, which closes it
    else:
        chunks = llm.stream("hello there")
        assert next(chunk for chunk in chunks if chunk.text)
        chunks.close()
    assert emu.wait_hangup()
    assert "again" in llm.invoke("again").text  # the pool is still healthy
    llm.close()


def test_cancelling_an_astream_task_closes_the_connection(emu: Emulator) -> None:
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=5.0), path=CHAT)
    llm = chat(emu, max_retries=0)

    async def main() -> bool:
        seen = asyncio.Event()

        async def consume() -> None:
            async for chunk in llm.astream("hello there"):
                if chunk.text:
                    seen.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(seen.wait(), 3.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Checked while the loop (and so the async client's pool) is still alive.
        closed = await asyncio.to_thread(emu.wait_hangup)
        assert "again" in (await llm.ainvoke("again")).text
        await llm.aclose()
        return closed

    assert asyncio.run(main())


@pytest.mark.parametrize("kind", ["cut", "cut_done", "error_mid_stream"])
def test_broken_streams_raise_instead_of_ending_short(both: Both, emu: Emulator, kind: str) -> None:
    emu.enqueue(StreamFault(kind=kind, after=2), path=CHAT)  # type: ignore[arg-type]
    with pytest.raises(StreamError):
        run_stream(both, chat(emu), "Tell me a story")


def test_request_timeout(both: Both, emu: Emulator) -> None:
    emu.enqueue(Reply(text="late", delay=2.0), path=CHAT)
    llm = chat(emu, timeout=0.3, max_retries=0)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        both.run(llm, lambda: llm.invoke("hi"), lambda: llm.ainvoke("hi"))
    assert time.monotonic() - started < 1.5


# --- retries ---


def test_retries_are_honoured(both: Both, emu: Emulator) -> None:
    # The relay's in-memory limiter answers 429 with an empty body and no Retry-After.
    emu.enqueue(Fault(status=429, empty_body=True), path=CHAT)
    llm = chat(emu, max_retries=1)
    answer = both.run(llm, lambda: llm.invoke("hi"), lambda: llm.ainvoke("hi"))
    assert "hi" in answer.text
    assert len(emu.requests) == 2


def test_retry_after_and_no_retries(both: Both, emu: Emulator) -> None:
    emu.enqueue(Fault(status=429, retry_after_ms="10"), Fault(status=429), path=CHAT)
    llm = chat(emu, max_retries=0)
    with pytest.raises(RateLimitError):
        both.run(llm, lambda: llm.invoke("hi"), lambda: llm.ainvoke("hi"))
    assert len(emu.requests) == 1
    with pytest.raises(RateLimitError):
        both.run(llm, lambda: llm.invoke("hi"), lambda: llm.ainvoke("hi"))


def test_permanent_errors_are_not_retried(emu: Emulator) -> None:
    emu.enqueue(Fault(status=503, code="model_not_found"), path=CHAT)
    with pytest.raises(NotFoundError):
        chat(emu, max_retries=3).invoke("hi")
    assert len(emu.requests) == 1


# --- custom HTTP clients (proxies, mTLS, transports) ---


def test_custom_sync_http_client_is_used_and_left_open(emu: Emulator) -> None:
    seen: list[str] = []
    client = httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]})
    llm = chat(emu, http_client=client)
    llm.invoke("hi")
    list(llm.stream("hi"))
    llm.close()
    assert seen == [CHAT, CHAT]
    assert not client.is_closed
    client.close()


def test_custom_async_http_client_is_used_and_left_open(emu: Emulator) -> None:
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async def main() -> bool:
        client = httpx.AsyncClient(event_hooks={"request": [hook]})
        llm = chat(emu, http_async_client=client)
        await llm.ainvoke("hi")
        [c async for c in llm.astream("hi")]
        await llm.aclose()
        still_open = not client.is_closed
        await client.aclose()
        return still_open

    assert asyncio.run(main())
    assert seen == [CHAT, CHAT]


def test_one_client_per_model_and_one_async_client_per_loop(emu: Emulator) -> None:
    llm = chat(emu)
    llm.invoke("a")
    first = llm._get_client()
    llm.invoke("b")
    assert llm._get_client() is first
    copied = llm.model_copy(update={"model": "gpt-4o"})
    assert copied._get_client() is not first and llm._get_client() is first
    deep = copy.deepcopy(llm)  # no locks or sockets are copied
    assert "deep" in deep.invoke("deep").text
    assert pickle.loads(pickle.dumps(llm)).model == "gpt-4o-mini"
    llm.base_url = emu.base_url + "/v1"  # changed settings: a new client
    assert llm._get_client() is not first
    # Two event loops (two asyncio.run calls): each gets working connections.
    assert "one" in asyncio.run(llm.ainvoke("one")).text
    assert "two" in asyncio.run(llm.ainvoke("two")).text
    llm.close()


# --- the key never escapes ---


def test_key_never_in_repr_str_dumps_or_tracing() -> None:
    llm = ChatJuhe(api_key=SECRET, model="gpt-4o")
    embeddings = JuheEmbeddings(api_key=SECRET)
    texts = [
        repr(llm),
        str(llm),
        dumps(llm),
        llm.model_dump_json(),
        str(llm.asdict()),
        str(llm._get_invocation_params()),
        str(llm._get_ls_params()),
        repr(embeddings),
        embeddings.model_dump_json(),
    ]
    for text in texts:
        assert SECRET not in text
    assert '"JUHE_API_KEY"' in dumps(llm)


def test_key_never_in_errors_urls_or_logs(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    llm = ChatJuhe(base_url=emu.base_url, api_key=SECRET, max_retries=0)
    with pytest.raises(AuthenticationError) as info:
        llm.invoke("hi")
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert SECRET not in caplog.text
    request = emu.requests[-1]
    assert SECRET not in request.path and SECRET not in str(request.query)
    assert request.headers["authorization"] == f"Bearer {SECRET}"  # only where it belongs


# --- LCEL and agents, end to end ---


def test_lcel_chain_streams(both: Both, emu: Emulator) -> None:
    llm = chat(emu)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You answer in one line."), ("human", "Tell me about {topic}")]
    )
    chain = prompt | llm | StrOutputParser()

    async def astream() -> list[str]:
        return [piece async for piece in chain.astream({"topic": "rivers"})]

    pieces = both.run(llm, lambda: list(chain.stream({"topic": "rivers"})), astream)
    assert len(pieces) > 1 and all(isinstance(p, str) for p in pieces)
    assert "Tell me about rivers" in "".join(pieces)
    assert emu.requests[-1].json["messages"][0] == {
        "role": "system",
        "content": "You answer in one line.",
    }


def test_agent_calls_a_tool_and_finishes(both: Both, emu: Emulator) -> None:
    llm = chat(emu)
    agent = create_agent(llm, tools=[get_weather], system_prompt="Use tools when useful.")
    state = {"messages": [("user", "What is the weather in Paris?")]}
    result = both.run(llm, lambda: agent.invoke(state), lambda: agent.ainvoke(state))
    messages = result["messages"]
    calls = [m for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    assert calls[0].tool_calls[0]["name"] == "get_weather"
    assert calls[0].tool_calls[0]["args"] == {"city": "Paris"}
    tool_results = [m for m in messages if isinstance(m, ToolMessage)]
    assert tool_results[0].content == "It is sunny in Paris."
    final = messages[-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert "sunny in Paris" in final.text
    assert len(emu.requests) == 2


def test_agent_with_a_scripted_model_turn(emu: Emulator) -> None:
    emu.enqueue(
        Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]),
        Reply(text="Oslo is sunny today."),
        path=CHAT,
    )
    agent = create_agent(chat(emu), tools=[get_weather])
    result = agent.invoke({"messages": [("user", "Weather?")]})
    assert result["messages"][-1].text == "Oslo is sunny today."
    assert emu.requests[-1].json["messages"][-1]["content"] == "It is sunny in Oslo."


# --- the README's examples run as written ---

README = Path(__file__).parents[2] / "langchain_juhe" / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def routes_needed(code: str) -> list[str]:
    """The route families an example needs beyond chat and embeddings."""
    routes = re.findall(r'api_format="(anthropic|gemini|responses)"', code)
    if "JuheToolkit" in code:
        routes.append("midjourney" if "midjourney" in code else "images")
    if "balance=True" in code:
        routes.append("billing")
    return routes


@pytest.mark.parametrize("code", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_readme_examples_run(
    code: str, emulator_env: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for route in routes_needed(code):
        require_route(emulator_env, route)
    monkeypatch.chdir(tmp_path)  # examples may save files (juhe-output/)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert emulator_env.requests, "the example made no request"


def test_peer_parameter_names_are_renamed_and_the_key_never_goes_into_the_body(
    emu: Emulator,
) -> None:
    """Code moving from ChatOpenAI / ChatAnthropic / ChatGoogleGenerativeAI keeps its
    keyword spellings; a key under any of them authenticates and is never sent as data."""
    import warnings

    from langchain_core.load import dumps

    for key_name, base_name, timeout_name, max_name in (
        ("openai_api_key", "openai_api_base", "request_timeout", "max_completion_tokens"),
        (
            "anthropic_api_key",
            "anthropic_api_url",
            "default_request_timeout",
            "max_tokens_to_sample",
        ),
        ("google_api_key", "base_url", "timeout", "max_output_tokens"),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # renamed, not moved into model_kwargs
            llm = ChatJuhe(
                **{key_name: emu.api_key, base_name: emu.base_url, timeout_name: 7, max_name: 5}
            )
        assert (llm.timeout, llm.max_tokens, llm.model_kwargs) == (7, 5, {})
        assert llm.invoke("hi").text
        sent = emu.requests[-1]
        assert emu.api_key not in str(sent.json)
        assert emu.api_key not in repr(llm) + str(llm) + dumps(llm)


def test_an_unknown_credential_keyword_is_refused_not_sent(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="no parameter 'azure_api_key'") as caught:
        ChatJuhe(azure_api_key="sk-secret-123", api_key=emu.api_key)
    assert "sk-secret-123" not in str(caught.value)
    with pytest.raises(ValueError, match="api_key given twice"):
        ChatJuhe(api_key=emu.api_key, openai_api_key=emu.api_key)
    with pytest.warns(UserWarning, match="prompt_cache_key is not a ChatJuhe parameter"):
        llm = ChatJuhe(api_key=emu.api_key, base_url=emu.base_url, prompt_cache_key="c1")
    llm.invoke("hi")
    assert emu.requests[-1].json["prompt_cache_key"] == "c1"  # a real body field still goes


def test_a_call_may_set_its_own_timeouts_and_they_are_never_sent(both: Both, emu: Emulator) -> None:
    from juhe_core.testing import Reply

    llm = chat(emu, timeout=30, max_retries=0)
    emu.enqueue(Reply(delay=2.0), path=CHAT)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        llm.invoke("hi", timeout=0.3)
    assert time.monotonic() - started < 1.5
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=3.0), path=CHAT)
    with pytest.raises(APITimeoutError):
        run_stream(both, llm.bind(stream_chunk_timeout=0.3), "Tell me a long story")
    llm.invoke("hi", timeout=5, stream_chunk_timeout=5)
    body = emu.requests[-1].json
    assert "timeout" not in body and "stream_chunk_timeout" not in body
