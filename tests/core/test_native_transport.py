"""The client's native codecs (anthropic, gemini, responses) against the emulator, sync and async.

The emulator follows relay-behavior.md and the vendors' documented formats; where the
client disagrees, the test is an ``xfail(strict=True)`` naming the codec bug.
"""

from __future__ import annotations

import asyncio
import io
import json
import warnings
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from juhe_core import AsyncJuheClient, JuheClient
from juhe_core.errors import (
    BadRequestError,
    InternalServerError,
    StreamError,
    UnsupportedFeatureError,
)
from juhe_core.messages import (
    AudioPart,
    ChatRequest,
    ChatResult,
    ImagePart,
    JsonSchemaFormat,
    Message,
    ReasoningPart,
    TextDelta,
    TextPart,
    ToolDefinition,
    ToolResultPart,
)
from juhe_core.testing import Emulator, Fault, Reply, StreamFault
from juhe_core.testing._media import png

pytestmark = pytest.mark.timeout(30)

FORMATS = {
    "anthropic": "claude-sonnet-4-20250514",
    "gemini": "gemini-2.5-flash",
    "responses": "gpt-4.1",
}
QUESTION = [Message.text("user", "What is the weather in 'Paris' for 3 days?")]
WEATHER = ToolDefinition(
    name="get_weather",
    description="Get the weather forecast for a city.",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
)


def run(kind: str, emu: Emulator, op: Callable[[Any], Any]) -> Any:
    """``op`` on a sync or an async client (awaiting what it returns)."""
    kwargs = {"api_key": emu.api_key, "base_url": emu.base_url, "max_retries": 0}
    if kind == "sync":
        with JuheClient(**kwargs) as client:
            return op(client)

    async def main() -> Any:
        async with AsyncJuheClient(**kwargs) as client:
            result = op(client)
            while asyncio.iscoroutine(result):
                result = await result
            return result

    return asyncio.run(main())


def chat(kind: str, emu: Emulator, request: ChatRequest, fmt: str, stream: bool) -> ChatResult:
    """One call, streamed or not; the stream is drained and its result returned."""
    if not stream:
        result: ChatResult = run(kind, emu, lambda c: c.chat(request, api_format=fmt))
        return result

    def drain_sync(client: JuheClient) -> ChatResult | None:
        with client.chat_stream(request, api_format=fmt) as s:
            list(s)
            return s.result

    async def drain_async(client: AsyncJuheClient) -> ChatResult | None:
        async with await client.chat_stream(request, api_format=fmt) as s:
            async for _ in s:
                pass
            return s.result

    done = run(kind, emu, drain_sync if kind == "sync" else drain_async)
    assert done is not None
    return done  # type: ignore[no-any-return]


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_text_answer(juhe_emulator: Emulator, kind: str, fmt: str, stream: bool) -> None:
    result = chat(kind, juhe_emulator, ChatRequest(FORMATS[fmt], QUESTION), fmt, stream)
    assert result.finish_reason == "stop"
    assert result.text == "Emulator reply to: \"What is the weather in 'Paris' for 3 days?\"."
    assert result.usage is not None and result.usage.output_tokens > 0
    assert result.request_id == juhe_emulator.requests[-1].request_id


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_tool_call_with_reasoning(
    juhe_emulator: Emulator, kind: str, fmt: str, stream: bool
) -> None:
    request = ChatRequest(FORMATS[fmt], QUESTION, tools=[WEATHER], thinking_budget=2048)
    result = chat(kind, juhe_emulator, request, fmt, stream)
    assert result.finish_reason == "tool_calls"
    (call,) = result.tool_calls
    assert (
        call.name == "get_weather"
        and call.arguments.replace(" ", "") == '{"city":"Paris","days":3}'
    )
    (reasoning,) = [p for p in result.parts if isinstance(p, ReasoningPart)]
    assert reasoning.text.startswith("The user asks")
    if fmt != "responses":  # Claude and Gemini sign their thinking
        assert reasoning.signature


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_history_with_signatures_round_trips(juhe_emulator: Emulator, fmt: str) -> None:
    request = ChatRequest(FORMATS[fmt], QUESTION, tools=[WEATHER], thinking_budget=2048)
    first = chat("sync", juhe_emulator, request, fmt, stream=False)
    call = first.tool_calls[0]
    result_part = ToolResultPart(tool_call_id=call.id, content="Sunny", name="get_weather")
    history = [*QUESTION, Message("assistant", first.parts), Message("tool", [result_part])]
    second = chat(
        "sync", juhe_emulator, ChatRequest(FORMATS[fmt], history, tools=[WEATHER]), fmt, False
    )
    assert "get_weather tool returned" in second.text and "Sunny" in second.text
    sent = str(juhe_emulator.requests[-1].json)
    if fmt == "anthropic":
        assert "'signature': " in sent and "'tool_result'" in sent
    elif fmt == "gemini":
        assert "'thoughtSignature': " in sent and "'functionResponse'" in sent


def test_gemini_structured_output_and_modalities(juhe_emulator: Emulator, kind: str) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    }
    fmt = JsonSchemaFormat(name="forecast", schema=schema)
    model = FORMATS["gemini"]
    structured = chat(
        kind, juhe_emulator, ChatRequest(model, QUESTION, response_format=fmt), "gemini", False
    )
    assert structured.text.replace(" ", "") == '{"city":"Paris","days":3}'
    media = ChatRequest(model, QUESTION, modalities=["text", "image", "audio"])
    parts = chat(kind, juhe_emulator, media, "gemini", True).parts
    image = next(p for p in parts if isinstance(p, ImagePart))
    audio = next(p for p in parts if isinstance(p, AudioPart))
    assert image.data is not None and image.data.startswith(b"\x89PNG")
    assert audio.mime_type == "audio/wav" and audio.data.startswith(b"RIFF")  # from raw PCM
    with wave.open(io.BytesIO(audio.data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24_000)
        assert w.getnframes() == (len(audio.data) - 44) // 2 > 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_gemini_safety_block_is_a_typed_error(
    juhe_emulator: Emulator, kind: str, stream: bool
) -> None:
    juhe_emulator.enqueue(Reply(text="Step one: gather the", finish_reason="content_filter"))
    error = StreamError if stream else BadRequestError
    with pytest.raises(error) as caught:
        chat(kind, juhe_emulator, ChatRequest(FORMATS["gemini"], QUESTION), "gemini", stream)
    assert caught.value.code == "SAFETY" and caught.value.type == "answer_blocked"
    assert "HARM_CATEGORY_DANGEROUS_CONTENT: HIGH" in caught.value.message
    assert caught.value.request_id == juhe_emulator.requests[-1].request_id


def test_gemini_fixture_block_after_partial_text_on_the_wire(juhe_emulator: Emulator) -> None:
    raw = (Path(__file__).parents[1] / "fixtures" / "gemini" / "blocked_stream.sse").read_text()
    chunks = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    juhe_emulator.enqueue(Reply(chunks=chunks))
    delivered: list[str] = []
    with JuheClient(api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url) as client:
        request = ChatRequest(FORMATS["gemini"], QUESTION)
        stream = client.chat_stream(request, api_format="gemini")
        with stream, pytest.raises(StreamError, match="blocked the answer"):
            for delta in stream:
                if isinstance(delta, TextDelta):
                    delivered.append(delta.text)
    assert "".join(delivered) == "First, gather the following materials:"


def test_gemini_pro_minimal_effort_is_accepted(juhe_emulator: Emulator) -> None:
    request = ChatRequest("gemini-2.5-pro", QUESTION, reasoning_effort="minimal")
    assert chat("sync", juhe_emulator, request, "gemini", False).finish_reason == "stop"
    config = juhe_emulator.requests[-1].json["generationConfig"]["thinkingConfig"]
    assert config["thinkingBudget"] == 128
    off = {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}
    with pytest.raises(BadRequestError, match="only works in thinking mode"):
        chat(
            "sync",
            juhe_emulator,
            ChatRequest("gemini-2.5-pro", QUESTION, extra_body=off),
            "gemini",
            False,
        )


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_image_input_is_seen(juhe_emulator: Emulator, fmt: str) -> None:
    message = Message(
        "user", [TextPart("Describe this."), ImagePart(data=png("x"), mime_type="image/png")]
    )
    result = chat("sync", juhe_emulator, ChatRequest(FORMATS[fmt], [message]), fmt, False)
    assert "I received 1 image." in result.text


def _cached(text: str) -> TextPart:
    return TextPart(text, {"cache_control": {"type": "ephemeral"}})


def test_anthropic_cache_usage(juhe_emulator: Emulator) -> None:
    context = Message("user", [_cached("Shared context " * 40), TextPart("What is in it?")])
    request = ChatRequest(FORMATS["anthropic"], [context])
    first = chat("sync", juhe_emulator, request, "anthropic", False).usage
    second = chat("sync", juhe_emulator, request, "anthropic", True).usage
    assert first is not None and second is not None
    assert first.cache_write_tokens > 0 and first.cache_read_tokens == 0
    assert second.cache_read_tokens == first.cache_write_tokens
    assert second.input_tokens == first.input_tokens  # cached tokens are counted as input


def test_anthropic_system_cache_control_is_sent(juhe_emulator: Emulator) -> None:
    # text no other test caches: the emulator's simulated prompt cache lives per session
    system = Message("system", [_cached("System-only cached context " * 40)])
    request = ChatRequest(FORMATS["anthropic"], [system, *QUESTION])
    usage = chat("sync", juhe_emulator, request, "anthropic", False).usage
    assert usage is not None and usage.cache_write_tokens > 0


@pytest.mark.parametrize(
    "fault", ["cut", "bare_json_error", "error_mid_stream", "malformed"], ids=str
)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_broken_streams_raise(juhe_emulator: Emulator, kind: str, fmt: str, fault: str) -> None:
    juhe_emulator.enqueue(StreamFault(fault, after=2))  # type: ignore[arg-type]
    with pytest.raises(StreamError) as caught:
        chat(kind, juhe_emulator, ChatRequest(FORMATS[fmt], QUESTION), fmt, True)
    if fault == "bare_json_error":
        # The JSON appended after the stream (relay-behavior.md §10) is the error raised:
        # on /v1/messages the upstream overloaded_error, elsewhere the relay's own error.
        type_, text, code = BARE_ERRORS[fmt]
        error = caught.value
        assert (error.type, error.code) == (type_, code) and text in error.message
        assert error.request_id == juhe_emulator.requests[-1].request_id
        assert error.body is not None and error.body["error"]["type"] == type_


BARE_ERRORS = {
    "anthropic": ("overloaded_error", "Overloaded", None),
    "gemini": ("new_api_error", "upstream stream ended with an error", "bad_response"),
    "responses": ("new_api_error", "upstream stream ended with an error", "bad_response"),
}


@pytest.mark.parametrize("fmt", ["anthropic", "responses"])
def test_pings_are_ignored(juhe_emulator: Emulator, fmt: str) -> None:
    juhe_emulator.enqueue(StreamFault("ping", after=1), StreamFault("stall", after=2, seconds=0.1))
    for _ in range(2):
        assert chat("sync", juhe_emulator, ChatRequest(FORMATS[fmt], QUESTION), fmt, True).text


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_errors_are_typed(juhe_emulator: Emulator, kind: str, fmt: str) -> None:
    juhe_emulator.enqueue(Fault(500))
    with pytest.raises(InternalServerError) as caught:
        chat(kind, juhe_emulator, ChatRequest(FORMATS[fmt], QUESTION), fmt, False)
    assert caught.value.request_id == juhe_emulator.requests[-1].request_id


def test_anthropic_upstream_rejection_is_a_bad_request(juhe_emulator: Emulator) -> None:
    # The codec refuses this before sending (max_tokens must exceed the budget); extra_body
    # goes out as given, so the relay's own rejection is what comes back.
    thinking = {"thinking": {"type": "enabled", "budget_tokens": 2048}}
    request = ChatRequest(FORMATS["anthropic"], QUESTION, max_tokens=1500, extra_body=thinking)
    with pytest.raises(BadRequestError) as caught:
        chat("sync", juhe_emulator, request, "anthropic", False)
    assert caught.value.type is None  # the relay's "<nil>"
    assert "budget_tokens" in caught.value.message


def test_forced_tool_choice_is_dropped_with_thinking(juhe_emulator: Emulator) -> None:
    request = ChatRequest(
        FORMATS["anthropic"],
        QUESTION,
        tools=[WEATHER],
        tool_choice="required",
        thinking_budget=2048,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = chat("sync", juhe_emulator, request, "anthropic", False)
    assert result.finish_reason == "tool_calls"
    assert any("tool_choice" in str(w.message) for w in caught)


def test_anthropic_thinking_mistakes_are_refused_before_sending(juhe_emulator: Emulator) -> None:
    for fields in ({"thinking_budget": 512}, {"thinking_budget": 2048, "max_tokens": 2048}):
        request = ChatRequest(FORMATS["anthropic"], QUESTION, **fields)  # type: ignore[arg-type]
        with pytest.raises(UnsupportedFeatureError, match="thinking_budget"):
            chat("sync", juhe_emulator, request, "anthropic", False)
    assert juhe_emulator.requests == []


def test_temperature_is_dropped_with_anthropic_thinking(juhe_emulator: Emulator) -> None:
    request = ChatRequest(FORMATS["anthropic"], QUESTION, temperature=0.3, thinking_budget=2048)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = chat("sync", juhe_emulator, request, "anthropic", False)
    assert result.finish_reason == "stop"


def test_responses_error_event_keeps_its_message(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(StreamFault("error_mid_stream", after=2))
    with pytest.raises(StreamError) as caught:
        chat("sync", juhe_emulator, ChatRequest(FORMATS["responses"], QUESTION), "responses", True)
    assert "server had an error" in caught.value.message and caught.value.code == "server_error"


def test_auto_format_uses_the_model_list(juhe_emulator: Emulator) -> None:
    def op(client: JuheClient) -> list[ChatResult]:
        client.list_models()
        return [client.chat(ChatRequest(m, QUESTION), api_format="auto") for m in FORMATS.values()]

    results = run("sync", juhe_emulator, op)
    paths = [r.path for r in juhe_emulator.requests if r.method == "POST"]
    assert paths == [
        "/v1/messages",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1/chat/completions",
    ]
    assert all(r.finish_reason == "stop" for r in results)


HOUSE_MODELS = [
    {"id": "house-claude", "owned_by": "custom", "supported_endpoint_types": ["anthropic"]},
    {"id": "house-gemini", "owned_by": "custom", "supported_endpoint_types": ["gemini", "openai"]},
    {"id": "claude-via-openai", "owned_by": "custom", "supported_endpoint_types": ["openai"]},
]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_auto_format_reads_the_model_list_once_by_itself(kind: str) -> None:
    """Names that say nothing (or the wrong thing): only the model list knows the format."""
    models = ("house-claude", "house-gemini", "claude-via-openai")

    def op_sync(client: JuheClient) -> None:
        for model in models:
            client.chat(ChatRequest(model, QUESTION), api_format="auto")
        with client.chat_stream(ChatRequest(models[0], QUESTION), api_format="auto") as s:
            list(s)

    async def op_async(client: AsyncJuheClient) -> None:
        for model in models:
            await client.chat(ChatRequest(model, QUESTION), api_format="auto")
        async with await client.chat_stream(
            ChatRequest(models[0], QUESTION), api_format="auto"
        ) as s:
            async for _ in s:
                pass

    with Emulator(models=HOUSE_MODELS) as emu:
        run(kind, emu, op_sync if kind == "sync" else op_async)
        paths = [r.path for r in emu.requests]
    assert paths[0] == "/v1/models"  # fetched by the first "auto" call, once
    assert paths[1] == "/v1/messages"
    assert paths[2].startswith("/v1beta/models/house-gemini:")
    assert paths[3:] == ["/v1/chat/completions", "/v1/messages"]


def test_auto_format_falls_back_to_names_when_the_list_cannot_be_read(
    juhe_emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    juhe_emulator.enqueue(Fault(500), path="/v1/models")
    with JuheClient(
        api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url, max_retries=0
    ) as client:
        result = client.chat(ChatRequest(FORMATS["anthropic"], QUESTION), api_format="auto")
        client.chat(ChatRequest(FORMATS["anthropic"], QUESTION), api_format="auto")
    assert result.finish_reason == "stop"
    assert [r.path for r in juhe_emulator.requests] == [
        "/v1/models",
        "/v1/messages",
        "/v1/messages",
    ]  # one failed try at the list, never again
    assert "model list could not be read (InternalServerError)" in caplog.text
