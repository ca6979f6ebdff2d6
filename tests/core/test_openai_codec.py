"""The OpenAI chat codec as pure functions: exact request dicts, real-shaped responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from juhe_core._sse import ServerSentEvent, SSEDecoder
from juhe_core.errors import APIError, StreamError, UnsupportedFeatureError
from juhe_core.messages import (
    AudioPart,
    ChatRequest,
    FilePart,
    FinishDelta,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    MetadataDelta,
    NamedToolChoice,
    ReasoningDelta,
    ReasoningPart,
    StreamDelta,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolDefinition,
    ToolResultPart,
    Usage,
    UsageDelta,
    VideoPart,
)
from juhe_core.wire import openai

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather",
    {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
)


def user(text: str) -> Message:
    return Message.text("user", text)


def test_minimal_request() -> None:
    body = openai.encode_chat_request(ChatRequest("gpt-4o", [user("hi")]), stream=False)
    assert body == {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def test_stream_request_always_asks_for_usage() -> None:
    body = openai.encode_chat_request(ChatRequest("gpt-4o", [user("hi")]), stream=True)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_full_request_exact() -> None:
    request = ChatRequest(
        "gpt-4.1",
        [Message.text("system", "Be brief."), user("Weather in Boston?")],
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0.0,
        top_p=0.5,
        max_tokens=100,
        stop=["END"],
        seed=7,
        reasoning_effort="low",
        logprobs=True,
        top_logprobs=2,
        extra_body={"service_tier": "flex", "temperature": 0.1},
    )
    assert openai.encode_chat_request(request, stream=False) == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Boston?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Get the weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"location": {"type": "string"}},
                        "required": ["location"],
                    },
                },
            }
        ],
        "parallel_tool_calls": False,
        "tool_choice": "required",
        "max_tokens": 100,
        "temperature": 0.1,  # extra_body has the last word
        "top_p": 0.5,
        "seed": 7,
        "reasoning_effort": "low",
        "logprobs": True,
        "top_logprobs": 2,
        "stop": ["END"],
        "service_tier": "flex",
    }


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("o3-mini", "max_completion_tokens"),
        ("gpt-5", "max_completion_tokens"),
        ("gpt-4o", "max_tokens"),
        ("deepseek-chat", "max_tokens"),
    ],
)
def test_max_tokens_key_per_family(model: str, key: str) -> None:
    body = openai.encode_chat_request(ChatRequest(model, [user("x")], max_tokens=5), stream=False)
    assert body[key] == 5


def test_named_tool_choice_strict_and_formats() -> None:
    strict_tool = ToolDefinition("f", "", {"type": "object", "properties": {}}, strict=True)
    body = openai.encode_chat_request(
        ChatRequest(
            "m",
            [user("x")],
            tools=[strict_tool],
            tool_choice=NamedToolChoice("f"),
            response_format=JsonSchemaFormat(
                "Out", {"type": "object"}, strict=True, description="d"
            ),
        ),
        stream=False,
    )
    assert body["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert body["tools"][0]["function"] == {
        "name": "f",
        "parameters": {"type": "object", "properties": {}},
        "strict": True,
    }
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "Out",
            "schema": {"type": "object"},
            "description": "d",
            "strict": True,
        },
    }
    body = openai.encode_chat_request(
        ChatRequest("m", [user("x")], response_format=JsonObjectFormat()), stream=False
    )
    assert body["response_format"] == {"type": "json_object"}


def test_multimodal_parts() -> None:
    message = Message(
        "user",
        (
            TextPart("What is this?"),
            ImagePart(url="https://example.com/cat.png", detail="low"),
            ImagePart(data=b"\x89PNG", mime_type="image/png"),
            FilePart(data=b"%PDF-1.4", filename="a.pdf"),
            AudioPart(b"RIFF", "audio/wav"),
            VideoPart(url="https://example.com/v.mp4"),
        ),
    )
    [encoded] = openai.encode_message(message)
    assert encoded == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {
                "type": "image_url",
                "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
            },
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}},
            {
                "type": "file",
                "file": {
                    "file_data": "data:application/pdf;base64,JVBERi0xLjQ=",
                    "filename": "a.pdf",
                },
            },
            {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
            {"type": "video_url", "video_url": {"url": "https://example.com/v.mp4"}},
        ],
    }


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (Message("user", (AudioPart(b"x", "audio/ogg"),)), "wav or mp3"),
        (Message("user", (FilePart(url="https://x/a.pdf"),)), "not by URL"),
        (Message("system", (ImagePart(url="https://x/a.png"),)), "system message"),
        (
            Message("tool", (ToolResultPart("c1", (ImagePart(url="https://x"),)),)),
            "only carry text",
        ),
        (Message("user", (ToolCallPart("c", "f", "{}"),)), "tool_call part"),
        (Message("assistant", (ImagePart(url="https://x"),)), "assistant message"),
    ],
)
def test_unsupported_content_is_a_typed_error(message: Message, match: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=match):
        openai.encode_message(message)


def test_assistant_history_with_reasoning_and_tool_calls_then_results() -> None:
    assistant = Message(
        "assistant",
        (
            ReasoningPart("think", signature="sig"),
            TextPart("Let me check."),
            ToolCallPart("call_1", "get_weather", '{"location":"Boston"}'),
        ),
    )
    results = Message(
        "tool",
        (
            ToolResultPart("call_1", "72F", name="get_weather"),
            ToolResultPart("call_2", (TextPart("a"), TextPart("b"))),
        ),
    )
    assert openai.encode_message(assistant) == [
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location":"Boston"}'},
                }
            ],
            "reasoning_content": "think",
        }
    ]
    assert openai.encode_message(results) == [
        {"role": "tool", "tool_call_id": "call_1", "content": "72F"},
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        },
    ]
    only_calls = Message("assistant", (ToolCallPart("c", "f", "{}"),))
    assert openai.encode_message(only_calls)[0]["content"] is None


def test_user_message_mixing_text_and_tool_results_keeps_order() -> None:
    message = Message("user", (ToolResultPart("c1", "r1"), TextPart("next")), name="bob")
    assert openai.encode_message(message) == [
        {"role": "tool", "tool_call_id": "c1", "content": "r1"},
        {"role": "user", "content": "next", "name": "bob"},
    ]


def test_decode_response_fixture() -> None:
    body = json.loads((FIXTURES / "chat_response.json").read_text())
    result = openai.decode_chat_response(body, request_id="rid")
    assert result.reasoning == "2 plus 2 is 4."
    assert result.text == "The answer is 4."
    assert result.tool_calls == [ToolCallPart("call_1", "add", '{"a": 2, "b": 2}')]
    assert result.finish_reason == "tool_calls"
    assert result.usage == Usage(20, 15, 35, cache_read_tokens=8, reasoning_tokens=5)
    assert (result.model, result.id, result.request_id) == (
        "deepseek-reasoner",
        "chatcmpl-abc",
        "rid",
    )
    assert result.raw is body


def test_decode_reasoning_field_refusal_and_nulls() -> None:
    body = {
        "id": "x",
        "model": "m",
        "system_fingerprint": None,
        "usage": None,
        "choices": [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": "content_filter",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning": "r",
                    "refusal": "I can't",
                },
            }
        ],
    }
    result = openai.decode_chat_response(body)
    assert result.reasoning == "r"
    assert result.refusal == "I can't"
    assert result.finish_reason == "content_filter"
    assert result.usage is None and result.system_fingerprint is None


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"choices": []},
        {"choices": [{"index": 0}]},
        {"choices": [{"message": {"tool_calls": [{"id": "x"}]}}]},
    ],
)
def test_decode_malformed_is_typed(body: object) -> None:
    with pytest.raises(APIError, match="malformed"):
        openai.decode_chat_response(body)


def run_stream(raw: bytes) -> tuple[list[StreamDelta], openai.ChatStreamAccumulator]:
    acc = openai.ChatStreamAccumulator(request_id="rid")
    decoder = SSEDecoder()
    deltas: list[StreamDelta] = []
    for event in decoder.feed(raw) + decoder.flush():
        assert isinstance(event, ServerSentEvent)
        deltas.extend(acc.feed(event))
    return deltas, acc


def test_text_stream_fixture() -> None:
    deltas, acc = run_stream((FIXTURES / "text_stream.sse").read_bytes())
    assert deltas == [
        MetadataDelta("chatcmpl-1", "gpt-4o-mini", "fp_1"),
        TextDelta("Hello"),
        TextDelta(", wörld ☃"),
        FinishDelta("stop", "stop"),
        UsageDelta(Usage(12, 4, 16, cache_read_tokens=2)),
    ]
    result = acc.finish()
    assert result.text == "Hello, wörld ☃"
    assert result.usage == Usage(12, 4, 16, cache_read_tokens=2)
    assert result.system_fingerprint == "fp_1" and result.request_id == "rid"


def test_claude_upstream_tool_stream_index_starts_at_one() -> None:
    deltas, acc = run_stream((FIXTURES / "claude_tool_stream.sse").read_bytes())
    assert [d for d in deltas if isinstance(d, ReasoningDelta)] == [
        ReasoningDelta("The user wants "),
        ReasoningDelta("the weather."),
    ]
    assert [d for d in deltas if isinstance(d, ToolCallDelta)] == [
        ToolCallDelta(1, "toolu_01", "get_weather", ""),
        ToolCallDelta(1, None, None, '{"locat'),
        ToolCallDelta(1, None, None, 'ion": "Los Angeles, CA"}'),
    ]
    result = acc.finish()
    assert result.tool_calls == [
        ToolCallPart("toolu_01", "get_weather", '{"location": "Los Angeles, CA"}')
    ]
    assert result.reasoning == "The user wants the weather."
    assert result.finish_reason == "tool_calls"
    assert result.usage is not None and result.usage.reasoning_tokens == 6


def test_stream_without_done_or_finish_reason_is_an_error() -> None:
    raw = (FIXTURES / "text_stream.sse").read_bytes()
    cut = raw[
        : raw.index(
            b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk",'
            b'"created":1754600000,"model":"gpt-4o-mini","system_fingerprint":'
            b'"fp_1","choices":[{"index":0,"delta":{},'
        )
    ]
    _, acc = run_stream(cut)
    with pytest.raises(StreamError, match=r"before \[DONE\]"):
        acc.finish()
    # the relay's ending for a cut upstream: usage + [DONE] but no finish reason
    _, acc = run_stream(
        cut + b'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\ndata: [DONE]\n\n'
    )
    with pytest.raises(StreamError, match="without a finish reason"):
        acc.finish()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("{not json", "not JSON"),
        ("[1]", "not an object"),
        ('{"error":{"message":"boom","type":"upstream_error","code":"x"}}', "boom"),
        ('{"choices":[{"index":0,"delta":{"tool_calls":["x"]}}]}', "tool-call fragment"),
    ],
)
def test_bad_events_raise_stream_error(data: str, match: str) -> None:
    acc = openai.ChatStreamAccumulator()
    with pytest.raises(StreamError, match=match):
        acc.feed(ServerSentEvent(data))


def test_tool_call_without_name_is_an_error() -> None:
    acc = openai.ChatStreamAccumulator()
    acc.feed(
        ServerSentEvent(
            '{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
            '"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]}'
        )
    )
    acc.feed(ServerSentEvent("[DONE]"))
    with pytest.raises(StreamError, match="never got a name"):
        acc.finish()
