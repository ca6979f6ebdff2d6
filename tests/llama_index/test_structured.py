"""Structured output by the best method the model and the format support.

``structured_method`` is a pure choice (table-tested); the wire tests check that each
choice really is what ``structured_predict`` sends, in each format, and that the answer
parses, sync, async and streamed. Native answers come from ``MockRelay``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llama_index.core.llms import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from juhe_core.catalogue import capabilities_for
from llama_index_juhe._structured import structured_method

from .conftest import Both
from .relay import MockRelay, sse, stream_response


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


PROMPT = PromptTemplate("Extract the city: {text}")
LYON = {"name": "Lyon", "country": "France"}


@pytest.mark.parametrize(
    ("model", "api_format", "function_calling", "method"),
    [
        ("gpt-4o", "openai", True, "json_schema"),
        ("gpt-4o", "responses", True, "json_schema"),
        ("gemini-2.5-flash", "gemini", True, "json_schema"),
        ("gemini-2.5-flash", "openai", True, "json_schema"),
        ("claude-sonnet-4-5", "anthropic", True, "function_calling"),
        ("claude-sonnet-4-5", "openai", True, "function_calling"),  # no native schema
        ("gpt-4o", "anthropic", True, "function_calling"),  # the format has no response format
        ("deepseek-chat", "openai", True, "function_calling"),
        ("o1-mini", "openai", False, "json_mode"),  # no tools, JSON mode
        ("deepseek-r1", "openai", False, "json_mode"),
        ("claude-3-5-haiku", "anthropic", False, "text"),  # tools switched off by the user
        ("some-unknown-model", "openai", True, "function_calling"),
    ],
)
def test_structured_method_prefers_schema_then_tools_then_json_mode(
    model: str, api_format: str, function_calling: bool, method: str
) -> None:
    caps = capabilities_for(model)
    assert structured_method(caps, api_format, function_calling=function_calling) == method


# --- what each method sends, per format ---


def _openai(text: str | None = None, call: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if call is not None:
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["input"])},
            }
        ]
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }


def _anthropic_tool_use(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 5},
    }


def _gemini_text(text: str, finish: bool = True) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 5, "totalTokenCount": 10},
    }


def _responses_text(text: str) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-4o",
        "status": "completed",
        "output": [
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            }
        ],
        "usage": {"input_tokens": 5, "output_tokens": 5, "total_tokens": 10},
    }


CASES = {  # case: (model, format, path, answer, check of the request body)
    "openai schema": (
        "gpt-4o",
        "openai",
        "/v1/chat/completions",
        _openai(json.dumps(LYON)),
        lambda b: b["response_format"]["json_schema"]["name"] == "City" and "tools" not in b,
    ),
    "responses schema": (
        "gpt-4o",
        "responses",
        "/v1/responses",
        _responses_text(json.dumps(LYON)),
        lambda b: b["text"]["format"]["type"] == "json_schema",
    ),
    "gemini schema": (
        "gemini-2.5-flash",
        "gemini",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        _gemini_text(json.dumps(LYON)),
        lambda b: set(b["generationConfig"]["responseSchema"]["properties"]) == set(LYON),
    ),
    "anthropic tool": (
        "claude-sonnet-4-5",
        "anthropic",
        "/v1/messages",
        _anthropic_tool_use("City", LYON),
        # LlamaIndex's FunctionCallingProgram offers the one tool and requires a call.
        lambda b: b["tools"][0]["name"] == "City" and b["tool_choice"]["type"] == "any",
    ),
    "openai tool for claude": (
        "claude-sonnet-4-5",
        "openai",
        "/v1/chat/completions",
        _openai(call={"name": "City", "input": LYON}),
        lambda b: b["tools"][0]["function"]["name"] == "City" and "response_format" not in b,
    ),
    "json mode": (
        "o1-mini",
        "openai",
        "/v1/chat/completions",
        _openai(json.dumps(LYON)),
        lambda b: b["response_format"] == {"type": "json_object"} and "tools" not in b,
    ),
}


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("case", CASES)
def test_structured_predict_uses_the_chosen_method_on_the_wire(case: str, kind: str) -> None:
    model, api_format, path, answer, check = CASES[case]
    relay = MockRelay()
    relay.add(path, httpx.Response(200, json=answer))
    llm = relay.llm(api_format, model=model)
    both = Both(kind, llm)
    city = both.call("structured_predict", City, PROMPT, text="Lyon is in France.")
    assert city == City(**LYON)
    body = relay.json()
    assert check(body)
    assert "Lyon is in France." in json.dumps(body)


def test_json_mode_keeps_the_callers_llm_kwargs() -> None:
    relay = MockRelay()
    relay.add("/v1/chat/completions", httpx.Response(200, json=_openai(json.dumps(LYON))))
    llm = relay.llm("openai", model="o1-mini")
    llm.structured_predict(City, PROMPT, llm_kwargs={"max_tokens": 77}, text="Lyon")
    body = relay.json()
    # (o-series models take max_completion_tokens: the codec renames it)
    assert (body["response_format"], body["max_completion_tokens"]) == ({"type": "json_object"}, 77)
    assert "country" in json.dumps(body["messages"])  # the schema is in the prompt


def test_stream_structured_predict_in_the_gemini_format() -> None:
    relay = MockRelay()
    text = json.dumps(LYON)
    pieces = [text[:9], text[9:20], text[20:]]
    body = sse(*[_gemini_text(p, finish=i == 2) for i, p in enumerate(pieces)])
    relay.add("/v1beta/models/gemini-2.5-flash:streamGenerateContent", stream_response(body))
    llm = relay.llm("gemini", model="gemini-2.5-flash")
    partials = list(llm.stream_structured_predict(City, PROMPT, text="Lyon is in France."))
    assert partials[-1] == City(**LYON)
    assert "responseSchema" in relay.json()["generationConfig"]


def test_as_structured_llm_in_the_anthropic_format() -> None:
    relay = MockRelay()
    relay.add("/v1/messages", httpx.Response(200, json=_anthropic_tool_use("City", LYON)))
    llm = relay.llm("anthropic", model="claude-sonnet-4-5").as_structured_llm(City)
    response = llm.chat([ChatMessage(role="user", content="Lyon is in France.")])
    assert response.raw == City(**LYON)
    assert relay.json()["tools"][0]["name"] == "City"
