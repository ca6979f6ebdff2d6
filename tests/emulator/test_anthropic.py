"""POST /v1/messages over HTTP: auth, message shape, event stream, errors, stream faults."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from juhe_core.testing import EMULATOR_API_KEY, Emulator, Fault, Reply, StreamFault

pytestmark = pytest.mark.timeout(20)

PATH = "/v1/messages"
MODEL = "claude-sonnet-4-20250514"
USER = [{"role": "user", "content": "What is the weather in 'Paris' for 3 days?"}]
WEATHER = {
    "name": "get_weather",
    "description": "Get the weather forecast for a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
THINKING = {"type": "enabled", "budget_tokens": 1024}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 4096, "messages": USER, **extra}


def events(text: str) -> list[tuple[str, Any]]:
    """(event name, parsed data) per SSE event; unparsable data kept as text."""
    out = []
    for block in text.split("\n\n"):
        lines = block.strip("\n").split("\n")
        name = next((x[len("event: ") :] for x in lines if x.startswith("event: ")), "")
        data = next((x[len("data: ") :] for x in lines if x.startswith("data: ")), None)
        if data is None:
            if block.strip():
                out.append(("", block.strip()))
            continue
        try:
            out.append((name, json.loads(data)))
        except ValueError:
            out.append((name, data))
    return out


def test_x_api_key_and_bearer_both_work(bare: httpx.Client) -> None:
    anthropic = {"x-api-key": EMULATOR_API_KEY, "anthropic-version": "2023-06-01"}
    bearer = {"Authorization": f"Bearer {EMULATOR_API_KEY}"}
    for headers in (anthropic, bearer):
        assert bare.post(PATH, json=body(), headers=headers).status_code == 200
    r = bare.post(PATH, json=body(), headers={"x-api-key": "sk-wrong"})
    assert r.status_code == 401
    assert set(r.json()["error"]) == {"code", "message", "type"}  # middleware: OpenAI shape


def test_message_shape_and_usage(client: httpx.Client) -> None:
    r = client.post(PATH, json=body())
    message = r.json()
    assert r.headers["x-oneapi-request-id"]
    assert message["id"].startswith("msg_01") and message["type"] == "message"
    assert message["role"] == "assistant" and message["model"] == MODEL
    assert [b["type"] for b in message["content"]] == ["text"]
    assert "Paris" in message["content"][0]["text"]
    assert message["stop_reason"] == "end_turn" and message["stop_sequence"] is None
    usage = message["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0


def test_tool_use_with_schema_valid_input(client: httpx.Client) -> None:
    message = client.post(PATH, json=body(tools=[WEATHER])).json()
    assert message["stop_reason"] == "tool_use"
    (block,) = message["content"]
    assert block["type"] == "tool_use" and block["id"].startswith("toolu_01")
    assert block["name"] == "get_weather" and block["input"] == {"city": "Paris", "days": 3}


def test_tool_result_is_answered(client: httpx.Client) -> None:
    history = [
        *USER,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny, 21C"}],
        },
    ]
    message = client.post(PATH, json=body(messages=history, tools=[WEATHER])).json()
    assert message["stop_reason"] == "end_turn"
    assert "get_weather tool returned: Sunny, 21C" in message["content"][0]["text"]


def test_thinking_block_with_signature(client: httpx.Client) -> None:
    first = client.post(PATH, json=body(thinking=THINKING)).json()
    second = client.post(PATH, json=body(thinking=THINKING)).json()
    thinking, text = first["content"]
    assert thinking["type"] == "thinking" and thinking["thinking"]
    assert thinking["signature"] and thinking["signature"] == second["content"][0]["signature"]
    assert text["type"] == "text"
    assert not any(
        b["type"] == "thinking" for b in client.post(PATH, json=body()).json()["content"]
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "greater than or equal to 1024"),
        ({"thinking": THINKING, "max_tokens": 1024}, "must be greater than `thinking.budget"),
        ({"thinking": THINKING, "tool_choice": {"type": "any"}, "tools": [WEATHER]}, "forces"),
        ({"thinking": THINKING, "temperature": 0.2}, "temperature"),
    ],
)
def test_upstream_rejections_use_the_anthropic_shape(
    client: httpx.Client, extra: dict[str, Any], message: str
) -> None:
    r = client.post(PATH, json=body(**extra))
    assert r.status_code == 400
    error = r.json()
    assert error["type"] == "error" and error["error"]["type"] == "<nil>"
    assert message in error["error"]["message"]
    assert error["error"]["message"].endswith(f"(request id: {r.headers['x-oneapi-request-id']})")


def test_relay_validation_error_uses_the_anthropic_shape(client: httpx.Client) -> None:
    r = client.post(PATH, json={"model": MODEL, "max_tokens": 10})
    assert r.status_code == 500
    assert r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "new_api_error"
    assert r.json()["error"]["message"].startswith("field messages is required (request id: ")


def test_middleware_errors_stay_openai_shaped(client: httpx.Client, emu: Emulator) -> None:
    r = client.post(PATH, json={"messages": USER})
    assert r.status_code == 400 and "error" in r.json() and "type" not in r.json()
    emu.enqueue(Fault(429), Fault(503), Fault(500), Fault(403))
    assert client.post(PATH, json=body()).json()["error"]["type"] == "new_api_error"
    assert client.post(PATH, json=body()).json()["error"]["code"] == "model_not_found"
    for status in (500, 403):
        r = client.post(PATH, json=body())
        assert r.status_code == status and r.json()["type"] == "error"
        assert r.json()["error"]["type"] == "new_api_error"


def test_max_tokens_default_and_truncation(client: httpx.Client) -> None:
    no_max = {"model": MODEL, "messages": USER}
    assert client.post(PATH, json=no_max).json()["stop_reason"] == "end_turn"
    cut = client.post(PATH, json=body(max_tokens=3)).json()
    assert cut["stop_reason"] == "max_tokens" and cut["usage"]["output_tokens"] == 3


def test_prompt_cache_created_then_read(client: httpx.Client) -> None:
    system = [
        {
            "type": "text",
            "text": "Long shared context " * 30,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    first = client.post(PATH, json=body(system=system)).json()["usage"]
    second = client.post(PATH, json=body(system=system)).json()["usage"]
    assert first["cache_creation_input_tokens"] > 0 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["input_tokens"] == first["input_tokens"]


def test_stream_event_sequence(client: httpx.Client) -> None:
    r = client.post(PATH, json=body(stream=True, thinking=THINKING, tools=[WEATHER]))
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["x-accel-buffering"] == "no"
    seq = events(r.text)
    names = [n for n, _ in seq]
    assert all(n == d["type"] for n, d in seq)  # event name = data type
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "ping" not in names  # converted streams send no ping
    deltas = [d["delta"] for n, d in seq if n == "content_block_delta"]
    kinds = [d["type"] for d in deltas]
    assert (
        kinds.index("thinking_delta")
        < kinds.index("signature_delta")
        < kinds.index("input_json_delta")
    )
    partial = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    assert json.loads(partial) == {"city": "Paris", "days": 3}
    starts = [d["content_block"]["type"] for n, d in seq if n == "content_block_start"]
    assert starts == ["thinking", "tool_use"]
    final = seq[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use" and final["usage"]["output_tokens"] > 0


def test_stream_text_reassembles(client: httpx.Client) -> None:
    plain = client.post(PATH, json=body()).json()["content"][0]["text"]
    seq = events(client.post(PATH, json=body(stream=True)).text)
    deltas = [d["delta"]["text"] for n, d in seq if n == "content_block_delta"]
    assert len(deltas) > 1 and "".join(deltas) == plain


def test_scripted_reply_and_usage_overlay(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(
        Reply(
            text="scripted",
            tool_calls=[{"name": "f", "arguments": {"a": 1}}],
            usage={"output_tokens": 9},
        )
    )
    message = client.post(PATH, json=body()).json()
    assert [b["type"] for b in message["content"]] == ["text", "tool_use"]
    assert message["content"][1]["input"] == {"a": 1}
    assert message["usage"]["output_tokens"] == 9 and message["stop_reason"] == "tool_use"


def test_scripted_chunks_become_named_events(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(chunks=[{"type": "message_stop"}]))
    assert client.post(PATH, json=body(stream=True)).text == (
        'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )


@pytest.mark.parametrize("after", [0, 3, 1000])
def test_cut_never_reaches_message_stop(client: httpx.Client, emu: Emulator, after: int) -> None:
    emu.enqueue(StreamFault("cut", after=after))
    names = [n for n, _ in events(client.post(PATH, json=body(stream=True)).text)]
    assert "message_stop" not in names and len(names) == min(after, len(names))


def test_bare_json_error_is_appended(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(StreamFault("bare_json_error", after=2))
    r = client.post(PATH, json=body(stream=True))
    seq = events(r.text)
    assert [n for n, _ in seq[:2]] == ["message_start", "content_block_start"]
    name, blob = seq[-1]
    assert name == "" and not blob.startswith("data:")
    error = json.loads(blob)
    assert error["type"] == "error" and error["error"]["type"] == "overloaded_error"


def test_error_mid_stream_is_swallowed(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(StreamFault("error_mid_stream", after=2))
    text = client.post(PATH, json=body(stream=True)).text
    assert [n for n, _ in events(text)] == ["message_start", "content_block_start"]
    assert "error" not in text


def test_ping_malformed_stall_and_no_finish(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(
        StreamFault("ping", after=1),
        StreamFault("malformed", after=1),
        StreamFault("stall", after=1, seconds=0.2),
        StreamFault("no_finish"),
    )
    pinged = [n for n, _ in events(client.post(PATH, json=body(stream=True)).text)]
    assert pinged[0] == "message_start" and pinged[1] == "ping" and pinged[-1] == "message_stop"
    malformed = events(client.post(PATH, json=body(stream=True)).text)
    assert malformed[1][1] == "{not json" and malformed[-1][0] == "message_stop"
    stalled = events(client.post(PATH, json=body(stream=True)).text)
    assert stalled[-1][0] == "message_stop"
    no_finish = [n for n, _ in events(client.post(PATH, json=body(stream=True)).text)]
    assert "message_delta" not in no_finish and no_finish[-1] == "message_stop"


def test_cut_done_is_a_script_error(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(StreamFault("cut_done"))
    r = client.post(PATH, json=body(stream=True))
    assert r.status_code == 500 and r.json()["error"]["code"] == "emulator_script_error"


def test_prompt_cache_prefix_depends_on_where_the_text_is(client: httpx.Client) -> None:
    block = {"type": "text", "text": "Placed context " * 30, "cache_control": {"type": "ephemeral"}}
    in_user = [{"role": "user", "content": [block]}]
    first = client.post(PATH, json=body(messages=in_user)).json()["usage"]
    in_system = client.post(PATH, json=body(system=[block])).json()["usage"]
    assert first["cache_creation_input_tokens"] > 0
    assert (
        in_system["cache_read_input_tokens"] == 0 and in_system["cache_creation_input_tokens"] > 0
    )
