"""POST /v1/responses over HTTP: response objects, output items, event streams, faults."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from juhe_core.testing import Emulator, Reply, StreamFault

pytestmark = pytest.mark.timeout(20)

PATH = "/v1/responses"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the weather forecast for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
QUESTION = "What is the weather in 'Oslo' for 4 days?"


def body(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4.1", "input": QUESTION, **extra}


def events(text: str) -> list[tuple[str, Any]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.split("\n")
        name = next((x[7:] for x in lines if x.startswith("event: ")), "")
        data = next((x[6:] for x in lines if x.startswith("data: ")), "")
        try:
            out.append((name, json.loads(data)))
        except ValueError:
            out.append((name, data or block))
    return out


def test_response_object(client: httpx.Client) -> None:
    response = client.post(PATH, json=body(instructions="Be brief.")).json()
    assert response["object"] == "response" and response["id"].startswith("resp_")
    assert response["status"] == "completed" and response["instructions"] == "Be brief."
    (message,) = response["output"]
    assert message["type"] == "message" and message["role"] == "assistant"
    assert "Oslo" in message["content"][0]["text"]
    assert message["content"][0]["type"] == "output_text"
    usage = response["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_function_call_and_output_items(client: httpx.Client) -> None:
    first = client.post(PATH, json=body(tools=[TOOL])).json()
    (call,) = first["output"]
    assert call["type"] == "function_call" and call["call_id"].startswith("call_")
    assert json.loads(call["arguments"]) == {"city": "Oslo", "days": 4}
    follow = [
        {"role": "user", "content": QUESTION},
        {
            "type": "function_call",
            "call_id": call["call_id"],
            "name": "get_weather",
            "arguments": "{}",
        },
        {"type": "function_call_output", "call_id": call["call_id"], "output": "Snow"},
    ]
    answer = client.post(PATH, json=body(input=follow, tools=[TOOL])).json()
    assert "get_weather tool returned: Snow" in answer["output"][0]["content"][0]["text"]


def test_reasoning_item_with_summary(client: httpx.Client) -> None:
    with_summary = client.post(PATH, json=body(reasoning={"effort": "low", "summary": "auto"}))
    reasoning, message = with_summary.json()["output"]
    assert reasoning["type"] == "reasoning" and reasoning["summary"][0]["text"]
    assert message["type"] == "message"
    assert with_summary.json()["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    o3 = client.post(PATH, json=body(model="o3-pro")).json()["output"]
    assert o3[0]["type"] == "reasoning" and o3[0]["summary"] == []
    assert client.post(PATH, json=body()).json()["output"][0]["type"] == "message"


def test_max_output_tokens_makes_it_incomplete(client: httpx.Client) -> None:
    response = client.post(PATH, json=body(max_output_tokens=3)).json()
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}


def test_structured_output(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    fmt = {"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}}
    text = client.post(PATH, json=body(text=fmt)).json()["output"][0]["content"][0]["text"]
    assert json.loads(text) == {"city": "Oslo"}


def test_validation_errors(client: httpx.Client) -> None:
    r = client.post(PATH, json={"model": "gpt-4.1"})
    assert r.status_code == 500 and r.json()["error"]["message"].startswith("input is required")
    r = client.post(PATH, json={"input": "x"})
    assert r.status_code == 400


def test_stream_events(client: httpx.Client) -> None:
    r = client.post(PATH, json=body(stream=True, tools=[TOOL], reasoning={"summary": "auto"}))
    assert r.headers["content-type"] == "text/event-stream" and "[DONE]" not in r.text
    seq = events(r.text)
    assert all(name == data["type"] for name, data in seq)
    assert [d["sequence_number"] for _, d in seq] == list(range(len(seq)))
    names = [n for n, _ in seq]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in names
    args = "".join(d["delta"] for n, d in seq if n == "response.function_call_arguments.delta")
    assert json.loads(args) == {"city": "Oslo", "days": 4}
    added = [d["item"]["type"] for n, d in seq if n == "response.output_item.added"]
    assert added == ["reasoning", "function_call"]
    final = seq[-1][1]["response"]
    assert final["status"] == "completed" and final["usage"]["output_tokens"] > 0


def test_stream_text_and_incomplete(client: httpx.Client) -> None:
    seq = events(client.post(PATH, json=body(stream=True)).text)
    text = "".join(d["delta"] for n, d in seq if n == "response.output_text.delta")
    assert text == client.post(PATH, json=body()).json()["output"][0]["content"][0]["text"]
    cut = events(client.post(PATH, json=body(stream=True, max_output_tokens=2)).text)
    assert cut[-1][0] == "response.incomplete"


def test_stream_faults(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(
        StreamFault("cut", after=1000),
        StreamFault("error_mid_stream", after=2),
        StreamFault("bare_json_error", after=1),
    )
    cut = [n for n, _ in events(client.post(PATH, json=body(stream=True)).text)]
    assert cut and "response.completed" not in cut
    errored = events(client.post(PATH, json=body(stream=True)).text)
    assert [n for n, _ in errored] == ["response.created", "response.in_progress", "error"]
    assert errored[-1][1]["code"] == "server_error"
    bare = client.post(PATH, json=body(stream=True)).text
    assert bare.rstrip().endswith("}") and json.loads(bare.split("\n\n")[-1])["error"]


def test_scripted_reply(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(text="hello", reasoning="think"))
    output = client.post(PATH, json=body(reasoning={"summary": "auto"})).json()["output"]
    assert output[0]["summary"][0]["text"] == "think"
    assert output[1]["content"][0]["text"] == "hello"
