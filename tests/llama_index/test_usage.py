"""``JuheUsageHandler``: tokens per model over a run, and the balance before and after.

LLM calls go to the emulator with scripted usage, so every expected count is known. The
emulator has no billing routes yet, so the balance is read from ``MockRelay``.
"""

from __future__ import annotations

import asyncio
import pickle
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ChatResponse
from llama_index.core.instrumentation import root_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent

from juhe_core.testing import Emulator, Fault, Reply
from llama_index_juhe import (
    EmbeddingUsageEvent,
    Juhe,
    JuheEmbedding,
    JuheUsageHandler,
    ModelUsage,
)

from .conftest import user
from .relay import BASE, KEY, MockRelay

CHAT = "/v1/chat/completions"


def usage(prompt: int, completion: int) -> dict[str, int]:
    total = prompt + completion  # Reply.usage overlays fields; the total is not recomputed
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def test_counts_per_model_across_chat_stream_and_complete(emu: Emulator, make_llm: Any) -> None:
    mini, big = make_llm(model="gpt-4o-mini"), make_llm(model="gpt-4o")
    emu.enqueue(
        Reply(text="a", usage=usage(10, 1)),
        Reply(text="b", usage=usage(20, 2)),
        Reply(text="c", usage=usage(30, 3)),
        path=CHAT,
    )
    handler = JuheUsageHandler()
    with handler.track() as tracked:
        mini.chat(user("one"))
        "".join(c.delta or "" for c in big.stream_chat(user("two")))  # counted once, at the end
        mini.complete("three")
    assert tracked is handler
    assert handler.usage["gpt-4o-mini"] == ModelUsage(
        calls=2, prompt_tokens=40, completion_tokens=4, total_tokens=44
    )
    assert handler.usage["gpt-4o"] == ModelUsage(
        calls=1, prompt_tokens=20, completion_tokens=2, total_tokens=22
    )
    assert handler.total.total_tokens == 66 and handler.total.calls == 3


def test_only_calls_inside_track_are_counted(emu: Emulator, llm: Juhe) -> None:
    handler = JuheUsageHandler()
    llm.complete("before")
    with handler.track():
        llm.complete("inside")
    llm.complete("after")
    assert handler.usage["gpt-4o-mini"].calls == 1
    assert all(h is not handler for h in root_dispatcher.event_handlers)
    handler.reset()
    assert handler.usage == {} and handler.total == ModelUsage()


def test_an_agent_run_is_counted_call_by_call(emu: Emulator, llm: Juhe) -> None:
    def multiply(a: int, b: int) -> int:
        """Multiply two integers."""
        return a * b

    emu.enqueue(
        Reply(tool_calls=[{"name": "multiply", "arguments": {"a": 6, "b": 7}}], usage=usage(50, 5)),
        Reply(text="42", usage=usage(70, 7)),
        path=CHAT,
    )
    handler = JuheUsageHandler()

    async def run() -> str:
        async with handler.atrack():
            try:
                return str(await FunctionAgent(tools=[multiply], llm=llm).run("6 times 7?"))
            finally:
                await llm.aclose()

    assert "42" in asyncio.run(run())
    assert handler.usage["gpt-4o-mini"] == ModelUsage(
        calls=2, prompt_tokens=120, completion_tokens=12, total_tokens=132
    )


def test_a_fallback_answer_is_counted_under_the_model_that_answered(
    emu: Emulator, make_llm: Any
) -> None:
    llm = make_llm(model="gpt-4o", fallback_models=["deepseek-chat"], max_retries=0)
    emu.enqueue(Fault(status=503), Reply(text="ok", usage=usage(9, 1)), path=CHAT)
    handler = JuheUsageHandler()
    with handler.track():
        llm.complete("hi")
    assert list(handler.usage) == ["deepseek-chat"]
    assert handler.usage["deepseek-chat"].prompt_tokens == 9


def test_embedding_tokens_are_counted_per_embedding_model(
    emu: Emulator, llama_settings: None, embed_model: JuheEmbedding
) -> None:
    handler = JuheUsageHandler()
    with handler.track():
        VectorStoreIndex.from_documents([Document(text="Paris is in France."), Document(text="x")])
    counted = handler.usage["text-embedding-3-small"]
    assert counted.calls >= 1 and counted.prompt_tokens > 0
    assert (counted.completion_tokens, counted.total_tokens) == (0, counted.prompt_tokens)


def test_counts_from_other_integrations_and_empty_events_are_read_safely() -> None:
    """OpenAI-SDK objects in ``raw`` (other integrations) and a stream closed early."""
    handler = JuheUsageHandler()
    sdk_raw = SimpleNamespace(
        model="gpt-4.1", usage=SimpleNamespace(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    )
    message = ChatMessage(role="assistant", content="x")
    handler.handle(
        LLMChatEndEvent(messages=[], response=ChatResponse(message=message, raw=sdk_raw))
    )
    handler.handle(LLMChatEndEvent(messages=[], response=None))
    handler.handle(LLMChatEndEvent(messages=[], response=ChatResponse(message=message)))
    assert handler.usage["gpt-4.1"] == ModelUsage(
        calls=1, prompt_tokens=3, completion_tokens=4, total_tokens=7
    )
    assert handler.usage["unknown"].calls == 1  # seen, no counts


# --- balance ---


def billing(relay: MockRelay, *used_cents: int) -> None:
    for cents in used_cents:
        relay.add(
            "/v1/dashboard/billing/subscription", httpx.Response(200, json={"hard_limit_usd": 100})
        )
        relay.add("/v1/dashboard/billing/usage", httpx.Response(200, json={"total_usage": cents}))


def test_the_balance_is_read_before_and_after_when_asked(emu: Emulator, llm: Juhe) -> None:
    relay = MockRelay()
    billing(relay, 1234, 1500)
    sync_http, _ = relay.http_clients()
    handler = JuheUsageHandler(api_key=KEY, api_base=BASE, http_client=sync_http)
    with handler.track(balance=True):
        assert handler.balance_before is not None and handler.balance_after is None
        llm.complete("hi")
    assert handler.balance_before.used_usd == 12.34
    assert handler.balance_after is not None and handler.balance_after.remaining_usd == 85.0
    assert handler.spent_usd == 2.66
    assert [r.url.path for r in relay.requests].count("/v1/dashboard/billing/usage") == 2
    assert handler.usage["gpt-4o-mini"].calls == 1


def test_the_balance_is_read_with_the_async_client_in_atrack() -> None:
    relay = MockRelay()
    billing(relay, 100, 175)
    _, async_http = relay.http_clients()
    handler = JuheUsageHandler(api_key=KEY, api_base=BASE, async_http_client=async_http)

    async def run() -> None:
        async with handler.atrack(balance=True):
            pass

    asyncio.run(run())
    assert handler.spent_usd == 0.75
    assert len(relay.requests) == 4


def test_no_balance_unless_asked() -> None:
    handler = JuheUsageHandler(api_key=KEY, api_base=BASE)
    with handler.track():
        pass
    assert (handler.balance_before, handler.balance_after, handler.spent_usd) == (None, None, None)


def test_the_key_never_appears_in_the_handler_and_counts_survive_a_pickle() -> None:
    handler = JuheUsageHandler(api_key=KEY, api_base=BASE)
    handler.handle(EmbeddingUsageEvent(model="bge-m3", prompt_tokens=5))
    assert KEY not in repr(handler) and KEY not in str(handler.model_dump())
    data = pickle.dumps(handler)
    assert KEY.encode() not in data
    copy = pickle.loads(data)
    assert copy.usage == handler.usage and copy.api_base == BASE
    copy.handle(EmbeddingUsageEvent(model="bge-m3", prompt_tokens=1))  # a working lock again
    assert copy.usage["bge-m3"].prompt_tokens == 6
    assert JuheUsageHandler.class_name() == "JuheUsageHandler"


@pytest.mark.parametrize("fail", ["subscription", "usage"])
def test_a_failed_balance_read_is_a_typed_error(fail: str) -> None:
    from juhe_core.errors import APIError

    relay = MockRelay()
    relay.add(
        f"/v1/dashboard/billing/{fail}", httpx.Response(401, json={"error": {"message": "no"}})
    )
    relay.add("/v1/dashboard/billing/subscription", httpx.Response(200, json={"hard_limit_usd": 1}))
    sync_http, _ = relay.http_clients()
    handler = JuheUsageHandler(api_key=KEY, api_base=BASE, http_client=sync_http)
    with pytest.raises(APIError), handler.track(balance=True):
        pass
    assert all(h is not handler for h in root_dispatcher.event_handlers)


def test_the_balance_from_the_emulators_billing_routes(emu: Emulator, llm: Juhe) -> None:
    handler = JuheUsageHandler(api_key=emu.api_key, api_base=emu.base_url)
    with handler.track(balance=True):
        llm.complete("hi")
    assert handler.balance_before is not None and handler.balance_before.limit_usd == 100.0
    assert handler.spent_usd is not None and handler.spent_usd >= 0
    paths = [r.path for r in emu.requests]
    assert paths.count("/v1/dashboard/billing/subscription") == 2
    handler.close()
