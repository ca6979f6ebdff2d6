"""Pure tests of ``langchain_juhe._convert``: no server, no client."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from langchain_core.exceptions import ModelRefusalError
from langchain_core.load import dumpd, load
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.output_parsers import JsonOutputParser
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    AudioPart,
    ChatResult,
    FilePart,
    FinishDelta,
    ImagePart,
    JsonObjectFormat,
    JsonSchemaFormat,
    Message,
    MetadataDelta,
    NamedToolChoice,
    PartDelta,
    ProviderPart,
    ReasoningDelta,
    ReasoningPart,
    TextDelta,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
    Usage,
    UsageDelta,
    VideoPart,
)
from juhe_core.wire import openai as openai_codec
from langchain_juhe import _binding, _convert
from langchain_juhe._binding import format_tool_choice, format_tools

PNG = b"\x89PNG\r\n\x1a\nfake"
PNG64 = base64.b64encode(PNG).decode()
PDF = b"%PDF-1.4 fake"
PDF64 = base64.b64encode(PDF).decode()
WAV64 = base64.b64encode(b"RIFFfake").decode()


def parts_of(message: Any) -> tuple[Any, ...]:
    return _convert.to_messages([message])[0].parts


def encode(*messages: Any) -> dict[str, Any]:
    request = _convert.to_chat_request(list(messages), model="m", params={}, stop=None)
    return openai_codec.encode_chat_request(request, stream=False)


# --- messages in ---


def test_roles_names_and_string_content() -> None:
    messages = _convert.to_messages(
        [
            SystemMessage("be brief"),
            HumanMessage("hi", name="ann"),
            AIMessage("hello"),
            ChatMessage(role="developer", content="rules"),
            ChatMessage(role="assistant", content="ok"),
        ]
    )
    assert messages == [
        Message("system", (TextPart("be brief"),)),
        Message("user", (TextPart("hi"),), "ann"),
        Message("assistant", (TextPart("hello"),)),
        Message("system", (TextPart("rules"),)),
        Message("assistant", (TextPart("ok"),)),
    ]


@pytest.mark.parametrize(
    "message",
    [FunctionMessage(content="x", name="f"), ChatMessage(role="wizard", content="x")],
    ids=["function", "unknown-role"],
)
def test_unsupported_message_types_raise(message: Any) -> None:
    with pytest.raises(UnsupportedFeatureError):
        _convert.to_messages([message])


IMAGE_CASES = [
    (
        {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
        ImagePart(url="https://x/cat.png", detail="low"),
    ),
    (
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG64}"}},
        ImagePart(data=PNG, mime_type="image/png"),
    ),
    (
        {"type": "image", "base64": PNG64, "mime_type": "image/png"},
        ImagePart(data=PNG, mime_type="image/png"),
    ),
    ({"type": "image", "url": "https://x/cat.png"}, ImagePart(url="https://x/cat.png")),
    (
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG64}},
        ImagePart(data=PNG, mime_type="image/png"),
    ),
    (
        {"type": "image", "source_type": "base64", "data": PNG64, "mime_type": "image/png"},
        ImagePart(data=PNG, mime_type="image/png"),
    ),
]


@pytest.mark.parametrize(
    ("block", "part"),
    IMAGE_CASES,
    ids=["oai-url", "oai-data", "std-b64", "std-url", "anthropic", "v0"],
)
def test_image_blocks_in_every_format(block: dict[str, Any], part: ImagePart) -> None:
    assert parts_of(HumanMessage([{"type": "text", "text": "look"}, block])) == (
        TextPart("look"),
        part,
    )


def test_file_audio_and_video_blocks() -> None:
    message = HumanMessage(
        [
            {"type": "file", "base64": PDF64, "mime_type": "application/pdf", "filename": "a.pdf"},
            {
                "type": "file",
                "file": {"filename": "b.pdf", "file_data": f"data:application/pdf;base64,{PDF64}"},
            },
            {"type": "file", "file": {"file_id": "file-123"}},
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": PDF64},
            },
            {"type": "audio", "base64": WAV64, "mime_type": "audio/wav"},
            {"type": "input_audio", "input_audio": {"data": WAV64, "format": "mp3"}},
            {"type": "video", "url": "https://x/v.mp4", "mime_type": "video/mp4"},
        ]
    )
    wav = base64.b64decode(WAV64)
    assert parts_of(message) == (
        FilePart(data=PDF, filename="a.pdf"),
        FilePart(data=PDF, filename="b.pdf"),
        FilePart(file_id="file-123"),
        FilePart(data=PDF),
        AudioPart(wav, "audio/wav"),
        AudioPart(wav, "audio/mp3"),
        VideoPart(url="https://x/v.mp4"),
    )
    body = encode(message)["messages"][0]["content"]
    assert [b["type"] for b in body] == [
        "file",
        "file",
        "file",
        "file",
        "input_audio",
        "input_audio",
        "video_url",
    ]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "audio", "url": "https://x/a.wav"},
        {"type": "image", "file_id": "file-1"},
        {"type": "image", "base64": "not base64!!", "mime_type": "image/png"},
        {"type": "mystery", "x": 1},
        {"type": "reasoning", "reasoning": "hm"},
    ],
    ids=["audio-url", "image-file-id", "bad-base64", "unknown", "reasoning-in-human"],
)
def test_blocks_without_a_neutral_form_raise(block: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFeatureError):
        _convert.to_messages([HumanMessage([block])])


@pytest.mark.parametrize(
    "messages",
    [
        [SystemMessage([{"type": "image", "base64": PNG64, "mime_type": "image/png"}])],
        [
            ToolMessage(
                [{"type": "image", "base64": PNG64, "mime_type": "image/png"}], tool_call_id="1"
            )
        ],
        [AIMessage([{"type": "image", "base64": PNG64, "mime_type": "image/png"}])],
        [HumanMessage([{"type": "audio", "base64": WAV64, "mime_type": "audio/ogg"}])],
        [
            HumanMessage(
                [{"type": "file", "url": "https://x/doc.pdf", "mime_type": "application/pdf"}]
            )
        ],
    ],
    ids=["system-image", "tool-image", "ai-image", "ogg-audio", "file-url"],
)
def test_content_the_openai_format_cannot_carry_raises(messages: list[Any]) -> None:
    with pytest.raises(UnsupportedFeatureError):
        encode(*messages)


def test_tool_messages_text_structured_and_error() -> None:
    assert parts_of(ToolMessage("3", tool_call_id="a", name="add")) == (
        ToolResultPart("a", "3", name="add"),
    )
    structured = ToolMessage([{"type": "text", "text": "sum:"}, {"result": 3}], tool_call_id="b")
    assert parts_of(structured) == (
        ToolResultPart("b", (TextPart("sum:"), TextPart('{"result": 3}'))),
    )
    failed = ToolMessage("Error: missing b", tool_call_id="c", status="error")
    assert parts_of(failed)[0].is_error is True
    body = encode(structured)["messages"][0]
    assert body == {
        "role": "tool",
        "tool_call_id": "b",
        "content": [{"type": "text", "text": "sum:"}, {"type": "text", "text": '{"result": 3}'}],
    }


def test_anthropic_tool_result_inside_a_human_message() -> None:
    message = HumanMessage(
        [
            {
                "type": "tool_result",
                "tool_use_id": "t1",
                "content": [{"type": "text", "text": "green"}],
                "is_error": False,
            },
            {"type": "text", "text": "and now?"},
        ]
    )
    assert parts_of(message) == (
        ToolResultPart("t1", (TextPart("green"),)),
        TextPart("and now?"),
    )


def test_ai_tool_calls_invalid_calls_and_anthropic_duplicates() -> None:
    message = AIMessage(
        [
            {"type": "text", "text": "let me see"},
            {"type": "tool_use", "id": "a", "name": "add", "input": {"x": 1}},
            {"type": "tool_use", "id": "b", "name": "mul", "input": {"y": 2}},
        ],
        tool_calls=[{"name": "add", "args": {"x": 1}, "id": "a", "type": "tool_call"}],
        invalid_tool_calls=[
            {"name": "neg", "args": "{oops", "id": "c", "error": "bad", "type": "invalid_tool_call"}
        ],
    )
    assert parts_of(message) == (
        TextPart("let me see"),
        ToolCallPart("b", "mul", '{"y": 2}'),
        ToolCallPart("a", "add", '{"x": 1}'),
        ToolCallPart("c", "neg", "{oops"),
    )


def test_reasoning_is_read_back_in_every_spelling() -> None:
    plain = AIMessage("42", additional_kwargs={"reasoning_content": "think"})
    assert parts_of(plain) == (ReasoningPart("think"), TextPart("42"))
    standard = AIMessage(
        [
            {"type": "reasoning", "reasoning": "r", "extras": {"signature": "s"}},
            {"type": "text", "text": "a"},
        ]
    )
    assert parts_of(standard) == (ReasoningPart("r", "s"), TextPart("a"))
    anthropic = AIMessage(
        [
            {"type": "thinking", "thinking": "t", "signature": "sig"},
            {"type": "redacted_thinking", "data": "blob"},
            {"type": "text", "text": "a"},
        ]
    )
    assert parts_of(anthropic) == (
        ReasoningPart("t", "sig"),
        ReasoningPart("", provider_data={"redacted": "blob"}),
        TextPart("a"),
    )
    assert encode(plain)["messages"][0]["reasoning_content"] == "think"


RICH = ChatResult(
    parts=(
        ReasoningPart("first", "sig-1", {"format": "anthropic"}),
        ReasoningPart("second", "sig-2", {"format": "anthropic"}),
        ProviderPart("anthropic", {"type": "server_tool_use", "id": "s1"}),
        TextPart("answer", {"thought_signature": "ts"}),
        ToolCallPart("c1", "add", '{"a": 1}', {"thought_signature": "cs"}),
    ),
    finish_reason="tool_calls",
    usage=Usage(10, 5, 15, cache_read_tokens=4, cache_write_tokens=2, reasoning_tokens=3),
    model="claude-x",
    id="msg_1",
    request_id="rid",
    raw_finish_reason="tool_use",
)


@pytest.mark.filterwarnings("ignore:The function `load` is in beta")
def test_rich_answers_round_trip_exactly_even_through_serialisation() -> None:
    message = _convert.to_ai_message(RICH, model="asked")
    assert message.content == "answer"
    assert message.additional_kwargs["reasoning_content"] == "firstsecond"
    assert message.tool_calls == [
        {"name": "add", "args": {"a": 1}, "id": "c1", "type": "tool_call"}
    ]
    revived = load(dumpd(message), allowed_objects="messages")
    for msg in (message, revived):
        assert parts_of(msg) == RICH.parts
    # A v1 copy (content as standard blocks) maps back the same way.
    v1 = message.model_copy(update={"content": message.content_blocks})
    assert parts_of(v1) == RICH.parts


def test_answer_metadata_and_usage() -> None:
    message = _convert.to_ai_message(RICH, model="asked")
    assert message.response_metadata == {
        "model_name": "claude-x",
        "model_provider": "juhe",
        "finish_reason": "tool_calls",
        "raw_finish_reason": "tool_use",
        "id": "msg_1",
        "request_id": "rid",
    }
    assert message.usage_metadata == {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
        "input_token_details": {"cache_read": 4, "cache_creation": 2},
        "output_token_details": {"reasoning": 3},
    }
    unnamed = ChatResult((TextPart("x"),), "stop")
    assert _convert.to_ai_message(unnamed, model="asked").response_metadata["model_name"] == "asked"


def test_invalid_tool_arguments_become_invalid_tool_calls() -> None:
    result = ChatResult(
        (ToolCallPart("1", "f", '{"a": '), ToolCallPart("2", "g", "")), "tool_calls"
    )
    message = _convert.to_ai_message(result, model="m")
    assert message.tool_calls == [{"name": "g", "args": {}, "id": "2", "type": "tool_call"}]
    assert [(c["name"], c["args"]) for c in message.invalid_tool_calls] == [("f", '{"a": ')]


def test_refusal_raises_model_refusal_error_in_parsers() -> None:
    message = _convert.to_ai_message(ChatResult((), "stop", refusal="I can't"), model="m")
    assert message.content == [{"type": "refusal", "refusal": "I can't"}]
    with pytest.raises(ModelRefusalError, match="I can't"):
        JsonOutputParser().invoke(message)
    assert parts_of(message) == (TextPart("I can't"),)


def test_media_output_becomes_standard_blocks() -> None:
    result = ChatResult((TextPart("here"), ImagePart(data=PNG, mime_type="image/png")), "stop")
    message = _convert.to_ai_message(result, model="m")
    assert message.content == [
        {"type": "text", "text": "here"},
        {"type": "image", "base64": PNG64, "mime_type": "image/png"},
    ]


# --- tools, tool choice, response format, request ---


class Weather(BaseModel):
    """Get the weather."""

    city: str = Field(description="the city")


class Point(TypedDict):
    """A point."""

    x: int


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_tool_definitions_from_every_tool_form() -> None:
    schema = {
        "title": "lookup",
        "description": "Look up",
        "type": "object",
        "properties": {"q": {"type": "string"}},
    }
    formatted = format_tools([Weather, Point, add, schema], strict=True)
    definitions, servers = _binding.to_tool_definitions(formatted)
    assert [d.name for d in definitions] == ["Weather", "Point", "add", "lookup"]
    assert definitions[0].parameters["properties"]["city"]["description"] == "the city"
    assert all(d.strict is True for d in definitions)
    assert servers == ()


def test_server_tools_are_kept_in_their_provider_spelling_and_format() -> None:
    tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"google_search": {}},
        {"type": "web_search_preview"},
        add,
    ]
    formatted = format_tools(tools)
    assert formatted[:3] == tools[:3]  # untouched, not turned into empty functions
    definitions, servers = _binding.to_tool_definitions(formatted)
    assert [d.name for d in definitions] == ["add"]
    assert [(s.format, s.label) for s in servers] == [
        ("anthropic", "web_search_20250305"),
        ("gemini", "google_search"),
        ("responses", "web_search_preview"),
    ]
    for unknown in ({"type": "retrieval"}, {"type": "web_search_2025"}):
        with pytest.raises(UnsupportedFeatureError, match="server tool we recognise"):
            format_tools([unknown])
        with pytest.raises(UnsupportedFeatureError, match="server tool we recognise"):
            _binding.to_tool_definitions([unknown])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("any", "required"),
        ("required", "required"),
        (True, "required"),
        ("add", NamedToolChoice("add")),
        ({"type": "function", "function": {"name": "add"}}, NamedToolChoice("add")),
        ({"type": "tool", "name": "add"}, NamedToolChoice("add")),
        ({"type": "any"}, "required"),
        (None, None),
    ],
)
def test_tool_choice_spellings(value: Any, expected: Any) -> None:
    assert _binding.to_tool_choice(value) == expected


def test_bind_time_tool_choice_checks_names() -> None:
    formatted = format_tools([add])
    assert format_tool_choice("any", formatted) == "required"
    assert format_tool_choice("add", formatted) == {"type": "function", "function": {"name": "add"}}
    with pytest.raises(ValueError, match="bound tools"):
        format_tool_choice("subtract", formatted)


def test_response_formats() -> None:
    assert _binding.to_response_format({"type": "json_object"}) == JsonObjectFormat()
    fmt = _binding.json_schema_response_format(Weather, strict=True)
    assert fmt["json_schema"]["name"] == "Weather" and fmt["json_schema"]["strict"] is True
    parsed = _binding.to_response_format(fmt)
    assert isinstance(parsed, JsonSchemaFormat)
    assert parsed.schema["required"] == ["city"]
    assert parsed.schema["additionalProperties"] is False
    assert _binding.to_response_format(Weather) == JsonSchemaFormat(
        "Weather",
        _binding.json_schema_response_format(Weather)["json_schema"]["schema"],
        description="Get the weather.",
    )
    with pytest.raises(UnsupportedFeatureError):
        _binding.to_response_format({"type": "xml"})


def test_request_merges_defaults_call_keywords_and_extra_body() -> None:
    request = _convert.to_chat_request(
        [HumanMessage("hi")],
        model="m",
        params={
            "temperature": 0,
            "max_completion_tokens": 5,
            "stop": ["x"],
            "model_kwargs": {"user": "u", "frequency_penalty": 1},
            "extra_body": {"frequency_penalty": 2},
            "logit_bias": {"1": 2},
            "modalities": ["text"],
            "seed": None,
        },
        stop=None,
    )
    assert (request.temperature, request.max_tokens, request.stop) == (0, 5, ("x",))
    assert request.modalities == ("text",)
    assert request.seed is None
    assert request.extra_body == {"user": "u", "frequency_penalty": 2, "logit_bias": {"1": 2}}
    call_stop = _convert.to_chat_request([], model="m", params={"stop": ["x"]}, stop=["y"])
    assert call_stop.stop == ("y",)
    with pytest.raises(UnsupportedFeatureError, match="n > 1"):
        _convert.to_chat_request([], model="m", params={"model_kwargs": {"n": 2}}, stop=None)


# --- stream chunks ---


def merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


def test_chunks_merge_into_the_whole_answer_with_metadata_once() -> None:
    deltas = [
        MetadataDelta("id-1", "gpt-x", "fp"),
        ReasoningDelta("hmm "),
        ReasoningDelta("ok"),
        TextDelta("Hel"),
        TextDelta("lo"),
        # An upstream repeating id and name in every fragment (some converters do).
        ToolCallDelta(1, "call_a", "get_weather", '{"city": '),
        ToolCallDelta(1, "call_a", "get_weather", '"Paris"}'),
        ToolCallDelta(2, "call_b", "add", ""),
        ToolCallDelta(2, None, None, '{"a": 1, "b": 2}'),
        FinishDelta("tool_calls", "tool_calls"),
        UsageDelta(Usage(3, 4, 7)),
    ]
    result = ChatResult(
        (
            ReasoningPart("hmm ok"),
            TextPart("Hello"),
            ToolCallPart("call_a", "get_weather", '{"city": "Paris"}'),
            ToolCallPart("call_b", "add", '{"a": 1, "b": 2}'),
        ),
        "tool_calls",
        usage=Usage(3, 4, 7),
        model="gpt-x",
        id="id-1",
    )
    builder = _convert.ChunkBuilder(model="asked")
    chunks = [c for d in deltas if (c := builder.chunk(d)) is not None]
    chunks.append(builder.last(result))
    assert sum(bool(c.usage_metadata) for c in chunks) == 1
    assert sum("model_name" in c.response_metadata for c in chunks) == 1
    full = merge(chunks)
    invoked = _convert.to_ai_message(result, model="asked")
    assert full.content == invoked.content == "Hello"
    assert full.tool_calls == invoked.tool_calls
    assert [c["args"] for c in full.tool_call_chunks] == ['{"city": "Paris"}', '{"a": 1, "b": 2}']
    assert full.additional_kwargs == invoked.additional_kwargs == {"reasoning_content": "hmm ok"}
    assert full.usage_metadata == invoked.usage_metadata
    assert full.response_metadata["model_name"] == "gpt-x"


def test_stream_usage_off_and_special_deltas() -> None:
    builder = _convert.ChunkBuilder(model="m", stream_usage=False)
    result = ChatResult(
        (ReasoningPart("r", "sig", {"format": "anthropic"}), TextPart("t")),
        "stop",
        usage=Usage(1, 1, 2),
    )
    assert builder.chunk(ReasoningDelta("", signature="sig")) is None
    image = builder.chunk(PartDelta(ImagePart(data=PNG, mime_type="image/png")))
    assert image is not None
    assert image.content == [{"type": "image", "base64": PNG64, "mime_type": "image/png"}]
    assert builder.chunk(PartDelta(ProviderPart("anthropic", {"type": "x"}))) is None
    last = builder.last(result)
    assert last.usage_metadata is None
    assert last.chunk_position == "last"
    assert last.additional_kwargs["reasoning_blocks"] == [
        {"reasoning": "r", "signature": "sig", "provider_data": {"format": "anthropic"}}
    ]


def test_reasoning_round_trips_through_a_streamed_history() -> None:
    builder = _convert.ChunkBuilder(model="m")
    result = ChatResult((ReasoningPart("why"), TextPart("because")), "stop")
    chunks = [builder.chunk(ReasoningDelta("why")), builder.chunk(TextDelta("because"))]
    full = merge([c for c in chunks if c is not None] + [builder.last(result)])
    body = encode(HumanMessage("q"), full, HumanMessage("and?"))
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "because",
        "reasoning_content": "why",
    }
    assert json.loads(json.dumps(body))  # plain JSON
