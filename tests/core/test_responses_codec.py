"""The Responses codec and api_format resolution, as pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from juhe_core._sse import ServerSentEvent, SSEDecoder
from juhe_core.errors import StreamError, UnsupportedFeatureError
from juhe_core.messages import (
    ChatRequest,
    ImagePart,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    ToolDefinition,
    ToolResultPart,
    Usage,
)
from juhe_core.wire import resolve_format, responses

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_request_exact() -> None:
    request = ChatRequest(
        "o3-pro",
        [
            Message.text("system", "Be brief."),
            Message("user", (TextPart("Weather?"), ImagePart(url="https://x/a.png"))),
            Message("assistant", (ToolCallPart("call_1", "get_weather", '{"location":"Oslo"}'),)),
            Message("tool", (ToolResultPart("call_1", "cold"),)),
        ],
        tools=[ToolDefinition("get_weather", "Weather", {"type": "object"}, strict=True)],
        tool_choice=NamedToolChoice("get_weather"),
        reasoning_effort="high",
        max_tokens=99,
        response_format=JsonSchemaFormat("Out", {"type": "object"}, strict=True),
    )
    assert responses.encode_chat_request(request, stream=True) == {
        "model": "o3-pro",
        "instructions": "Be brief.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Weather?"},
                    {"type": "input_image", "image_url": "https://x/a.png", "detail": "auto"},
                ],
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"location":"Oslo"}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "cold"},
        ],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object"},
                "strict": True,
            }
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "reasoning": {"effort": "high", "summary": "auto"},
        "text": {
            "format": {
                "type": "json_schema",
                "name": "Out",
                "schema": {"type": "object"},
                "strict": True,
            }
        },
        "max_output_tokens": 99,
        "stream": True,
    }
    with pytest.raises(UnsupportedFeatureError, match="cannot carry stop"):
        responses.encode_chat_request(ChatRequest("o3-pro", [], stop=["x"]), stream=False)


def test_stream_fixture_and_reasoning_item_round_trip() -> None:
    raw = (FIXTURES / "responses" / "stream.sse").read_bytes()
    decoder, acc = SSEDecoder(), responses.new_accumulator(request_id="r")
    for event in decoder.feed(raw) + decoder.flush():
        assert isinstance(event, ServerSentEvent)
        acc.feed(event)
    result = acc.finish()
    assert result.reasoning == "Weighing options."
    assert result.text == "Calling the tool."
    assert result.tool_calls == [ToolCallPart("call_9", "get_weather", '{"location":"Oslo"}')]
    assert result.finish_reason == "tool_calls"
    assert result.usage == Usage(30, 70, 100, cache_read_tokens=5, reasoning_tokens=50)
    body = responses.encode_chat_request(
        ChatRequest("o3-pro", [Message("assistant", result.parts)]), stream=False
    )
    assert body["input"][0]["encrypted_content"] == "gAAAA"  # reasoning item sent back as is
    # a stream without response.completed is incomplete
    decoder, acc = SSEDecoder(), responses.new_accumulator()
    for event in decoder.feed(raw[: raw.index(b"event: response.completed")]):
        assert isinstance(event, ServerSentEvent)
        acc.feed(event)
    with pytest.raises(StreamError, match=r"response\.completed"):
        acc.finish()


def test_decode_incomplete_and_failed() -> None:
    body = {
        "id": "r",
        "model": "o3-pro",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}],
    }
    result = responses.decode_chat_response(body)
    assert (result.text, result.finish_reason) == ("Hi", "length")
    with pytest.raises(StreamError, match="quota"):
        responses.decode_chat_response(
            {"status": "failed", "output": [], "error": {"message": "quota", "code": "x"}}
        )


def test_foreign_reasoning_is_not_sent() -> None:
    body = responses.encode_chat_request(
        ChatRequest("o3-pro", [Message("assistant", (ReasoningPart("x", "sig"), TextPart("a")))]),
        stream=False,
    )
    assert body["input"] == [{"role": "assistant", "content": "a"}]


@pytest.mark.parametrize(
    ("fmt", "model", "types", "expected"),
    [
        ("auto", "gemini-2.5-flash", None, "gemini"),
        ("auto", "claude-3-7-sonnet-20250219", None, "anthropic"),
        ("auto", "o3-pro", None, "responses"),
        ("auto", "deepseek-chat", None, "openai"),
        ("auto", "house-model", ["openai", "gemini"], "gemini"),
        ("auto", "gemini-2.5-pro", ["openai"], "openai"),
        ("auto", "x", ["openai-response"], "responses"),
        ("openai", "gemini-2.5-flash", ["gemini"], "openai"),
    ],
)
def test_resolve_format(fmt: str, model: str, types: list[str] | None, expected: str) -> None:
    assert resolve_format(fmt, model, types) == expected
