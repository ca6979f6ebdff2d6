"""The Anthropic codec against what the Messages API accepts: cache breakpoints on every
block type that takes one, no empty turns, valid tool_choice and thinking settings, and
tool-call arguments streamed in any fragmentation. Pure functions only."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from juhe_core._sse import ServerSentEvent, SSEDecoder
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.messages import (
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    ToolChoice,
    ToolDefinition,
    ToolResultPart,
)
from juhe_core.wire import anthropic, gemini

CACHE = {"cache_control": {"type": "ephemeral"}}
CACHE_1H = {"cache_control": {"type": "ephemeral", "ttl": "1h"}}
WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather",
    {"type": "object", "properties": {"city": {"type": "string"}}},
    provider_data=CACHE_1H,
)


def encode(request: ChatRequest) -> dict[str, Any]:
    return anthropic.encode_chat_request(request, stream=False)


# --- cache_control ---


def test_cache_control_on_tools_images_documents_and_tool_results() -> None:
    request = ChatRequest(
        "claude-sonnet-4-5",
        [
            Message(
                "user",
                (
                    ImagePart(data=b"\x89PNG", mime_type="image/png", provider_data=CACHE),
                    FilePart(url="https://x/a.pdf", filename="a.pdf", provider_data=CACHE),
                    TextPart("Weather?"),
                ),
            ),
            Message("assistant", (ToolCallPart("t1", "get_weather", '{"city":"Oslo"}', CACHE),)),
            Message(
                "tool",
                (
                    ToolResultPart("t1", "rain", provider_data=CACHE),
                    ToolResultPart("t2", (ImagePart(url="https://x/m.png", provider_data=CACHE),)),
                ),
            ),
        ],
        tools=[WEATHER, ToolDefinition("noop")],
    )
    body = encode(request)
    user, assistant, results = body["messages"]  # type: ignore[misc]
    assert user["content"] == [
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw=="},
            **CACHE,
        },
        {
            "type": "document",
            "source": {"type": "url", "url": "https://x/a.pdf"},
            "title": "a.pdf",
            **CACHE,
        },
        {"type": "text", "text": "Weather?"},
    ]
    assert assistant["content"] == [
        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo"}, **CACHE}
    ]
    assert results["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "content": "rain", **CACHE},
        {
            "type": "tool_result",
            "tool_use_id": "t2",
            "content": [
                {"type": "image", "source": {"type": "url", "url": "https://x/m.png"}, **CACHE}
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Get the weather",
            "input_schema": WEATHER.parameters,
            **CACHE_1H,
        },
        {"name": "noop", "description": "", "input_schema": {"type": "object", "properties": {}}},
    ]


def test_image_bytes_without_a_mime_type_are_typed_by_their_signature() -> None:
    jpeg = ImagePart(data=b"\xff\xd8\xff\xe0....")
    body = encode(ChatRequest("claude-sonnet-4-5", [Message("user", (jpeg,))]))
    assert body["messages"][0]["content"][0]["source"]["media_type"] == "image/jpeg"


def test_provider_data_without_cache_control_adds_nothing() -> None:
    call = ToolCallPart("t1", "f", "{}", {"thought_signature": "from-gemini"})
    body = encode(ChatRequest("claude-sonnet-4-5", [Message("assistant", (call,))]))
    assert body["messages"] == [  # type: ignore[comparison-overlap]
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
        }
    ]


# --- empty turns, tool_choice, thinking ---


def test_empty_assistant_turns_and_blank_text_blocks_are_left_out() -> None:
    request = ChatRequest(
        "claude-sonnet-4-5",
        [
            Message.text("user", "Hi"),
            Message("assistant", ()),  # AIMessage("") in history
            Message.text("user", "Still there?"),
            Message("assistant", (TextPart(""), TextPart(" \n"))),
            Message("user", (TextPart(""), TextPart("Hello?"))),
        ],
    )
    assert encode(request)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {"type": "text", "text": "Still there?"},
                {"type": "text", "text": "Hello?"},
            ],
        }
    ]
    # the Gemini codec skips empty turns too (blank text is valid there, so it is kept)
    empty = [Message("assistant", ()), Message("assistant", (TextPart(""),))]
    request = ChatRequest("gemini-2.5-flash", [Message.text("user", "Hi"), *empty])
    assert gemini.encode_chat_request(request, stream=False)["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]}
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"type": "none"}),
        ("auto", {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", {"type": "any", "disable_parallel_tool_use": True}),
        (NamedToolChoice("f"), {"type": "tool", "name": "f", "disable_parallel_tool_use": True}),
        (None, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_disable_parallel_tool_use_only_where_the_api_has_it(
    choice: ToolChoice | None, expected: dict[str, object]
) -> None:
    request = ChatRequest(
        "claude-sonnet-4-5",
        [Message.text("user", "x")],
        tools=[ToolDefinition("f")],
        tool_choice=choice,
        parallel_tool_calls=False,
    )
    assert encode(request)["tool_choice"] == expected


@pytest.mark.parametrize("budget", [1, 100, 1023, -1])
def test_a_thinking_budget_below_the_minimum_is_refused(budget: int) -> None:
    request = ChatRequest("claude-sonnet-4-5", [Message.text("user", "x")], thinking_budget=budget)
    with pytest.raises(UnsupportedFeatureError, match=rf"thinking_budget={budget} .* 1024"):
        encode(request)


@pytest.mark.parametrize(
    ("max_tokens", "fields"),
    [
        (2048, {"thinking_budget": 2048}),
        (1500, {"thinking_budget": 2048}),
        (4000, {"reasoning_effort": "high"}),
    ],
)
def test_max_tokens_not_above_the_budget_is_refused(max_tokens: int, fields: Any) -> None:
    request = ChatRequest(
        "claude-sonnet-4-5", [Message.text("user", "x")], max_tokens=max_tokens, **fields
    )
    match = rf"max_tokens={max_tokens} must be greater than .*budget"
    with pytest.raises(UnsupportedFeatureError, match=match):
        encode(request)


def test_our_default_max_tokens_is_raised_above_the_budget_within_the_model_cap() -> None:
    def body(model: str, **fields: Any) -> dict[str, Any]:
        return encode(ChatRequest(model, [Message.text("user", "x")], **fields))

    assert body("claude-sonnet-4-5", thinking_budget=2048)["max_tokens"] == 8192  # as before
    high = body("claude-sonnet-4-5", thinking_budget=20_000)
    assert high["max_tokens"] == 28_192 and high["thinking"]["budget_tokens"] == 20_000
    assert body("claude-opus-4-1", thinking_budget=30_000)["max_tokens"] == 32_000  # its cap
    with pytest.raises(UnsupportedFeatureError, match="no room for an answer"):
        body("claude-opus-4-1", thinking_budget=32_000)
    assert body("claude-sonnet-4-5", max_tokens=3000, thinking_budget=2048)["max_tokens"] == 3000
    assert "thinking" not in body("claude-sonnet-4-5", thinking_budget=0)


# --- tool-call arguments in any fragmentation ---

ARGUMENTS = json.dumps(
    {"city": "São Paulo", "note": 'say "hi"\n\\ok', "days": [1, 2], "nested": {"a": None}},
    ensure_ascii=False,
)


def _tool_stream(fragments: list[str]) -> list[ServerSentEvent]:
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [],
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        *(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": fragment},
            }
            for fragment in fragments
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 9},
        },
        {"type": "message_stop"},
    ]
    return [ServerSentEvent(json.dumps(e, ensure_ascii=False), event=e["type"]) for e in events]


def _split_patterns(text: str) -> list[list[str]]:
    rng = random.Random(7)
    patterns = [list(text), ["", *text, ""]]  # one character per event; empty fragments too
    patterns += [[text[:i], text[i:]] for i in range(1, len(text))]  # every single cut
    for _ in range(20):  # random cuts at several places at once
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(2, 12)))
        patterns.append([text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    return patterns


def test_tool_arguments_split_at_every_character_boundary_reassemble_exactly() -> None:
    patterns = _split_patterns(ARGUMENTS)
    assert len(patterns) > len(ARGUMENTS)
    for fragments in patterns:
        assert "".join(fragments) == ARGUMENTS
        acc = anthropic.new_accumulator()
        deltas = [d for event in _tool_stream(fragments) for d in acc.feed(event)]
        streamed = "".join(d.arguments for d in deltas if isinstance(d, ToolCallDelta))
        assert streamed == ARGUMENTS
        (call,) = acc.finish().tool_calls
        assert (call.id, call.name, call.arguments) == ("toolu_1", "f", ARGUMENTS)
        assert json.loads(call.arguments)["city"] == "São Paulo"


def test_one_character_per_event_also_survives_the_sse_decoder_byte_by_byte() -> None:
    raw = "".join(
        f"event: {e.event}\ndata: {e.data}\n\n" for e in _tool_stream(list(ARGUMENTS))
    ).encode()
    decoder, acc = SSEDecoder(), anthropic.new_accumulator()
    for i in range(len(raw)):
        for event in decoder.feed(raw[i : i + 1]):
            assert isinstance(event, ServerSentEvent)
            acc.feed(event)
    assert acc.finish().tool_calls[0].arguments == ARGUMENTS
