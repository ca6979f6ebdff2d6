"""The Anthropic and Gemini codecs as pure functions: exact bodies, real-shaped fixtures."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from juhe_core._sse import ServerSentEvent, SSEDecoder
from juhe_core.errors import APIError, BadRequestError, StreamError, UnsupportedFeatureError
from juhe_core.messages import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    JsonSchemaFormat,
    Message,
    NamedToolChoice,
    PartDelta,
    ProviderPart,
    ReasoningPart,
    StreamDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolDefinition,
    ToolResultPart,
    Usage,
)
from juhe_core.wire import anthropic, codec_for, gemini

FIXTURES = Path(__file__).parent.parent / "fixtures"
WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


def events(raw: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    out = [e for e in decoder.feed(raw) + decoder.flush() if isinstance(e, ServerSentEvent)]
    return out


def run(module: object, raw: bytes) -> tuple[list[StreamDelta], object]:
    acc = module.new_accumulator(request_id="rid")  # type: ignore[attr-defined]
    deltas = [d for e in events(raw) for d in acc.feed(e)]
    return deltas, acc


def test_codec_for() -> None:
    assert codec_for("anthropic") is anthropic and codec_for("gemini") is gemini
    with pytest.raises(UnsupportedFeatureError, match="unknown api_format 'bogus'"):
        codec_for("bogus")


# --- anthropic ---


def test_anthropic_request_exact() -> None:
    request = ChatRequest(
        "claude-3-7-sonnet-20250219",
        [
            Message.text("system", "Be brief."),
            Message(
                "user",
                (
                    TextPart("Weather?", {"cache_control": {"type": "ephemeral"}}),
                    ImagePart(data=b"\x89PNG", mime_type="image/png"),
                    FilePart(url="https://x/a.pdf"),
                ),
            ),
            Message(
                "assistant",
                (
                    ReasoningPart("think", "sig", {"format": "anthropic"}),
                    ReasoningPart("deepseek thoughts"),
                    ToolCallPart("toolu_1", "get_weather", '{"location":"LA"}'),
                ),
            ),
            Message("tool", (ToolResultPart("toolu_1", "sunny", is_error=False),)),
            Message("tool", (ToolResultPart("toolu_2", "boom", is_error=True),)),
        ],
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0.5,
        stop=["END"],
        max_tokens=1000,
    )
    assert anthropic.encode_chat_request(request, stream=True) == {
        "model": "claude-3-7-sonnet-20250219",
        "max_tokens": 1000,
        "system": "Be brief.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather?", "cache_control": {"type": "ephemeral"}},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="},
                    },
                    {"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "think", "signature": "sig"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"location": "LA"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": "boom",
                        "is_error": True,
                    },
                ],
            },
        ],
        "tools": [
            {
                "name": "get_weather",
                "description": "Get the weather",
                "input_schema": WEATHER.parameters,
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "temperature": 0.5,
        "stop_sequences": ["END"],
        "stream": True,
    }


def test_anthropic_thinking_and_default_max_tokens() -> None:
    body = anthropic.encode_chat_request(
        ChatRequest(
            "claude-sonnet-4-20250514", [Message.text("user", "x")], reasoning_effort="high"
        ),
        stream=False,
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24_576}
    assert body["max_tokens"] > 24_576
    with pytest.raises(UnsupportedFeatureError, match=r"thinking_budget=100 .* minimum of 1024"):
        anthropic.encode_chat_request(  # never raised to the minimum behind the user's back
            ChatRequest("claude-3-5-haiku", [Message.text("user", "x")], thinking_budget=100),
            stream=False,
        )
    body = anthropic.encode_chat_request(
        ChatRequest(
            "claude-3-5-haiku",
            [Message.text("user", "x")],
            thinking_budget=1024,
            tool_choice=NamedToolChoice("f"),
        ),
        stream=False,
    )
    assert body["thinking"]["budget_tokens"] == 1024  # Anthropic's minimum
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    for model, default in (("claude-3-5-haiku", 8192), ("claude-3-haiku", 4096), ("mine", 4096)):
        body = anthropic.encode_chat_request(
            ChatRequest(model, [Message.text("user", "x")]), stream=False
        )
        assert body["max_tokens"] == default, model


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (ChatRequest("c", [Message.text("user", "x")], seed=1), "seed"),
        (
            ChatRequest(
                "c", [Message.text("user", "x")], response_format=JsonSchemaFormat("x", {})
            ),
            "response_format",
        ),
        (ChatRequest("c", [Message("user", (AudioPart(b"x"),))]), "audio"),
        (ChatRequest("c", [Message("assistant", (ToolCallPart("i", "f", "[1]"),))]), "JSON object"),
        (
            ChatRequest("c", [Message("user", (ProviderPart("gemini", {}),))]),
            "from the gemini format",
        ),
    ],
)
def test_anthropic_unsupported(request_: ChatRequest, match: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=match):
        anthropic.encode_chat_request(request_, stream=False)


def test_anthropic_decode_message() -> None:
    body = json.loads((FIXTURES / "anthropic" / "message.json").read_text())
    result = anthropic.decode_chat_response(body, request_id="rid")
    thinking, redacted, text, call, server = result.parts
    assert thinking == ReasoningPart(
        "The user asks about LA weather; call the tool.",
        "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
        {"format": "anthropic"},
    )
    assert isinstance(redacted, ReasoningPart) and "redacted" in redacted.provider_data
    assert text == TextPart("Let me check the weather.")
    assert isinstance(call, ToolCallPart) and json.loads(call.arguments) == {
        "location": "Los Angeles, CA",
        "unit": "celsius",
    }
    assert isinstance(server, ProviderPart) and server.data["name"] == "web_search"
    assert result.finish_reason == "tool_calls"
    assert result.usage == Usage(582, 91, 673, cache_read_tokens=100, cache_write_tokens=10)
    # what came back goes back unchanged
    again = anthropic.encode_chat_request(
        ChatRequest("c", [Message("assistant", result.parts)]), stream=False
    )
    assert again["messages"][0]["content"][0]["signature"] == thinking.signature
    assert again["messages"][0]["content"][1] == {
        "type": "redacted_thinking",
        "data": body["content"][1]["data"],
    }
    assert again["messages"][0]["content"][4] == body["content"][4]


def test_anthropic_stream_fixture_at_every_split() -> None:
    raw = (FIXTURES / "anthropic" / "tool_stream.sse").read_bytes()
    deltas, acc = run(anthropic, raw)
    result = acc.finish()  # type: ignore[attr-defined]
    assert result.reasoning == "Need the weather tool."
    assert result.parts[0].signature == "EqQBCgIYAhIM1gbcDa9G"
    assert result.text == "Okay, let's check the weather."
    assert [json.loads(c.arguments) for c in result.tool_calls] == [
        {"location": "San Francisco, CA", "unit": "fahrenheit"}
    ]
    assert result.usage == Usage(480, 89, 569, cache_read_tokens=8)
    calls = [d for d in deltas if isinstance(d, ToolCallDelta)]
    assert calls[0] == ToolCallDelta(2, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", "")
    for i in range(0, len(raw), 3):
        decoder, acc2 = SSEDecoder(), anthropic.new_accumulator()
        for piece in (raw[:i], raw[i:]):
            for event in decoder.feed(piece):
                assert isinstance(event, ServerSentEvent)
                acc2.feed(event)
        assert acc2.finish().parts == result.parts


def test_anthropic_stream_without_message_stop_is_an_error() -> None:
    raw = (FIXTURES / "anthropic" / "tool_stream.sse").read_bytes()
    cut = raw[: raw.index(b"event: message_stop")]
    _, acc = run(anthropic, cut)
    with pytest.raises(StreamError, match="message_stop"):
        acc.finish()  # type: ignore[attr-defined]


def test_anthropic_error_event_raises() -> None:
    acc = anthropic.new_accumulator()
    with pytest.raises(StreamError, match="Overloaded") as info:
        acc.feed(
            ServerSentEvent(
                '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
                event="error",
            )
        )
    assert info.value.type == "overloaded_error"


def test_anthropic_malformed() -> None:
    with pytest.raises(APIError, match="no content list"):
        anthropic.decode_chat_response({"type": "message"})
    with pytest.raises(StreamError, match="unknown block"):
        anthropic.new_accumulator().feed(
            ServerSentEvent(
                '{"type":"content_block_delta","index":9,"delta":{"type":"text_delta"}}'
            )
        )


# --- gemini ---


def test_gemini_paths() -> None:
    request = ChatRequest("models/gemini-2.5-flash", [])
    assert gemini.chat_path(request, stream=False) == (
        "/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert gemini.chat_path(request, stream=True) == (
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )


def test_gemini_request_exact() -> None:
    request = ChatRequest(
        "gemini-2.5-flash",
        [
            Message.text("system", "Be brief."),
            Message(
                "user",
                (
                    TextPart("Look"),
                    ImagePart(data=b"\x89PNG", mime_type="image/png"),
                    FilePart(data=b"%PDF", mime_type="application/pdf"),
                    ImagePart(url="https://x/cat.jpg"),
                ),
            ),
            Message(
                "assistant",
                (
                    ReasoningPart("t", "sig-1", {"format": "gemini"}),
                    ReasoningPart("from claude", "sig-2", {"format": "anthropic"}),
                    ToolCallPart(
                        "call_0",
                        "get_weather",
                        '{"location":"Paris"}',
                        {"thought_signature": "sig-3"},
                    ),
                ),
            ),
            Message("tool", (ToolResultPart("call_0", '{"temp": 20}'),)),
            Message("tool", (ToolResultPart("call_0", "plain text", name="get_weather"),)),
        ],
        tools=[WEATHER, ToolDefinition("noop", "No args")],
        tool_choice=NamedToolChoice("get_weather"),
        temperature=0.2,
        max_tokens=50,
        stop=["X"],
        seed=3,
        thinking_budget=512,
        response_format=JsonSchemaFormat(
            "Out",
            {
                "type": "object",
                "properties": {"a": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
                "additionalProperties": False,
            },
        ),
        modalities=["text", "image"],
    )
    assert gemini.encode_chat_request(request, stream=True) == {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "Look"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}},
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBERg=="}},
                    {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x/cat.jpg"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "t", "thought": True, "thoughtSignature": "sig-1"},
                    {
                        "functionCall": {"name": "get_weather", "args": {"location": "Paris"}},
                        "thoughtSignature": "sig-3",
                    },
                ],
            },
            {
                "role": "user",
                "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp": 20}}},
                    {
                        "functionResponse": {
                            "name": "get_weather",
                            "response": {"result": "plain text"},
                        }
                    },
                ],
            },
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Get the weather",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"location": {"type": "STRING"}},
                            "required": ["location"],
                        },
                    },
                    {"name": "noop", "description": "No args"},
                ]
            }
        ],
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
        },
        "generationConfig": {
            "temperature": 0.2,
            "maxOutputTokens": 50,
            "seed": 3,
            "stopSequences": ["X"],
            "responseMimeType": "application/json",
            "responseSchema": {
                "type": "OBJECT",
                "properties": {"a": {"type": "INTEGER", "nullable": True}},
            },
            "thinkingConfig": {"thinkingBudget": 512, "includeThoughts": True},
            "responseModalities": ["TEXT", "IMAGE"],
        },
    }


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {
                "$defs": {"P": {"type": "object", "properties": {"n": {"type": "string"}}}},
                "type": "object",
                "properties": {"p": {"$ref": "#/$defs/P"}},
            },
            {
                "type": "OBJECT",
                "properties": {"p": {"type": "OBJECT", "properties": {"n": {"type": "STRING"}}}},
            },
        ),
        (
            {"type": ["string", "null"], "const": "x"},
            {"type": "STRING", "nullable": True, "enum": ["x"]},
        ),
        ({"type": "integer", "enum": [1, 2]}, {"type": "INTEGER", "description": "(one of: 1, 2)"}),
        (
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            {"type": "ARRAY", "items": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}},
        ),
    ],
)
def test_gemini_schema_conversion(schema: dict[str, object], expected: dict[str, object]) -> None:
    from juhe_core.wire._gemini_schema import to_gemini_schema

    assert to_gemini_schema(schema) == expected


@pytest.mark.parametrize(
    ("schema", "match"),
    [
        (
            {
                "$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
                "$ref": "#/$defs/N",
            },
            "recursive",
        ),
        ({"not": {"type": "string"}}, "cannot express"),
        ({"allOf": [{"type": "string"}, {"minLength": 1}]}, "allOf"),
        ({"type": "strang"}, "unknown JSON schema type"),
        ({"type": "object", "properties": {"x": {"weird": 1}}}, r"properties/x"),
    ],
)
def test_gemini_schema_errors(schema: dict[str, object], match: str) -> None:
    from juhe_core.wire._gemini_schema import to_gemini_schema

    with pytest.raises(UnsupportedFeatureError, match=match):
        to_gemini_schema(schema)


def test_gemini_tool_result_needs_a_name() -> None:
    with pytest.raises(UnsupportedFeatureError, match="tool name"):
        gemini.encode_chat_request(
            ChatRequest("g", [Message("tool", (ToolResultPart("x", "r"),))]), stream=False
        )


def test_gemini_decode_response() -> None:
    body = json.loads((FIXTURES / "gemini" / "response.json").read_text())
    result = gemini.decode_chat_response(body, request_id="rid")
    thought, call, text, image = result.parts
    assert isinstance(thought, ReasoningPart) and thought.text.startswith("**Checking")
    assert call == ToolCallPart(
        "call_0", "get_weather", '{"location": "Paris"}', {"thought_signature": "CiQB0e2Kb8xYz"}
    )
    assert text == TextPart("Here is an image:")
    assert image == ImagePart(data=base64.b64decode("iVBORw0KGgo="), mime_type="image/png")
    assert result.finish_reason == "tool_calls"
    assert result.usage == Usage(31, 57, 88, cache_read_tokens=4, reasoning_tokens=45)
    assert (result.model, result.id) == ("gemini-2.5-flash", "rsp-1")
    again = gemini.encode_chat_request(
        ChatRequest("g", [Message("assistant", result.parts)]), stream=False
    )
    assert again["contents"][0]["parts"][0]["functionCall"] == {
        "name": "get_weather",
        "args": {"location": "Paris"},
    }
    assert again["contents"][0]["parts"][0]["thoughtSignature"] == "CiQB0e2Kb8xYz"


def test_gemini_prompt_blocked_is_typed() -> None:
    with pytest.raises(BadRequestError, match="blocked") as info:
        gemini.decode_chat_response({"promptFeedback": {"blockReason": "SAFETY"}})
    assert info.value.code == "SAFETY"
    with pytest.raises(StreamError, match="blocked"):
        gemini.new_accumulator().feed(ServerSentEvent('{"promptFeedback":{"blockReason":"OTHER"}}'))


def test_gemini_stream_fixture() -> None:
    raw = (FIXTURES / "gemini" / "stream.sse").read_bytes()
    deltas, acc = run(gemini, raw)
    result = acc.finish()  # type: ignore[attr-defined]
    assert result.reasoning == "Thinking about it."
    assert result.text == "Hello world"
    assert result.parts[1].provider_data == {"thought_signature": "sig-text"}
    assert result.finish_reason == "stop"
    assert result.usage == Usage(9, 11, 20, reasoning_tokens=8)
    assert sum(1 for d in deltas if type(d).__name__ == "UsageDelta") == 1


def test_gemini_stream_media_and_calls() -> None:
    acc = gemini.new_accumulator()
    deltas = acc.feed(
        ServerSentEvent(
            json.dumps(
                {
                    "candidates": [
                        {
                            "content": {
                                "parts": [
                                    {"functionCall": {"name": "a", "args": {}}},
                                    {"functionCall": {"name": "b", "args": {}}},
                                    {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                                ]
                            },
                            "finishReason": "STOP",
                        }
                    ]
                }
            )
        )
    )
    assert [d.index for d in deltas if isinstance(d, ToolCallDelta)] == [0, 1]
    assert [d.part for d in deltas if isinstance(d, PartDelta)] == [AudioPart(b"RIFF", "audio/wav")]
    assert acc.finish().finish_reason == "tool_calls"


def test_gemini_stream_without_finish_reason_is_an_error() -> None:
    raw = (FIXTURES / "gemini" / "stream.sse").read_bytes()
    _, acc = run(gemini, raw[: raw.rindex(b"data:")])
    with pytest.raises(StreamError, match="finishReason"):
        acc.finish()  # type: ignore[attr-defined]
    with pytest.raises(StreamError, match="boom"):
        gemini.new_accumulator().feed(
            ServerSentEvent('{"error":{"message":"boom","type":"upstream_error","code":400}}')
        )
