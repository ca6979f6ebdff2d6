"""Capability-aware dropping (warned once) and fallback models, against the emulator."""

from __future__ import annotations

import asyncio
import warnings

import pytest

from juhe_core import AsyncJuheClient, JuheClient
from juhe_core._adapt import CapabilityWarning, adapt_request
from juhe_core.errors import BadRequestError, NotFoundError
from juhe_core.messages import ChatRequest, Message, NamedToolChoice, TextDelta, ToolDefinition
from juhe_core.testing import Emulator, Fault

CHAT = "/v1/chat/completions"


def ask(model: str, **kw: object) -> ChatRequest:
    return ChatRequest(model, [Message.text("user", "Say hello")], **kw)  # type: ignore[arg-type]


def test_temperature_dropped_for_o_series_warned_once() -> None:
    with pytest.warns(CapabilityWarning, match="dropped for o3-mini-unique") as record:
        out = adapt_request(ask("o3-mini-unique", temperature=0.2, top_p=0.5), "openai")
    assert out.temperature is None and out.top_p is None
    assert sorted(str(w.message).split()[0] for w in record) == ["temperature", "top_p"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = adapt_request(ask("o3-mini-unique", temperature=0.2), "openai")
    assert again.temperature is None
    kept = adapt_request(ask("gpt-4o", temperature=0.2), "openai")
    assert kept.temperature == 0.2


def test_forced_tool_choice_with_anthropic_thinking_becomes_auto() -> None:
    request = ask(
        "claude-sonnet-4-x",
        tools=[ToolDefinition("f")],
        tool_choice=NamedToolChoice("f"),
        reasoning_effort="low",
    )
    with pytest.warns(CapabilityWarning, match="tool_choice"):
        assert adapt_request(request, "anthropic").tool_choice == "auto"
    assert adapt_request(request, "openai").tool_choice == NamedToolChoice("f")


def test_dropped_parameter_never_reaches_the_wire(juhe_emulator: Emulator) -> None:
    with (
        JuheClient(api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url) as c,
        pytest.warns(CapabilityWarning),
    ):
        c.chat(ask("o4-mini-wire", temperature=0.7))
    body = juhe_emulator.requests[0].json
    assert body is not None and "temperature" not in body


@pytest.mark.parametrize(
    ("fault", "attempts"),
    [(Fault(503, code="model_not_found"), 1), (Fault(429, retry_after="0"), 2)],
)
def test_fallback_models_sync_and_async(
    juhe_emulator: Emulator, fault: Fault, attempts: int
) -> None:
    # model_not_found is permanent (no retry); 429 is retried once (max_retries=1)
    kw = {"api_key": juhe_emulator.api_key, "base_url": juhe_emulator.base_url, "max_retries": 1}
    for _ in range(2):
        juhe_emulator.enqueue(*[fault] * attempts, path=CHAT)
        with JuheClient(**kw) as c:  # type: ignore[arg-type]
            result = c.chat(ask("primary-model"), fallback_models=["backup-model"])
            assert result.fallbacks == ("primary-model",)
            assert result.model == "backup-model"
        juhe_emulator.clear()
    juhe_emulator.enqueue(*[fault] * attempts, path=CHAT)

    async def main() -> None:
        async with AsyncJuheClient(**kw) as c:  # type: ignore[arg-type]
            stream = await c.chat_stream(ask("primary-model"), fallback_models=["backup-model"])
            text = "".join([d.text async for d in stream if isinstance(d, TextDelta)])
            assert text and stream.result is not None
            assert stream.result.fallbacks == ("primary-model",)

    asyncio.run(main())
    models = [r.json["model"] for r in juhe_emulator.requests if r.json]
    assert models[-1] == "backup-model" and models[0] == "primary-model"


def test_no_fallback_on_client_errors(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(Fault(400, message="bad"), path=CHAT)
    with (
        JuheClient(api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url) as c,
        pytest.raises(BadRequestError),
    ):
        c.chat(ask("primary-model"), fallback_models=["backup-model"])
    assert len(juhe_emulator.requests) == 1


def test_last_fallback_error_is_raised(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(*[Fault(503, code="model_not_found")] * 2, path=CHAT)
    with (
        JuheClient(api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url) as c,
        pytest.raises(NotFoundError),
    ):
        c.chat(ask("a-model"), fallback_models=["b-model"])
    assert [r.json["model"] for r in juhe_emulator.requests if r.json] == ["a-model", "b-model"]
