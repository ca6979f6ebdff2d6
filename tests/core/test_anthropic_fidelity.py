"""The Anthropic codec against what the Messages API accepts: cache breakpoints on every
block type that takes one, no empty turns, valid tool_choice and thinking settings, and
tool-call arguments streamed in any fragmentation. Pure functions only."""

from __future__ import annotations

from juhe_core.messages import (
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    TextPart,
    ToolCallPart,
    ToolDefinition,
    ToolResultPart,
)
from juhe_core.wire import anthropic

CACHE = {"cache_control": {"type": "ephemeral"}}
CACHE_1H = {"cache_control": {"type": "ephemeral", "ttl": "1h"}}
WEATHER = ToolDefinition(
    "get_weather",
    "Get the weather",
    {"type": "object", "properties": {"city": {"type": "string"}}},
    provider_data=CACHE_1H,
)


def encode(request: ChatRequest) -> dict[str, object]:
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


def test_provider_data_without_cache_control_adds_nothing() -> None:
    call = ToolCallPart("t1", "f", "{}", {"thought_signature": "from-gemini"})
    body = encode(ChatRequest("claude-sonnet-4-5", [Message("assistant", (call,))]))
    assert body["messages"] == [  # type: ignore[comparison-overlap]
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
        }
    ]
