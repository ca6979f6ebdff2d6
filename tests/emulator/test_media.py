"""Images, speech, moderation and billing over HTTP, and the validity of the generated files."""

from __future__ import annotations

import base64
import io
import struct
import wave
import zlib

import httpx
import pytest

from juhe_core.testing import Emulator, Fault, Reply
from juhe_core.testing._media import png, speech

pytestmark = pytest.mark.timeout(20)


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw scanlines of an 8-bit RGB PNG, checking every chunk CRC."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + chunk) & 0xFFFFFFFF == crc
        if kind == b"IHDR":
            size = struct.unpack(">II", chunk[:8])
            assert chunk[8:10] == b"\x08\x02"  # 8-bit RGB
        idat += chunk if kind == b"IDAT" else b""
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert len(raw) == size[1] * (1 + 3 * size[0])
    return size[0], size[1], raw


def test_images_url_is_served_without_a_key(client: httpx.Client, bare: httpx.Client) -> None:
    r = client.post(
        "/v1/images/generations",
        json={"model": "dall-e-3", "prompt": "a red fox", "size": "1792x1024"},
    )
    (item,) = r.json()["data"]
    assert item["revised_prompt"].startswith("a red fox") and isinstance(r.json()["created"], int)
    assert item["url"].startswith(client.base_url.scheme + "://127.0.0.1:")
    image = bare.get(item["url"])
    assert image.headers["content-type"] == "image/png"
    assert png_pixels(image.content)[:2] == (56, 32)


def test_b64_json_pixels_depend_on_the_prompt(client: httpx.Client) -> None:
    def image(prompt: str) -> bytes:
        body = {"model": "gpt-image-1", "prompt": prompt, "n": 2}
        data = client.post("/v1/images/generations", json=body).json()["data"]
        assert len(data) == 2 and data[0]["b64_json"] != data[1]["b64_json"]
        return base64.b64decode(data[0]["b64_json"])

    fox, cat = image("a fox"), image("a cat")
    assert png_pixels(fox)[2] != png_pixels(cat)[2] and image("a fox") == fox


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({"prompt": "x"}, 500, "model is required"),
        ({"model": "dall-e-3", "prompt": "x", "size": "512x512"}, 500, "for dall-e-3"),
        ({"model": "dall-e-3", "prompt": "x", "size": "1024×1024"}, 500, "multiplication"),
        ({"model": "dall-e-3", "prompt": "x", "n": 11}, 500, "between 1 and 10"),
        ({"model": "dall-e-3", "prompt": "x", "n": 2}, 400, "n=1"),
        ({"model": "dall-e-3"}, 400, "'prompt'"),
        ({"model": "dall-e-3", "prompt": "x", "response_format": "gif"}, 400, "'gif'"),
    ],
)
def test_image_validation(
    client: httpx.Client, body: dict[str, object], status: int, text: str
) -> None:
    r = client.post("/v1/images/generations", json=body)
    assert r.status_code == status and text in r.json()["error"]["message"]
    if status == 500:
        assert r.json()["error"]["code"] == "invalid_request"


def test_gpt_image_models_reject_response_format_as_openai_does(client: httpx.Client) -> None:
    unknown = {
        "message": "Unknown parameter: 'response_format'.",
        "type": "invalid_request_error",
        "param": "response_format",
        "code": "unknown_parameter",
    }
    for model in ("gpt-image-1", "gpt-image-1-mini"):
        body = {"model": model, "prompt": "x", "response_format": "b64_json"}
        r = client.post("/v1/images/generations", json=body)
        assert (r.status_code, r.json()) == (400, {"error": unknown})
    r = client.post(
        "/v1/images/edits",
        data={"model": "gpt-image-1", "prompt": "x", "response_format": "url"},
        files=[("image", ("a.png", png("a"), "image/png"))],
    )
    assert (r.status_code, r.json()) == (400, {"error": unknown})
    r = client.post("/v1/images/generations", json={"model": "gpt-image-1", "prompt": "x"})
    assert r.status_code == 200 and "b64_json" in r.json()["data"][0]  # always bytes


def test_gpt_image_1_sizes(client: httpx.Client) -> None:
    body = {"model": "gpt-image-1", "prompt": "x", "size": "1792x1024"}
    r = client.post("/v1/images/generations", json=body)
    assert r.status_code == 400 and r.json()["error"] == {
        "message": "Invalid value: '1792x1024'. Supported values are: '1024x1024', "
        "'1024x1536', '1536x1024', and 'auto'.",
        "type": "invalid_request_error",
        "param": "size",
        "code": "invalid_value",
    }
    for size in ("1536x1024", "1024x1536", "auto"):
        r = client.post("/v1/images/generations", json={**body, "size": size})
        assert r.status_code == 200, size


def test_image_edit_multipart(client: httpx.Client) -> None:
    source = png("source")
    files = [
        ("image[]", ("a.png", source, "image/png")),
        ("image[]", ("b.png", png("b"), "image/png")),
    ]
    files.append(("mask", ("mask.png", png("mask"), "image/png")))
    form = {"model": "gpt-image-1", "prompt": "make it blue", "n": "1"}
    r = client.post("/v1/images/edits", data=form, files=files)
    assert r.status_code == 200
    edited = base64.b64decode(r.json()["data"][0]["b64_json"])
    assert png_pixels(edited)[:2] == (32, 32)
    single = client.post(
        "/v1/images/edits",
        data={**form, "model": "dall-e-2", "response_format": "url"},
        files=[("image", ("a.png", source, "image/png"))],
    )
    assert single.json()["data"][0]["url"].endswith(".png")


def test_image_edit_rejects_non_images(client: httpx.Client) -> None:
    form = {"model": "gpt-image-1", "prompt": "x"}
    r = client.post(
        "/v1/images/edits", data=form, files=[("image", ("a.txt", b"hello", "text/plain"))]
    )
    assert r.status_code == 400 and "Invalid input image" in r.json()["error"]["message"]
    r = client.post(
        "/v1/images/edits",
        data={"prompt": "x"},
        files=[("image", ("a.png", png("a"), "image/png"))],
    )
    assert r.status_code == 400 and r.json()["error"]["type"] == "new_api_error"  # no model
    r = client.post("/v1/images/edits", json={"model": "gpt-image-1"})
    assert r.status_code == 500


def test_speech_wav_length_follows_the_text(client: httpx.Client) -> None:
    def seconds(text: str) -> float:
        body = {"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}
        r = client.post("/v1/audio/speech", json=body)
        assert r.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(r.content)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
            return w.getnframes() / w.getframerate()

    assert 0.2 <= seconds("Hi") < seconds("A much longer sentence to speak aloud.") <= 3.0


@pytest.mark.parametrize(
    ("fmt", "content_type", "magic"),
    [
        (None, "audio/mpeg", b"\xff\xfb"),
        ("opus", "audio/opus", b"OggS"),
        ("aac", "audio/aac", b"\xff\xf1"),
        ("flac", "audio/flac", b"fLaC"),
    ],
)
def test_speech_formats(
    client: httpx.Client, fmt: str | None, content_type: str, magic: bytes
) -> None:
    body = {"model": "tts-1", "input": "Hello there", "voice": "nova"}
    if fmt:
        body["response_format"] = fmt
    r = client.post("/v1/audio/speech", json=body)
    assert r.status_code == 200 and r.headers["content-type"] == content_type
    assert r.content.startswith(magic) and r.content == speech("Hello there", fmt or "mp3")


def test_mp3_frames_are_well_formed() -> None:
    data = speech("Hello World, how are you?", "mp3")
    assert len(data) % 96 == 0 and len(data) // 96 == 62  # 1.5 s / 24 ms per frame
    assert all(data[i : i + 4] == b"\xff\xfb\x14\xc4" for i in range(0, len(data), 96))


def test_pcm_is_raw_24khz_samples() -> None:
    assert len(speech("Hello World, how are you?", "pcm")) == int(1.5 * 24000) * 2


def test_speech_errors(client: httpx.Client) -> None:
    r = client.post("/v1/audio/speech", json={"input": "x", "voice": "alloy"})
    assert r.status_code == 500 and "model is required" in r.json()["error"]["message"]
    r = client.post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": "x", "voice": "a", "response_format": "ogg"},
    )
    assert r.status_code == 400 and r.json()["error"]["param"] == "response_format"
    r = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "x" * 4097, "voice": "a"})
    assert r.status_code == 400 and "4096" in r.json()["error"]["message"]


def test_moderation_rules_and_usage(client: httpx.Client) -> None:
    body = {
        "model": "omni-moderation-latest",
        "input": ["I want to kill them.", "Nice weather today."],
    }
    out = client.post("/v1/moderations", json=body).json()
    violent, calm = out["results"]
    assert violent["flagged"] and violent["categories"]["violence"]
    assert violent["category_scores"]["violence"] > 0.5
    assert not calm["flagged"] and max(calm["category_scores"].values()) < 0.01
    assert "illicit" in calm["categories"] and calm["category_applied_input_types"]["hate"] == [
        "text"
    ]
    assert out["usage"]["prompt_tokens"] > 0 and out["id"].startswith("modr-")
    legacy = client.post("/v1/moderations", json={"input": "You idiot"}).json()
    assert (
        legacy["model"] == "text-moderation-latest"
        and "illicit" not in legacy["results"][0]["categories"]
    )
    assert legacy["results"][0]["categories"]["harassment"]
    r = client.post("/v1/moderations", json={"model": "omni-moderation-latest"})
    assert r.status_code == 500 and "field input is required" in r.json()["error"]["message"]


def test_billing_grows_with_use() -> None:
    with (
        Emulator(quota_usd=50.0) as emu,
        httpx.Client(
            base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.api_key}"}
        ) as c,
    ):
        sub = c.get("/v1/dashboard/billing/subscription").json()
        assert sub["object"] == "billing_subscription" and sub["hard_limit_usd"] == 50.0
        assert c.get("/v1/dashboard/billing/usage").json() == {"object": "list", "total_usage": 0}
        c.post("/v1/images/generations", json={"model": "dall-e-3", "prompt": "x"})
        c.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        )
        used = c.get("/dashboard/billing/usage").json()["total_usage"]
        assert 4.0 < used < 5.0  # $0.04 image + a few tokens, in cents


def test_scripting_applies_to_media_routes(client: httpx.Client, emu: Emulator) -> None:
    emu.enqueue(Fault(429), Reply(body={"data": []}), path="/v1/images/generations")
    body = {"model": "dall-e-3", "prompt": "x"}
    assert client.post("/v1/images/generations", json=body).status_code == 429
    assert client.post("/v1/images/generations", json=body).json() == {"data": []}
    emu.enqueue(Reply(raw=b"ID3fake", headers={"X-Test": "1"}), path="/v1/audio/speech")
    r = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "x", "voice": "a"})
    assert r.content == b"ID3fake" and r.headers["x-test"] == "1"
    emu.enqueue(Fault(500), path="/v1/dashboard/billing/usage")
    assert client.get("/v1/dashboard/billing/usage").status_code == 500


def test_clear_starts_the_store_afresh(client: httpx.Client, emu: Emulator) -> None:
    client.post("/v1/images/generations", json={"model": "dall-e-3", "prompt": "x"})
    task_id = client.post("/mj/submit/imagine", json={"prompt": "x"}).json()["result"]
    assert client.get("/v1/dashboard/billing/usage").json()["total_usage"] > 0
    emu.clear()
    assert client.get("/v1/dashboard/billing/usage").json()["total_usage"] == 0
    assert client.get(f"/mj/task/{task_id}/fetch").status_code == 400
