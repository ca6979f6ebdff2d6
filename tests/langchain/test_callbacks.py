"""``JuheUsageCallbackHandler`` and ``get_juhe_callback``: chat on the emulator.

The emulator has no billing routes yet (``/v1/dashboard/billing/*`` is a 404 there), so
balances come from a ``Billing`` mock relay given to the balance client as its http client.
"""

from __future__ import annotations

import asyncio

import httpx
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


class Billing:
    """A mock relay answering the two billing routes; ``cents`` are used in turn."""

    def __init__(self, *cents_used: int, status: int = 200) -> None:
        self.cents = list(cents_used)
        self.status = status
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.status != 200:
            return httpx.Response(self.status, json={"error": {"message": "bad key"}})
        if request.url.path == SUBSCRIPTION:
            return httpx.Response(
                200, json={"object": "billing_subscription", "hard_limit_usd": 100}
            )
        return httpx.Response(200, json={"object": "list", "total_usage": self.cents.pop(0)})

    def client(self) -> JuheClient:
        http = httpx.Client(transport=httpx.MockTransport(self))
        return JuheClient(base_url="https://relay.test", api_key="sk-test", http_client=http)

    def aclient(self) -> AsyncJuheClient:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return AsyncJuheClient(base_url="https://relay.test", api_key="sk-test", http_client=http)


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
    billing = Billing(1_000, 1_250)  # hundredths of a dollar
    llm = chat(emu, "gpt-4o-mini")
    with get_juhe_callback(balance=True, client=billing.client()) as cb:
        inside = llm.invoke("hi")
    llm.invoke("not counted: outside the block")
    assert cb.balance_before is not None and cb.balance_before.used_usd == 10.0
    assert cb.balance_after is not None and cb.balance_after.remaining_usd == 87.5
    assert cb.spent_usd == 2.5
    assert list(cb.usage_metadata) == ["gpt-4o-mini"]
    assert inside.usage_metadata is not None
    assert cb.usage_metadata["gpt-4o-mini"] == inside.usage_metadata
    assert "spent_usd=2.5" in repr(cb)
    llm.close()


def test_get_juhe_callback_makes_its_own_client(emulator_env: Emulator) -> None:
    billing = Billing(0, 3)
    http = httpx.Client(transport=httpx.MockTransport(billing))
    with get_juhe_callback(balance=True, http_client=http) as cb:  # key and URL from JUHE_*
        pass
    assert cb.spent_usd == 0.03
    assert billing.paths == [SUBSCRIPTION, USAGE] * 2
    assert not http.is_closed  # a client given by the caller stays open


def test_aget_juhe_callback(emu: Emulator) -> None:
    billing = Billing(500, 700)
    llm = chat(emu, "gpt-4o")

    async def main() -> JuheUsageCallbackHandler:
        async with aget_juhe_callback(balance=True, client=billing.aclient()) as cb:
            await asyncio.gather(llm.ainvoke("one"), llm.ainvoke("two"))
        await llm.aclose()
        return cb

    cb = asyncio.run(main())
    assert cb.spent_usd == 2.0
    assert cb.usage_metadata["gpt-4o"]["total_tokens"] > 0


def test_balance_errors_are_not_swallowed() -> None:
    with (
        pytest.raises(AuthenticationError),
        get_juhe_callback(balance=True, client=Billing(status=401).client()),
    ):
        pass
