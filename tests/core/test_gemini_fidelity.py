"""The Gemini codec against what the API really sends and accepts: safety blocks, thinking
budgets per model, TTS audio, image MIME types. Pure functions and real-shaped fixtures."""

from __future__ import annotations

import base64
import io
import json
import pickle
import struct
import wave
from pathlib import Path
from typing import Any

import pytest

from juhe_core._sse import ServerSentEvent, SSEDecoder
from juhe_core.catalogue import capabilities_for
from juhe_core.errors import BadRequestError, StreamError, UnsupportedFeatureError
from juhe_core.messages import (
    AudioPart,
    ChatRequest,
    ImagePart,
    Message,
    PartDelta,
    StreamDelta,
    TextDelta,
)
from juhe_core.wire import gemini

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"


def feed_all(raw: bytes) -> tuple[list[StreamDelta], gemini.ChatStreamAccumulator]:
    decoder, acc = SSEDecoder(), gemini.new_accumulator(request_id="rid")
    deltas = []
    for event in decoder.feed(raw) + decoder.flush():
        assert isinstance(event, ServerSentEvent)
        deltas += acc.feed(event)
    return deltas, acc


# --- safety blocks ---


def test_a_blocked_answer_raises_the_typed_block_error() -> None:
    body = json.loads((FIXTURES / "blocked.json").read_text())
    with pytest.raises(BadRequestError, match="blocked the answer") as info:
        gemini.decode_chat_response(body, request_id="rid")
    err = info.value
    assert (err.status, err.type, err.code) == (200, "answer_blocked", "SAFETY")
    assert err.request_id == "rid"
    assert "HARM_CATEGORY_DANGEROUS_CONTENT: HIGH" in err.message
    assert "HARASSMENT" not in err.message  # only the flagged categories are named
    assert err.body["candidates"][0]["safetyRatings"] == body["candidates"][0]["safetyRatings"]
    assert pickle.loads(pickle.dumps(err)).code == "SAFETY"


@pytest.mark.parametrize(
    "reason", ["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"]
)
def test_every_block_reason_raises_with_or_without_partial_text(reason: str) -> None:
    empty = {"candidates": [{"finishReason": reason, "index": 0}]}
    partial = {
        "candidates": [
            {"content": {"parts": [{"text": "Once upon"}]}, "finishReason": reason, "index": 0}
        ]
    }
    for body in (empty, partial):
        with pytest.raises(BadRequestError) as info:
            gemini.decode_chat_response(body)
        assert info.value.code == reason and info.value.type == "answer_blocked"


def test_a_stream_ending_on_a_block_with_no_text_raises() -> None:
    chunk = (FIXTURES / "blocked.json").read_text().replace("\n", "")
    acc = gemini.new_accumulator(request_id="rid")
    acc.feed(ServerSentEvent(chunk))
    with pytest.raises(StreamError, match="blocked the answer") as info:
        acc.finish()
    err = info.value
    assert (err.type, err.code, err.request_id) == ("answer_blocked", "SAFETY", "rid")
    assert err.body["candidates"][0]["safetyRatings"][3]["blocked"] is True


def test_partial_text_then_a_block_keeps_the_text_but_ends_in_the_error() -> None:
    deltas, acc = feed_all((FIXTURES / "blocked_stream.sse").read_bytes())
    delivered = "".join(d.text for d in deltas if isinstance(d, TextDelta))
    assert delivered == "First, gather the following materials:"
    with pytest.raises(StreamError) as info:
        acc.finish()
    assert info.value.code == "SAFETY"
    assert "HARM_CATEGORY_DANGEROUS_CONTENT: MEDIUM" in info.value.message


def test_a_blocked_prompt_keeps_its_ratings() -> None:
    ratings = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]
    body = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": ratings}}
    with pytest.raises(BadRequestError, match="HARASSMENT: HIGH") as info:
        gemini.decode_chat_response(body)
    assert info.value.type == "prompt_blocked"
    with pytest.raises(StreamError) as streamed:
        gemini.new_accumulator().feed(ServerSentEvent(json.dumps(body)))
    assert streamed.value.type == "prompt_blocked" and streamed.value.body == body


def test_a_normal_stop_is_still_a_normal_answer() -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}
    assert gemini.decode_chat_response(body).text == "hi"


# --- thinking budgets per model ---


def thinking(model: str, **fields: Any) -> Any:
    request = ChatRequest(model, [Message.text("user", "x")], **fields)
    return gemini.encode_chat_request(request, stream=False)["generationConfig"].get(
        "thinkingConfig"
    )


def test_minimal_effort_is_the_least_thinking_each_model_allows() -> None:
    assert thinking("gemini-2.5-pro", reasoning_effort="minimal") == {
        "thinkingBudget": 128,  # 2.5 Pro cannot turn thinking off
        "includeThoughts": True,
    }
    for model in ("gemini-2.5-flash", "gemini-2.5-flash-lite"):
        assert thinking(model, reasoning_effort="minimal") == {"thinkingBudget": 0}
    assert thinking("gemini-2.5-pro", reasoning_effort="low")["thinkingBudget"] == 1024


@pytest.mark.parametrize(
    ("model", "fields", "match"),
    [
        ("gemini-2.5-pro", {"thinking_budget": 0}, "cannot turn thinking off.*128"),
        ("gemini-2.5-pro", {"reasoning_effort": "none"}, "cannot turn thinking off"),
        ("gemini-2.5-pro", {"thinking_budget": 64}, "thinking_budget=64 .* minimum of 128$"),
        ("gemini-2.5-flash-lite", {"thinking_budget": 100}, "minimum of 512, or 0"),
        ("gemini-2.5-flash", {"thinking_budget": 30_000}, "above .* maximum of 24576$"),
        ("gemini-2.5-pro", {"thinking_budget": 40_000}, "maximum of 32768$"),
    ],
)
def test_budgets_the_model_refuses_are_refused_by_name(model: str, fields: Any, match: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=match):
        thinking(model, **fields)


def test_the_highest_effort_is_the_most_thinking_each_model_allows() -> None:
    assert thinking("gemini-2.5-flash", reasoning_effort="max")["thinkingBudget"] == 24_576
    assert thinking("gemini-2.5-pro", reasoning_effort="xhigh")["thinkingBudget"] == 32_768
    assert thinking("gemini-2.5-pro", thinking_budget=32_768)["thinkingBudget"] == 32_768


def test_the_catalogue_says_which_models_can_turn_thinking_off() -> None:
    assert not capabilities_for("gemini-2.5-pro-preview-06-05").thinking_off
    assert capabilities_for("gemini-2.5-flash").thinking_off
    assert capabilities_for("gemini-2.5-flash-lite").min_thinking_budget == 512
    assert thinking("gemini-2.5-flash", thinking_budget=0) == {"thinkingBudget": 0}
    assert thinking("gemini-2.5-pro", thinking_budget=-1) == {  # dynamic, Gemini's own
        "thinkingBudget": -1,
        "includeThoughts": True,
    }


# --- TTS audio: raw PCM becomes a WAV file ---

PCM = struct.pack("<6h", 0, 1000, -1000, 32767, -32768, 7)


def audio_answer(mime: str, data: bytes = PCM) -> dict[str, Any]:
    inline = {"mimeType": mime, "data": base64.b64encode(data).decode()}
    return {
        "candidates": [{"content": {"parts": [{"inlineData": inline}]}, "finishReason": "STOP"}]
    }


def read_wav(data: bytes) -> tuple[int, int, int, bytes]:
    with wave.open(io.BytesIO(data)) as w:
        frames = w.readframes(w.getnframes())
        return w.getnchannels(), w.getsampwidth(), w.getframerate(), frames


@pytest.mark.parametrize(
    ("mime", "rate"),
    [
        ("audio/L16;codec=pcm;rate=24000", 24_000),
        ("audio/L16; codec=pcm; rate=16000", 16_000),
        ("audio/pcm", 24_000),  # no rate named: Gemini TTS's 24 kHz
    ],
)
def test_tts_pcm_is_decoded_to_a_wav_file(mime: str, rate: int) -> None:
    (audio,) = gemini.decode_chat_response(audio_answer(mime)).parts
    assert isinstance(audio, AudioPart) and audio.mime_type == "audio/wav"
    assert audio.data[:4] == b"RIFF" and audio.data[8:16] == b"WAVEfmt "
    assert len(audio.data) == 44 + len(PCM) and audio.data[44:] == PCM
    assert read_wav(audio.data) == (1, 2, rate, PCM)


def test_other_audio_is_kept_as_sent() -> None:
    (audio,) = gemini.decode_chat_response(audio_answer("audio/mpeg", b"ID3")).parts
    assert audio == AudioPart(b"ID3", "audio/mpeg")


def test_streamed_pcm_pieces_are_each_playable_and_one_wav_in_the_result() -> None:
    acc = gemini.new_accumulator()
    pieces = [PCM[:6], PCM[6:]]
    deltas = []
    for i, piece in enumerate(pieces):
        chunk = audio_answer("audio/L16;codec=pcm;rate=24000", piece)
        if i < len(pieces) - 1:
            del chunk["candidates"][0]["finishReason"]
        deltas += acc.feed(ServerSentEvent(json.dumps(chunk)))
    parts = [d.part for d in deltas if isinstance(d, PartDelta)]
    assert [read_wav(p.data)[3] for p in parts if isinstance(p, AudioPart)] == pieces
    (audio,) = acc.finish().parts
    assert isinstance(audio, AudioPart) and read_wav(audio.data) == (1, 2, 24_000, PCM)


# --- image MIME types ---


@pytest.mark.parametrize(
    ("image", "mime"),
    [
        (ImagePart(url="https://x/cat.png"), "image/png"),
        (ImagePart(url="https://x/CAT.PNG?size=large#top"), "image/png"),
        (ImagePart(url="https://x/a.webp"), "image/webp"),
        (ImagePart(url="https://x/a.jpeg"), "image/jpeg"),
        (ImagePart(url="https://x/image?id=3"), "image/jpeg"),  # unknown: the default
        (ImagePart(url="https://x/a.png", mime_type="image/gif"), "image/gif"),  # given wins
        (ImagePart(data=b"\x89PNG\r\n\x1a\n...."), "image/png"),  # bytes: their signature
    ],
)
def test_an_image_gets_its_own_mime_type(image: ImagePart, mime: str) -> None:
    body = gemini.encode_chat_request(
        ChatRequest("gemini-2.5-flash", [Message("user", (image,))]), stream=False
    )
    (part,) = body["contents"][0]["parts"]
    media = part.get("fileData") or part.get("inlineData")
    assert media["mimeType"] == mime
