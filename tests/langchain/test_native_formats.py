"""``api_format`` is passed through to ``juhe_core``: native Anthropic and Gemini answers
keep their signatures and format-only blocks across a LangChain history.

These tests answer with the codec fixtures (real-shaped vendor bodies: redacted thinking,
server-tool blocks, thought signatures) through an ``httpx.MockTransport`` given as
``http_client`` (no socket); the standard suite runs every format on the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_juhe import ChatJuhe

FIXTURES = Path(__file__).parents[1] / "fixtures"


class Relay:
    """A mock relay answering every request with one fixture; records the JSON bodies."""

    def __init__(self, fixture: str, content_type: str) -> None:
        self.body = (FIXTURES / fixture).read_bytes()
        self.content_type = content_type
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # api_format="auto" reads the model list first
            return httpx.Response(200, json={"object": "list", "data": []})
        self.requests.append((request.url.path, json.loads(request.content)))
        return httpx.Response(200, content=self.body, headers={"content-type": self.content_type})

    def model(self, **kwargs: Any) -> ChatJuhe:
        client = httpx.Client(transport=httpx.MockTransport(self))
        return ChatJuhe(base_url="https://relay.test", api_key="k", http_client=client, **kwargs)


def history(answer: AIMessage, result: str) -> list[Any]:
    call = answer.tool_calls[0]
    return [HumanMessage("Weather in LA?"), answer, ToolMessage(result, tool_call_id=call["id"])]


def replay(llm: ChatJuhe, relay: Relay, answer: AIMessage) -> dict[str, Any]:
    relay.body = (FIXTURES / "anthropic" / "message.json").read_bytes()
    relay.content_type = "application/json"
    llm.invoke(history(answer, "22 C"))
    return relay.requests[-1][1]


def test_anthropic_thinking_and_server_blocks_round_trip() -> None:
    relay = Relay("anthropic/message.json", "application/json")
    llm = relay.model(model="claude-3-7-sonnet-20250219", api_format="anthropic")
    answer = llm.invoke("Weather in LA?")
    assert relay.requests[0][0] == "/v1/messages"
    assert answer.text == "Let me check the weather."
    assert answer.tool_calls[0]["args"] == {"location": "Los Angeles, CA", "unit": "celsius"}
    assert answer.additional_kwargs["reasoning_content"].startswith("The user asks")
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_token_details"] == {"cache_read": 100, "cache_creation": 10}
    sent = replay(llm, relay, answer)["messages"][1]["content"]
    kinds = [block["type"] for block in sent]
    assert kinds == ["thinking", "redacted_thinking", "server_tool_use", "text", "tool_use"]
    assert sent[0]["signature"] == "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"
    assert sent[1]["data"].startswith("EmwKAhgBEgy3")


def test_anthropic_streamed_signature_survives_the_merge() -> None:
    relay = Relay("anthropic/tool_stream.sse", "text/event-stream")
    llm = relay.model(model="claude-sonnet-4-20250514", api_format="anthropic")
    chunks = list(llm.stream("Weather in LA?"))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert sum("model_name" in c.response_metadata for c in chunks) == 1
    assert full.additional_kwargs["reasoning_content"] == "Need the weather tool."
    assert full.tool_calls and full.tool_calls[0]["name"] == "get_weather"
    sent = replay(llm, relay, full)["messages"][1]["content"]
    assert sent[0] == {
        "type": "thinking",
        "thinking": "Need the weather tool.",
        "signature": "EqQBCgIYAhIM1gbcDa9G",
    }


def test_gemini_thought_signature_and_image_output_round_trip() -> None:
    relay = Relay("gemini/response.json", "application/json")
    llm = relay.model(model="gemini-2.5-flash", api_format="gemini")
    answer = llm.invoke("Weather in Paris?")
    path = relay.requests[0][0]
    assert path.startswith("/v1beta/models/gemini-2.5-flash")
    assert answer.content == [
        {"type": "text", "text": "Here is an image:"},
        {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"},
    ]
    call_id = answer.tool_calls[0]["id"]
    assert answer.additional_kwargs["tool_call_provider_data"][call_id]
    llm.invoke(history(answer, "sunny"))
    parts = relay.requests[-1][1]["contents"][1]["parts"]
    calls = [p for p in parts if "functionCall" in p]
    assert calls[0]["thoughtSignature"] == "CiQB0e2Kb8xYz"


def test_auto_format_picks_the_native_one() -> None:
    paths: list[str] = []
    for model in ["claude-3-7-sonnet-20250219", "gpt-4o-mini"]:
        fixture = (
            "anthropic/message.json" if model.startswith("claude") else "openai/chat_response.json"
        )
        relay = Relay(fixture, "application/json")
        relay.model(model=model, api_format="auto").invoke("hi")
        paths.append(relay.requests[0][0])
    assert paths == ["/v1/messages", "/v1/chat/completions"]
