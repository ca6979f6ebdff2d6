"""Scripted items over HTTP: Reply, Fault, StreamFault kinds, delays, queue and records."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from juhe_core.testing import Emulator, Fault, FaultProfile, Reply, StreamFault

pytestmark = pytest.mark.timeout(20)

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Tell me about rivers."}]}
STREAM = {**BODY, "stream": True}


def data_lines(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def test_reply_text_reasoning_tool_calls_non_stream(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(
        Reply(
            text="scripted",
            reasoning="thinking",
            tool_calls=[
                {"name": "f", "arguments": {"x": 1}},
                {"name": "g", "arguments": "{}", "id": "c9"},
            ],
            usage={"prompt_tokens": 7},
            headers={"X-Extra": "yes"},
        )
    )
    r = client.post(CHAT, json=BODY)
    assert r.headers["x-extra"] == "yes"
    body = r.json()
    message = body["choices"][0]["message"]
    assert message["content"] == "scripted" and message["reasoning_content"] == "thinking"
    assert [c["function"]["name"] for c in message["tool_calls"]] == ["f", "g"]
    assert json.loads(message["tool_calls"][0]["function"]["arguments"]) == {"x": 1}
    assert message["tool_calls"][1]["id"] == "c9"
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    assert body["usage"]["prompt_tokens"] == 7


def test_reply_finish_reason_and_status(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(text="cut", finish_reason="length", status=201))
    r = client.post(CHAT, json=BODY)
    assert r.status_code == 201 and r.json()["choices"][0]["finish_reason"] == "length"


def test_reply_without_turn_fields_keeps_the_built_in_answer(
    client: httpx.Client, emu: Emulator
) -> None:
    emu.enqueue(Reply(finish_reason="content_filter"))
    choice = client.post(CHAT, json=BODY).json()["choices"][0]
    assert "Tell me about rivers." in choice["message"]["content"]
    assert choice["finish_reason"] == "content_filter"


def test_reply_body_is_served_verbatim(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(body={"error": {"message": "looks like success"}}))
    r = client.post(CHAT, json=BODY)
    assert r.status_code == 200 and r.json() == {"error": {"message": "looks like success"}}


def test_reply_streams_a_scripted_turn(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(text="one two three four", reasoning="hmm"))
    payloads = data_lines(client.post(CHAT, json=STREAM).text)
    chunks = [json.loads(p) for p in payloads[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    thought = "".join(
        c["choices"][0]["delta"].get("reasoning_content", "") for c in chunks if c["choices"]
    )
    assert (text, thought, payloads[-1]) == ("one two three four", "hmm", "[DONE]")


def test_reply_chunks_and_raw_are_sent_verbatim(client: httpx.Client, emu: Emulator) -> None:
    chunks = [{"choices": [{"index": 1, "delta": {"content": "x"}}], "odd": True}]
    emu.enqueue(Reply(chunks=chunks), Reply(raw=b"event: custom\ndata: hello\n\n"))
    assert data_lines(client.post(CHAT, json=STREAM).text) == [
        json.dumps(chunks[0], separators=(",", ":")),
        "[DONE]",
    ]
    assert client.post(CHAT, json=STREAM).content == b"event: custom\ndata: hello\n\n"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Fault(400), 400, ""),
        (Fault(401), 401, ""),
        (Fault(403), 403, "insufficient_user_quota"),
        (Fault(413), 413, "read_request_body_failed"),
        (Fault(429), 429, ""),
        (Fault(500), 500, "do_request_failed"),
        (Fault(503), 503, "model_not_found"),
    ],
)
def test_fault_default_envelopes_carry_the_request_id(
    client: httpx.Client, emu: Emulator, fault: Fault, status: int, code: str
) -> None:
    emu.enqueue(fault)
    r = client.post(CHAT, json=BODY)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["type"] == "new_api_error" and error["code"] == code
    assert error["message"].endswith(f" (request id: {r.headers['x-oneapi-request-id']})")
    assert "retry-after" not in r.headers  # relay routes never send it


def test_fault_503_names_the_requested_model(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Fault(503))
    assert "模型 gpt-4o-mini 无可用渠道" in client.post(CHAT, json=BODY).json()["error"]["message"]


def test_fault_options(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(
        Fault(429, empty_body=True),
        Fault(429, retry_after="2", retry_after_ms="1500", headers={"X-Limit": "1"}),
        Fault(500, code="custom", message="boom"),
        Fault(502),
        Fault(
            400, body={"error": {"message": "upstream says no", "type": "invalid_request_error"}}
        ),
        Fault(502, body=b"<html>bad gateway</html>"),
    )
    empty = client.post(CHAT, json=BODY)
    assert (empty.status_code, empty.content) == (429, b"")
    limited = client.post(CHAT, json=BODY)
    assert limited.headers["retry-after"] == "2" and limited.headers["retry-after-ms"] == "1500"
    assert limited.headers["x-limit"] == "1"
    custom = client.post(CHAT, json=BODY).json()["error"]
    assert custom["code"] == "custom" and custom["message"].startswith("boom (request id: ")
    upstream = client.post(CHAT, json=BODY).json()["error"]
    assert upstream == {
        "message": "openai_error",
        "type": "bad_response_status_code",
        "param": "",
        "code": "bad_response_status_code",
    }
    assert client.post(CHAT, json=BODY).json()["error"]["message"] == "upstream says no"
    assert client.post(CHAT, json=BODY).content == b"<html>bad gateway</html>"


def test_fault_404_and_501_use_the_route_envelopes(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Fault(404), Fault(501))
    assert (
        client.post(CHAT, json=BODY).json()["error"]["message"]
        == "Invalid URL (POST /v1/chat/completions)"
    )
    assert client.post(CHAT, json=BODY).json()["error"]["code"] == "api_not_implemented"


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault(status=42)
    with pytest.raises(ValueError):
        StreamFault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Reply(delay=-1)
    with pytest.raises(ValueError):
        StreamFault("cut", reply=Reply(raw=b"x"))
    with pytest.raises(ValueError):
        StreamFault("cut", reply=Reply(body={}))
    with pytest.raises(ValueError):
        Reply(tool_calls=[{"arguments": {}}])
    with pytest.raises(ValueError):
        Reply(tool_calls=[{"name": "f", "arguments": 3}])


def stream_parts(client: httpx.Client, emu: Emulator, fault: StreamFault) -> tuple[str, list[str]]:
    emu.enqueue(fault)
    text = client.post(CHAT, json=STREAM).text
    return text, data_lines(text)


def chunks_of(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(p) for p in lines if p != "[DONE]"]


def has_finish(chunks: list[dict[str, Any]]) -> bool:
    return any(c["choices"] and c["choices"][0]["finish_reason"] for c in chunks)


def test_stream_fault_cut(client: httpx.Client, emu: Emulator) -> None:
    _, lines = stream_parts(client, emu, StreamFault("cut", after=2))
    assert len(lines) == 2 and "[DONE]" not in lines
    assert all(c["choices"] for c in chunks_of(lines))  # no usage chunk


def test_stream_fault_cut_done_looks_like_a_normal_end(client: httpx.Client, emu: Emulator) -> None:
    _, lines = stream_parts(client, emu, StreamFault("cut_done", after=2))
    chunks = chunks_of(lines)
    assert len(lines) == 4 and lines[-1] == "[DONE]"
    assert chunks[-1]["choices"] == [] and "claude_cache_creation_5_m_tokens" in chunks[-1]["usage"]
    assert not has_finish(chunks)


def test_stream_fault_cut_done_after_everything_still_drops_the_finish(
    client: httpx.Client, emu: Emulator
) -> None:
    _, lines = stream_parts(client, emu, StreamFault("cut_done", after=1000))
    assert lines[-1] == "[DONE]" and not has_finish(chunks_of(lines))


def test_stream_fault_malformed(client: httpx.Client, emu: Emulator) -> None:
    text, lines = stream_parts(client, emu, StreamFault("malformed", after=1))
    assert lines[1] == "{not json" and lines[-1] == "[DONE]"
    assert "data: {not json\n\n" in text


def test_stream_fault_error_mid_stream(client: httpx.Client, emu: Emulator) -> None:
    _, lines = stream_parts(client, emu, StreamFault("error_mid_stream", after=2))
    assert json.loads(lines[2])["error"]["type"] == "server_error"
    assert json.loads(lines[3])["choices"] == [] and lines[4] == "[DONE]" and len(lines) == 5


def test_stream_fault_no_finish(client: httpx.Client, emu: Emulator) -> None:
    _, lines = stream_parts(client, emu, StreamFault("no_finish"))
    chunks = chunks_of(lines)
    assert not has_finish(chunks) and chunks[-1]["choices"] == [] and lines[-1] == "[DONE]"


def test_stream_fault_bare_json_error(client: httpx.Client, emu: Emulator) -> None:
    text, lines = stream_parts(client, emu, StreamFault("bare_json_error", after=1))
    assert len(lines) == 1 and "[DONE]" not in text
    tail = text.split("\n\n")[-1]
    assert json.loads(tail)["error"]["type"] == "new_api_error"


def test_stream_fault_ping(client: httpx.Client, emu: Emulator) -> None:
    text, lines = stream_parts(client, emu, StreamFault("ping", after=1))
    assert text.count(": PING\n\n") == len(lines) - 1
    assert lines[-1] == "[DONE]" and has_finish(chunks_of(lines))


def test_stream_fault_with_a_scripted_reply(client: httpx.Client, emu: Emulator) -> None:
    _, lines = stream_parts(
        client, emu, StreamFault("no_finish", reply=Reply(text="scripted words here"))
    )
    text = "".join(
        c["choices"][0]["delta"].get("content", "") for c in chunks_of(lines) if c["choices"]
    )
    assert text == "scripted words here"


def test_stream_fault_on_verbatim_chunks(client: httpx.Client, emu: Emulator) -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    _, lines = stream_parts(client, emu, StreamFault("no_finish", reply=Reply(chunks=chunks)))
    assert [json.loads(x) for x in lines[:-1]] == chunks[:1] and lines[-1] == "[DONE]"


def test_stream_fault_needs_a_streaming_request(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(StreamFault("cut"))
    r = client.post(CHAT, json=BODY)
    assert r.status_code == 500 and r.json()["error"]["type"] == "emulator_error"
    assert emu.pending == 0


def test_stream_fault_stall_pauses_without_closing(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(StreamFault("stall", after=2, seconds=0.6))
    started = time.monotonic()
    with client.stream("POST", CHAT, json=STREAM) as r:
        times = []
        for line in r.iter_lines():
            if line.startswith("data: "):
                times.append(time.monotonic() - started)
    assert times[2] - times[1] >= 0.5 and times[1] < 0.5


def test_stall_is_bounded_by_the_client_timeout(emu: Emulator) -> None:
    emu.enqueue(StreamFault("stall", after=1, seconds=5))
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    timeout = httpx.Timeout(5.0, read=0.3)
    with (
        httpx.Client(base_url=emu.base_url, headers=headers, timeout=timeout) as c,
        pytest.raises(httpx.ReadTimeout),
        c.stream("POST", CHAT, json=STREAM) as r,
    ):
        for _ in r.iter_lines():
            pass


def wait_for(predicate: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_closed_early_is_recorded_when_the_client_leaves_mid_stream(
    client: httpx.Client, emu: Emulator
) -> None:
    emu.enqueue(StreamFault("stall", after=2, seconds=5))
    started = time.monotonic()
    with client.stream("POST", CHAT, json=STREAM) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
    assert wait_for(lambda: emu.requests[-1].closed_early)
    assert time.monotonic() - started < 3  # the stall ended with the disconnect


def test_complete_streams_are_not_closed_early(client: httpx.Client, emu: Emulator) -> None:
    client.post(CHAT, json=STREAM)
    client.post(CHAT, json=BODY)
    time.sleep(0.05)
    assert [r.closed_early for r in emu.requests] == [False, False]


def test_delay_applies_before_the_response(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(
        Reply(text="late", delay=0.3), Fault(500, delay=0.3), StreamFault("cut", after=1, delay=0.3)
    )
    for body in (BODY, BODY, STREAM):
        started = time.monotonic()
        client.post(CHAT, json=body)
        assert time.monotonic() - started >= 0.28


def test_queue_is_fifo_and_filtered_by_path(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(text="first"), Reply(text="second"), path=CHAT)
    emu.enqueue(Reply(body={"object": "list", "data": []}), path="/v1/embeddings")
    emu.enqueue(Fault(500), path="/v1/models")
    assert emu.pending == 4
    assert client.post("/v1/embeddings", json={"model": "m", "input": "x"}).json()["data"] == []
    assert client.post(CHAT, json=BODY).json()["choices"][0]["message"]["content"] == "first"
    assert client.get("/v1/models").status_code == 500
    assert client.post(CHAT, json=BODY).json()["choices"][0]["message"]["content"] == "second"
    assert emu.pending == 0


def test_pathless_items_skip_non_generation_routes(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Fault(500))
    assert client.get("/v1/models").status_code == 200
    assert client.post("/v1/embeddings", json={"model": "m", "input": "x"}).status_code == 500


def test_failed_checks_do_not_consume_items(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(text="kept"))
    assert client.post(CHAT, json={"model": "gpt-4o"}).status_code == 500
    assert (
        client.post(CHAT, headers={"Authorization": "Bearer sk-bad"}, json=BODY).status_code == 401
    )
    assert client.post(CHAT, json=BODY).json()["choices"][0]["message"]["content"] == "kept"


def test_requests_are_recorded(client: httpx.Client, emu: Emulator) -> None:
    client.post(
        f"{CHAT}?a=1&a=2&b=", json=BODY, headers=[("X-Custom", "v"), ("X-Dup", "1"), ("x-dup", "2")]
    )
    client.post(CHAT, content=b"\xff not json")
    first, second = emu.requests
    assert (first.method, first.path, first.query) == ("POST", CHAT, {"a": "2", "b": ""})
    assert (
        first.headers["x-custom"] == "v"
        and first.headers["authorization"] == f"Bearer {emu.api_key}"
    )
    assert first.json == BODY and json.loads(first.body) == BODY
    assert first.request_id and first.request_id != second.request_id
    assert second.json is None and second.body == b"\xff not json"
    emu.clear()
    assert emu.requests == []


def test_fault_profile_is_deterministic_for_a_seed() -> None:
    profile = FaultProfile(
        rate_429=0.2,
        rate_429_retry_after=0.5,
        rate_5xx=0.2,
        rate_cut=0.2,
        rate_error_mid_stream=0.2,
        seed=7,
    )

    def run() -> list[tuple[int, bool, bool]]:
        out = []
        with Emulator(faults=profile) as emu:
            headers = {"Authorization": f"Bearer {emu.api_key}"}
            with httpx.Client(base_url=emu.base_url, headers=headers, timeout=10) as c:
                for _ in range(40):
                    r = c.post(CHAT, json=STREAM)
                    out.append(
                        (r.status_code, "retry-after" in r.headers, r.text.endswith("[DONE]\n\n"))
                    )
        return out

    first = run()
    assert first == run()
    statuses = {s for s, _, _ in first}
    assert {200, 429} <= statuses and statuses & {500, 502}
    assert any(ra for _, ra, _ in first) and any(s == 200 and not done for s, _, done in first)


def test_fault_profile_leaves_queued_items_alone() -> None:
    with Emulator(faults=FaultProfile(rate_5xx=1.0)) as emu:
        emu.enqueue(Reply(text="scripted"))
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        with httpx.Client(base_url=emu.base_url, headers=headers, timeout=10) as c:
            assert c.post(CHAT, json=BODY).json()["choices"][0]["message"]["content"] == "scripted"
            assert c.post(CHAT, json=BODY).status_code in (500, 502, 503)


def test_fault_profile_validation() -> None:
    with pytest.raises(ValueError):
        FaultProfile(rate_429=1.5)
    with pytest.raises(ValueError):
        FaultProfile(latency=(0.2, 0.1))
