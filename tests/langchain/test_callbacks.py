"""``JuheUsageCallbackHandler`` and ``get_juhe_callback`` against the emulator, whose
billing routes report what its chat calls were charged."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from juhe_core.client import AsyncJuheClient, JuheClient
from juhe_core.errors import AuthenticationError
from juhe_core.testing import Emulator, Fault
from langchain_juhe import (
    ChatJuhe,
    JuheUsageCallbackHandler,
    aget_juhe_callback,
    get_juhe_callback,
)

SUBSCRIPTION = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"


def chat(emu: Emulator, model: str, **kwargs: object) -> ChatJuhe:
    return ChatJuhe(model=model, base_url=emu.base_url, api_key=emu.api_key, **kwargs)  # type: ignore[arg-type]


def client(emu: Emulator, **kwargs: Any) -> JuheClient:
    return JuheClient(base_url=emu.base_url, api_key=emu.api_key, **kwargs)


def test_usage_is_added_up_per_model(emu: Emulator) -> None:
    handler = JuheUsageCallbackHandler()
    config = {"callbacks": [handler]}
    mini, big = chat(emu, "gpt-4o-mini"), chat(emu, "gpt-4o")
    answers: list[AIMessage] = [mini.invoke("hello", config=config)]
    full = None
    for chunk in big.stream("a longer question about rivers", config=config):
        full = chunk if full is None else full + chunk
    assert isinstance(full, AIMessage)
    answers += [full, mini.invoke("hello again", config=config)]
    usage = [a.usage_metadata for a in answers]
    assert all(u is not None for u in usage)
    assert set(handler.usage_metadata) == {"gpt-4o-mini", "gpt-4o"}
    mini_total = handler.usage_metadata["gpt-4o-mini"]["total_tokens"]
    assert mini_total == usage[0]["total_tokens"] + usage[2]["total_tokens"]  # type: ignore[index]
    assert handler.usage_metadata["gpt-4o"]["output_tokens"] == usage[1]["output_tokens"]  # type: ignore[index]
    assert handler.total_tokens == sum(u["total_tokens"] for u in usage)  # type: ignore[index]
    assert handler.total_usage["input_tokens"] == sum(u["input_tokens"] for u in usage)  # type: ignore[index]
    mini.close()
    big.close()


def test_a_fallback_is_counted_under_the_model_that_answered(emu: Emulator) -> None:
    emu.enqueue(Fault(status=503, code="model_not_found"), path="/v1/chat/completions")
    llm = chat(emu, "gpt-4o-mini", max_retries=0, fallback_models=["gpt-4.1"])
    with get_juhe_callback() as cb:
        llm.invoke("hi")
    assert list(cb.usage_metadata) == ["gpt-4.1"]
    assert cb.balance_before is None and cb.spent_usd is None  # not asked for
    assert [r.path for r in emu.requests] == ["/v1/chat/completions"] * 2
    llm.close()


def test_get_juhe_callback_reads_the_balance_before_and_after(emu: Emulator) -> None:
    llm = chat(emu, "gpt-4o-mini")
    with client(emu) as balance_client:
        with get_juhe_callback(balance=True, client=balance_client) as cb:
            inside = llm.invoke("hi " * 50)
        llm.invoke("not counted: outside the block")
        later = balance_client.balance()
    before, after = cb.balance_before, cb.balance_after
    assert before is not None and after is not None
    assert before.limit_usd == after.limit_usd > 0
    assert cb.spent_usd is not None and cb.spent_usd > 0  # the emulator charged the call
    assert cb.spent_usd == round(after.used_usd - before.used_usd, 6)
    assert later.used_usd > after.used_usd  # the call after the block is not in spent_usd
    assert inside.usage_metadata is not None
    assert cb.usage_metadata == {"gpt-4o-mini": inside.usage_metadata}
    assert f"spent_usd={cb.spent_usd}" in repr(cb)
    billing = [r.path for r in emu.requests if "billing" in r.path]
    assert billing == [SUBSCRIPTION, USAGE] * 3
    llm.close()


def test_get_juhe_callback_makes_its_own_client_from_the_environment(
    emulator_env: Emulator,
) -> None:
    with get_juhe_callback(balance=True) as cb:  # key and URL from JUHE_*
        pass
    assert cb.spent_usd == 0.0
    assert [r.path for r in emulator_env.requests] == [SUBSCRIPTION, USAGE] * 2


def test_aget_juhe_callback(emu: Emulator) -> None:
    llm = chat(emu, "gpt-4o")

    async def main() -> JuheUsageCallbackHandler:
        async with (
            AsyncJuheClient(base_url=emu.base_url, api_key=emu.api_key) as balance_client,
            aget_juhe_callback(balance=True, client=balance_client) as cb,
        ):
            await asyncio.gather(llm.ainvoke("one"), llm.ainvoke("two"))
        await llm.aclose()
        return cb

    cb = asyncio.run(main())
    assert cb.spent_usd is not None and cb.spent_usd > 0
    assert cb.usage_metadata["gpt-4o"]["total_tokens"] > 0


def test_balance_errors_are_not_swallowed(emu: Emulator) -> None:
    wrong = JuheClient(base_url=emu.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(AuthenticationError), get_juhe_callback(balance=True, client=wrong):
        pass
