"""Gemini native routes over HTTP: auth, generateContent, alt=sse streams, output modalities."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

import httpx
import pytest

from juhe_core.testing import EMULATOR_API_KEY, Emulator, Fault, Reply, StreamFault

pytestmark = pytest.mark.timeout(20)

MODEL = "gemini-2.5-flash"
GEN = f"/v1beta/models/{MODEL}:generateContent"
STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
USER = [{"role": "user", "parts": [{"text": "What is the weather in 'Rome' for 2 days?"}]}]
WEATHER = {
    "functionDeclarations": [
        {
            "name": "get_weather",
            "description": "Get the weather forecast for a city.",
            "parameters": {
                "type": "OBJECT",
                "properties": {"city": {"type": "STRING"}, "days": {"type": "INTEGER"}},
                "required": ["city", "days"],
            },
        }
    ]
}


def body(**extra: Any) -> dict[str, Any]:
    return {"contents": USER, **extra}


def chunks(text: str) -> list[Any]:
    return [json.loads(x[6:]) for x in text.split("\n") if x.startswith("data: ")]


def parts_of(response: Any) -> list[dict[str, Any]]:
    return list(response["candidates"][0]["content"]["parts"])


def test_key_in_query_header_or_bearer(bare: httpx.Client) -> None:
    key = EMULATOR_API_KEY
    assert bare.post(f"{GEN}?key={key}", json=body()).status_code == 200
    assert bare.post(GEN, json=body(), headers={"x-goog-api-key": key}).status_code == 200
    assert (
        bare.post(GEN, json=body(), headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    # The header wins over the query parameter (relay-behavior.md §2 step 3).
    r = bare.post(f"{GEN}?key={key}", json=body(), headers={"x-goog-api-key": "sk-wrong"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "new_api_error"


def test_generate_content_shape(client: httpx.Client) -> None:
    response = client.post(GEN, json=body()).json()
    candidate = response["candidates"][0]
    assert candidate["content"]["role"] == "model" and candidate["finishReason"] == "STOP"
    assert "Rome" in candidate["content"]["parts"][0]["text"]
    usage = response["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert response["modelVersion"] == MODEL and response["responseId"]


def test_function_call_with_gemini_schema(client: httpx.Client) -> None:
    (part,) = parts_of(client.post(GEN, json=body(tools=[WEATHER])).json())
    assert part["functionCall"] == {"name": "get_weather", "args": {"city": "Rome", "days": 2}}
    assert "thoughtSignature" not in part
    none = body(tools=[WEATHER], toolConfig={"functionCallingConfig": {"mode": "NONE"}})
    assert "text" in parts_of(client.post(GEN, json=none).json())[0]


def test_function_response_is_answered(client: httpx.Client) -> None:
    history = [
        *USER,
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"sky": "clear"}}}],
        },
    ]
    text = parts_of(client.post(GEN, json=body(contents=history, tools=[WEATHER])).json())[0]
    assert 'get_weather tool returned: {"sky": "clear"}' in text["text"]


def test_thoughts_with_signatures(client: httpx.Client) -> None:
    config = {"thinkingConfig": {"includeThoughts": True, "thinkingBudget": 1024}}
    response = client.post(GEN, json=body(generationConfig=config, tools=[WEATHER])).json()
    thought, call = parts_of(response)
    assert thought["thought"] is True and thought["text"] and thought["thoughtSignature"]
    assert call["functionCall"]["name"] == "get_weather" and call["thoughtSignature"]
    assert response["usageMetadata"]["thoughtsTokenCount"] > 0
    hidden = {"thinkingConfig": {"thinkingBudget": 512}}
    parts = parts_of(client.post(GEN, json=body(generationConfig=hidden, tools=[WEATHER])).json())
    assert [p.get("thought") for p in parts] == [None] and parts[0]["thoughtSignature"]


def test_structured_output_is_an_instance(client: httpx.Client) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "city": {"type": "STRING"},
            "days": {"type": "INTEGER"},
            "note": {"type": "STRING", "nullable": True},
        },
        "required": ["city", "days"],
    }
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    text = parts_of(client.post(GEN, json=body(generationConfig=config)).json())[0]["text"]
    value = json.loads(text)
    assert value["city"] == "Rome" and value["days"] == 2
    plain_json = {"responseMimeType": "application/json"}
    text = parts_of(client.post(GEN, json=body(generationConfig=plain_json)).json())[0]["text"]
    assert isinstance(json.loads(text), dict)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    zlib.decompress(data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8])
    return width, height


def test_image_and_audio_modalities(client: httpx.Client) -> None:
    config = {"responseModalities": ["TEXT", "IMAGE"]}
    parts = parts_of(client.post(GEN, json=body(generationConfig=config)).json())
    image = next(p["inlineData"] for p in parts if "inlineData" in p)
    assert image["mimeType"] == "image/png"
    assert _png_size(base64.b64decode(image["data"])) == (32, 32)
    config = {"responseModalities": ["AUDIO"]}
    parts = parts_of(client.post(GEN, json=body(generationConfig=config)).json())
    audio = next(p["inlineData"] for p in parts if "inlineData" in p)
    # Gemini TTS sends raw 16-bit little-endian PCM, not a WAV file.
    assert audio["mimeType"] == "audio/L16;codec=pcm;rate=24000"
    samples = base64.b64decode(audio["data"])
    assert not samples.startswith(b"RIFF") and len(samples) % 2 == 0 and len(samples) > 0
    assert max(abs(s) for (s,) in struct.iter_unpack("<h", samples)) < 4000  # a quiet tone


def test_stream_has_no_done_and_ends_with_finish(client: httpx.Client) -> None:
    r = client.post(STREAM, json=body())
    assert r.headers["content-type"] == "text/event-stream"
    assert "[DONE]" not in r.text and "event:" not in r.text
    got = chunks(r.text)
    assert len(got) > 1
    assert all("finishReason" not in c["candidates"][0] for c in got[:-1])
    assert got[-1]["candidates"][0]["finishReason"] == "STOP" and got[-1]["usageMetadata"]
    text = "".join(p.get("text", "") for c in got for p in parts_of(c))
    assert text == parts_of(client.post(GEN, json=body()).json())[0]["text"]


def test_stream_function_call_carries_signature(client: httpx.Client) -> None:
    config = {"thinkingConfig": {"includeThoughts": True}}
    got = chunks(client.post(STREAM, json=body(generationConfig=config, tools=[WEATHER])).text)
    parts = [p for c in got for p in parts_of(c)]
    thoughts = [p for p in parts if p.get("thought")]
    assert thoughts and "thoughtSignature" in thoughts[-1]
    call = next(p for p in parts if "functionCall" in p)
    assert call["thoughtSignature"] and call["functionCall"]["args"] == {"city": "Rome", "days": 2}


def test_stream_path_without_alt_sse_answers_json(client: httpx.Client) -> None:
    r = client.post(f"/v1beta/models/{MODEL}:streamGenerateContent", json=body())
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["candidates"][0]["finishReason"] == "STOP"


def test_count_tokens_is_answered_as_generate_content(client: httpx.Client) -> None:
    r = client.post(f"/v1beta/models/{MODEL}:countTokens", json=body())
    assert r.status_code == 200 and "candidates" in r.json()


def test_errors_are_openai_shaped(client: httpx.Client, emu: Emulator) -> None:
    r = client.post(GEN, json={"contents": []})
    assert r.status_code == 500 and r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["message"].startswith("contents is required (request id: ")
    r = client.post(GEN, json={"contents": [{"role": "bot", "parts": [{"text": "x"}]}]})
    assert r.status_code == 400 and r.json()["error"] == {
        "message": "Please use a valid role: user, model. Got: bot",
        "type": "upstream_error",
        "param": "",
        "code": 400,
    }
    strict = Emulator(models=["gemini-2.5-pro"], serve_unlisted=False)
    with strict, httpx.Client(base_url=strict.base_url) as other:
        r = other.post(f"{GEN}?key={strict.api_key}", json=body())
        assert r.status_code == 503 and r.json()["error"]["code"] == "model_not_found"
    emu.enqueue(Fault(500))
    r = client.post(GEN, json=body())
    assert r.status_code == 500 and r.json()["error"]["code"] == "do_request_failed"


def test_cut_ends_before_the_finish_chunk(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(StreamFault("cut", after=1000), StreamFault("error_mid_stream", after=1))
    got = chunks(client.post(STREAM, json=body()).text)
    assert got and all("finishReason" not in c["candidates"][0] for c in got)
    got = chunks(client.post(STREAM, json=body()).text)
    assert len(got) == 2 and got[-1]["error"]["status"] == "UNAVAILABLE"


def test_ping_is_refused_on_gemini_streams(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(StreamFault("ping"))
    assert client.post(STREAM, json=body()).json()["error"]["code"] == "emulator_script_error"


def test_scripted_reply_and_chunks(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Reply(text="scripted", usage={"promptTokenCount": 5}), Reply(chunks=[{"x": 1}]))
    response = client.post(GEN, json=body()).json()
    assert parts_of(response) == [{"text": "scripted"}]
    assert response["usageMetadata"]["promptTokenCount"] == 5
    assert client.post(STREAM, json=body()).text == 'data: {"x":1}\n\n'


def test_model_list_has_bare_names(client: httpx.Client) -> None:
    listed = client.get("/v1beta/models").json()
    assert listed["nextPageToken"] is None
    names = [m["name"] for m in listed["models"]]
    assert MODEL in names and not any(n.startswith("models/") for n in names)
    first = listed["models"][0]
    assert first["displayName"] == first["name"] and first["supportedGenerationMethods"] is None
