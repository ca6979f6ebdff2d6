"""Chat completions and embeddings over HTTP: shapes, stream sequence, usage, options."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import httpx
import pytest

from juhe_core.testing import Emulator

pytestmark = pytest.mark.timeout(20)

CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "What is the weather in Paris today?"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather at a location.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["location", "days"],
        },
    },
}


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def stream(client: httpx.Client, **body: Any) -> tuple[httpx.Response, list[Any]]:
    r = client.post(CHAT, json={"model": "gpt-4o-mini", "messages": USER, "stream": True, **body})
    payloads = sse_data(r.text)
    assert payloads[-1] == "[DONE]", r.text
    return r, [json.loads(p) for p in payloads[:-1]]


def test_non_stream_shape(client: httpx.Client) -> None:
    r = client.post(CHAT, json={"model": "qwen-plus", "messages": USER})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "qwen-plus" and isinstance(body["created"], int)
    assert body["system_fingerprint"]
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop" and choice["logprobs"] is None
    message = choice["message"]
    assert message["role"] == "assistant" and message["refusal"] is None
    assert "What is the weather in Paris today?" in message["content"]
    assert "tool_calls" not in message and "reasoning_content" not in message
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_non_stream_reasoning_and_tool_calls(client: httpx.Client) -> None:
    body = client.post(
        CHAT, json={"model": "deepseek-reasoner", "messages": USER, "tools": [WEATHER_TOOL]}
    ).json()
    message = body["choices"][0]["message"]
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] is None and message["reasoning_content"]
    (call,) = message["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "Paris", "days": 1}
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


@pytest.mark.parametrize(
    ("model", "thinks"),
    [
        ("o1", True),
        ("o3-mini", True),
        ("o4-mini-high", True),
        ("deepseek-reasoner", True),
        ("claude-3-7-sonnet-20250219-thinking", True),
        ("gemini-2.5-flash-nothinking", False),
        ("gpt-4o", False),
        ("qwen-plus", False),
    ],
)
def test_reasoning_models_by_name(client: httpx.Client, model: str, thinks: bool) -> None:
    message = client.post(CHAT, json={"model": model, "messages": USER}).json()["choices"][0][
        "message"
    ]
    assert ("reasoning_content" in message) is thinks


def test_reasoning_effort_turns_reasoning_on(client: httpx.Client) -> None:
    body = client.post(
        CHAT, json={"model": "gpt-4o", "messages": USER, "reasoning_effort": "low"}
    ).json()
    assert body["choices"][0]["message"]["reasoning_content"]
    off = {"model": "o3-mini", "messages": USER, "reasoning_effort": "none"}
    assert "reasoning_content" not in client.post(CHAT, json=off).json()["choices"][0]["message"]


def test_stream_sequence(client: httpx.Client) -> None:
    r, chunks = stream(client)
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
    assert r.headers["x-oneapi-request-id"]
    first, *middle, finish, usage = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len(middle) >= 3
    for c in [first, *middle, finish]:
        assert c["object"] == "chat.completion.chunk" and c["usage"] is None
        assert c["system_fingerprint"] is None and c["choices"][0]["logprobs"] is None
        assert c["id"] == first["id"] and c["model"] == "gpt-4o-mini"
    assert all(c["choices"][0]["finish_reason"] is None for c in middle)
    assert finish["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] > 0
    text = "".join(c["choices"][0]["delta"]["content"] for c in middle)
    full = client.post(CHAT, json={"model": "gpt-4o-mini", "messages": USER}).json()
    assert text == full["choices"][0]["message"]["content"]
    assert usage["usage"] == full["usage"]


def test_include_usage_false_drops_usage_and_the_finish_chunk(client: httpx.Client) -> None:
    _, chunks = stream(client, stream_options={"include_usage": False})
    assert all(c["choices"] for c in chunks)  # no usage chunk
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)  # issue #7489
    _, with_usage = stream(client, stream_options={"include_usage": True})
    assert (
        with_usage[-1]["choices"] == [] and with_usage[-2]["choices"][0]["finish_reason"] == "stop"
    )


def test_streamed_tool_call_fragments_join_to_valid_json(client: httpx.Client) -> None:
    tools = [
        WEATHER_TOOL,
        {**WEATHER_TOOL, "function": {**WEATHER_TOOL["function"], "name": "get_forecast"}},
    ]
    _, chunks = stream(
        client,
        tools=tools,
        messages=[
            {"role": "user", "content": "Call get_weather and get_forecast for 'Oslo', 3 days."}
        ],
    )
    calls: dict[int, dict[str, Any]] = {}
    for c in chunks[:-1]:
        for frag in c["choices"][0]["delta"].get("tool_calls", []):
            if "id" in frag:
                assert frag["function"]["arguments"] == "" and frag["type"] == "function"
                calls[frag["index"]] = {
                    "id": frag["id"],
                    "name": frag["function"]["name"],
                    "args": "",
                }
            else:
                assert set(frag) == {"index", "function"}
                calls[frag["index"]]["args"] += frag["function"]["arguments"]
    assert [calls[i]["name"] for i in sorted(calls)] == ["get_weather", "get_forecast"]
    assert json.loads(calls[0]["args"]) == {"location": "Oslo", "days": 3}
    assert json.loads(calls[1]["args"]) == {"location": "Oslo", "days": 3}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_streamed_reasoning_comes_as_reasoning_content(client: httpx.Client) -> None:
    _, chunks = stream(client, model="o3-mini")
    reasoning = "".join(c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks[:-1])
    assert "What is the weather in Paris today?" in reasoning
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_stop_and_max_tokens(client: httpx.Client) -> None:
    base = {"model": "gpt-4o", "messages": USER}
    full = client.post(CHAT, json=base).json()["choices"][0]["message"]["content"]
    stopped = client.post(CHAT, json={**base, "stop": ["Paris"]}).json()["choices"][0]
    assert (
        stopped["message"]["content"] == full[: full.index("Paris")]
        and stopped["finish_reason"] == "stop"
    )
    short = client.post(CHAT, json={**base, "max_completion_tokens": 2}).json()
    assert (
        short["choices"][0]["finish_reason"] == "length"
        and short["usage"]["completion_tokens"] == 2
    )
    assert client.post(CHAT, json={**base, "max_tokens": -1}).status_code == 500


def test_logprobs(client: httpx.Client) -> None:
    body = client.post(
        CHAT, json={"model": "gpt-4o", "messages": USER, "logprobs": True, "top_logprobs": 2}
    ).json()
    content = body["choices"][0]["logprobs"]["content"]
    assert "".join(t["token"] for t in content) == body["choices"][0]["message"]["content"]
    assert all(len(t["top_logprobs"]) == 2 and t["logprob"] < 0 and t["bytes"] for t in content)


def test_n_other_than_one_is_rejected(client: httpx.Client) -> None:
    r = client.post(CHAT, json={"model": "gpt-4o", "messages": USER, "n": 2})
    assert r.status_code == 400 and r.json()["error"]["param"] == "n"


def test_content_parts_and_attachments(client: httpx.Client) -> None:
    parts = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {
            "type": "file",
            "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,AAAA"},
        },
    ]
    body = client.post(
        CHAT, json={"model": "gpt-4o", "messages": [{"role": "user", "content": parts}]}
    ).json()
    text = body["choices"][0]["message"]["content"]
    assert "What is in these?" in text and "1 image" in text and "1 file" in text


def test_tool_result_turn(client: httpx.Client) -> None:
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 24 C"},
    ]
    body = client.post(
        CHAT, json={"model": "gpt-4o", "messages": messages, "tools": [WEATHER_TOOL]}
    ).json()
    message = body["choices"][0]["message"]
    assert (
        "tool_calls" not in message
        and "get_weather" in message["content"]
        and "Sunny, 24 C" in message["content"]
    )


def embed(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/embeddings", json={"model": "text-embedding-3-small", **body})


def test_embeddings_shape_and_dimensions(client: httpx.Client) -> None:
    body = embed(client, input=["cats sleep", "dogs bark"]).json()
    assert body["object"] == "list" and body["model"] == "text-embedding-3-small"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 1536 for d in body["data"])
    assert body["usage"] == {"prompt_tokens": 4, "total_tokens": 4}
    assert len(embed(client, input="x", dimensions=256).json()["data"][0]["embedding"]) == 256
    large = client.post(
        "/v1/embeddings", json={"model": "text-embedding-3-large", "input": "x"}
    ).json()
    assert len(large["data"][0]["embedding"]) == 3072


def test_embeddings_float_and_base64_are_equal(client: httpx.Client) -> None:
    floats = embed(client, input="same text", dimensions=64).json()["data"][0]["embedding"]
    b64 = embed(client, input="same text", dimensions=64, encoding_format="base64").json()["data"][
        0
    ]["embedding"]
    assert list(struct.unpack("<64f", base64.b64decode(b64))) == floats


def test_embeddings_accept_token_ids(client: httpx.Client, emu: Emulator) -> None:
    assert len(embed(client, input=[1, 2, 3], dimensions=8).json()["data"]) == 1
    assert len(embed(client, input=[[1, 2], [3]], dimensions=8).json()["data"]) == 2
    assert emu.requests[-1].json["input"] == [[1, 2], [3]]


def test_embeddings_errors(client: httpx.Client) -> None:
    for empty in ("", []):
        r = embed(client, input=empty)
        assert r.status_code == 500 and r.json()["error"]["code"] == "invalid_request"
        assert r.json()["error"]["message"].startswith("input is empty (request id: ")
    assert embed(client).status_code == 500
    assert embed(client, input=[{"x": 1}]).status_code == 400
    assert embed(client, input="x", dimensions=0).status_code == 400
    assert embed(client, input="x", encoding_format="int8").status_code == 400
    assert client.post("/v1/embeddings", json={"input": "x"}).status_code == 400
