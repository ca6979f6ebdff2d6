"""Provider-run tools: recognised in their provider's spelling, sent only in their format."""

from __future__ import annotations

import pytest

from juhe_core import ChatRequest, Message, ServerTool, ToolDefinition
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.wire import anthropic, codec_for, gemini, is_server_tool, server_tool

FUNCTION = ToolDefinition("get_weather", "The weather", {"type": "object", "properties": {}})
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}


@pytest.mark.parametrize(
    ("spec", "fmt"),
    [
        (WEB_SEARCH, "anthropic"),
        ({"type": "code_execution_20250522", "name": "code_execution"}, "anthropic"),
        ({"google_search": {}}, "gemini"),
        ({"codeExecution": {}}, "gemini"),
        ({"url_context": {}}, "gemini"),
        ({"type": "web_search"}, "responses"),
        ({"type": "file_search", "vector_store_ids": ["vs_1"]}, "responses"),
    ],
)
def test_a_server_tool_is_recognised_by_its_spelling(spec: dict[str, object], fmt: str) -> None:
    assert is_server_tool(spec)
    assert server_tool(spec) == ServerTool(fmt, spec)


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "function", "function": {"name": "f"}},
        {"type": "retrieval"},
        {"google_search": {}, "code_execution": {}},
        {"name": "f", "input_schema": {"type": "object"}},
        {},
    ],
)
def test_anything_else_is_no_server_tool(spec: dict[str, object]) -> None:
    assert not is_server_tool(spec)
    with pytest.raises(UnsupportedFeatureError, match="server tool we recognise"):
        server_tool(spec)


def _request(*servers: dict[str, object]) -> ChatRequest:
    return ChatRequest(
        "m",
        [Message.text("user", "news?")],
        tools=[FUNCTION],
        server_tools=[server_tool(s) for s in servers],
    )


def test_anthropic_sends_it_after_the_function_tools_unchanged() -> None:
    body = anthropic.encode_chat_request(_request(WEB_SEARCH), stream=False)
    assert [t.get("name") for t in body["tools"]] == ["get_weather", "web_search"]
    assert body["tools"][1] == WEB_SEARCH


def test_gemini_sends_each_as_its_own_tool_object() -> None:
    body = gemini.encode_chat_request(_request({"google_search": {}}), stream=False)
    assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert body["tools"][1:] == [{"google_search": {}}]


def test_responses_sends_it_next_to_the_flat_function_tools() -> None:
    body = codec_for("responses").encode_chat_request(
        _request({"type": "web_search"}), stream=False
    )
    assert body["tools"][0]["name"] == "get_weather"
    assert body["tools"][1] == {"type": "web_search"}


@pytest.mark.parametrize("fmt", ["openai", "gemini", "responses"])
def test_any_other_format_refuses_it_by_name(fmt: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=r"'web_search_20250305'.*anthropic"):
        codec_for(fmt).encode_chat_request(_request(WEB_SEARCH), stream=False)


def test_citations_on_anthropic_text_blocks_are_kept() -> None:
    citation = {
        "type": "web_search_result_location",
        "url": "https://example.com/weather",
        "title": "LA weather",
        "encrypted_index": "Eo8BCioIAhgB",
        "cited_text": "Sunny, 22 C",
    }
    body = {
        "id": "msg_1",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "It is sunny.", "citations": [citation]},
            {"type": "text", "text": " Enjoy!"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    result = anthropic.decode_chat_response(body)
    assert result.text == "It is sunny. Enjoy!"
    assert result.parts[0].provider_data == {"citations": [citation]}
    assert result.parts[1].provider_data == {}


def test_streamed_citations_are_kept_on_their_text_block() -> None:
    import json

    from juhe_core._sse import ServerSentEvent

    citation = {"type": "web_search_result_location", "url": "https://example.com", "title": "t"}
    events = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {}}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": "", "citations": None},
        },
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "citations_delta", "citation": citation},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
        {"type": "message_stop"},
    ]
    acc = anthropic.new_accumulator()
    for event in events:
        acc.feed(ServerSentEvent(event=str(event["type"]), data=json.dumps(event)))
    result = acc.finish()
    assert result.text == "Hi"
    assert result.parts[0].provider_data == {"citations": [citation]}
