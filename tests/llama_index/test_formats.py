"""``Juhe`` in every wire format: each feature sent on the wire, or refused by name.

The matrix runs on ``MockRelay`` (``httpx.MockTransport``, no socket), which answers from
the codec fixtures: real-shaped native answers (signatures, server-tool blocks, image
parts) that the emulator's scripted model does not write. Each ``MATRIX`` row either
checks the body that was sent or expects ``UnsupportedFeatureError`` whose message names
the format and the feature. Also here: Gemini image and audio output as ``ImageBlock`` /
``AudioBlock`` (whole and streamed), and conversations that switch format mid-way: on
the mock relay for the fixtures' format-only blocks, and on the emulator end to end.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.callbacks.token_counting import get_tokens_from_response
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.testing import Emulator
from llama_index_juhe import Juhe

from .conftest import Both, user
from .relay import MockRelay, sse, stream_response

FORMATS = ("openai", "anthropic", "gemini", "responses")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
WAV = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00"
GEMINI_IMAGE = "gemini-2.5-flash-image"


def get_weather(city: str) -> str:
    """Get the current weather forecast for a city."""
    return f"Sunny in {city}"


TOOLS = [FunctionTool.from_defaults(get_weather)]


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


def asking(*blocks: Any) -> list[ChatMessage]:
    return [ChatMessage(role="user", blocks=[TextBlock(text="What is this?"), *blocks])]


def at(body: Any, *path: str | int) -> Any:
    for key in path:
        body = body[key]
    return body


Run = Callable[[Juhe], Any]
Check = Callable[[dict[str, Any]], bool]
REFUSED = None  # the format refuses the feature with UnsupportedFeatureError

# feature: (how to ask for it, what to find in the body per format, a word the refusal names)
MATRIX: dict[str, tuple[Run, dict[str, Check | None], str]] = {
    "tools": (
        lambda llm: llm.chat_with_tools(TOOLS, user_msg="Weather in Paris?"),
        {
            "openai": lambda b: at(b, "tools", 0, "function", "name") == "get_weather",
            "anthropic": lambda b: at(b, "tools", 0, "name") == "get_weather",
            "gemini": lambda b: (
                at(b, "tools", 0, "functionDeclarations", 0, "name") == "get_weather"
            ),
            "responses": lambda b: at(b, "tools", 0, "name") == "get_weather",
        },
        "",
    ),
    "tool_required": (
        lambda llm: llm.chat_with_tools(TOOLS, user_msg="Weather?", tool_required=True),
        {
            "openai": lambda b: b["tool_choice"] == "required",
            "anthropic": lambda b: b["tool_choice"]["type"] == "any",
            "gemini": lambda b: at(b, "toolConfig", "functionCallingConfig", "mode") == "ANY",
            "responses": lambda b: b["tool_choice"] == "required",
        },
        "",
    ),
    "json_schema": (
        lambda llm: llm.chat(user("Lyon?"), response_format=City),
        {
            "openai": lambda b: at(b, "response_format", "json_schema", "name") == "City",
            "anthropic": REFUSED,
            "gemini": lambda b: (
                "country" in at(b, "generationConfig", "responseSchema", "properties")
            ),
            "responses": lambda b: at(b, "text", "format", "type") == "json_schema",
        },
        "response_format",
    ),
    "json_mode": (
        lambda llm: llm.chat(user("JSON please"), response_format={"type": "json_object"}),
        {
            "openai": lambda b: b["response_format"] == {"type": "json_object"},
            "anthropic": REFUSED,
            "gemini": lambda b: at(b, "generationConfig", "responseMimeType") == "application/json",
            "responses": lambda b: at(b, "text", "format") == {"type": "json_object"},
        },
        "response_format",
    ),
    "image_input": (
        lambda llm: llm.chat(asking(ImageBlock(image=PNG, image_mimetype="image/png"))),
        {
            "openai": lambda b: at(b, "messages", 0, "content", 1, "type") == "image_url",
            "anthropic": lambda b: at(b, "messages", 0, "content", 1, "type") == "image",
            "gemini": lambda b: (
                at(b, "contents", 0, "parts", 1, "inlineData", "mimeType") == "image/png"
            ),
            "responses": lambda b: at(b, "input", 0, "content", 1, "type") == "input_image",
        },
        "",
    ),
    "pdf_input": (
        lambda llm: llm.chat(asking(DocumentBlock(data=b"%PDF-1.4 %\xe2\xe3")), max_tokens=9),
        {
            "openai": lambda b: at(b, "messages", 0, "content", 1, "type") == "file",
            "anthropic": lambda b: at(b, "messages", 0, "content", 1, "type") == "document",
            "gemini": lambda b: (
                at(b, "contents", 0, "parts", 1, "inlineData", "mimeType") == "application/pdf"
            ),
            "responses": lambda b: at(b, "input", 0, "content", 1, "type") == "input_file",
        },
        "",
    ),
    "audio_input": (
        lambda llm: llm.chat(asking(AudioBlock(audio=WAV, format="wav"))),
        {
            "openai": lambda b: (
                base64.b64decode(at(b, "messages", 0, "content", 1, "input_audio", "data")) == WAV
            ),
            "anthropic": REFUSED,
            "gemini": lambda b: (
                at(b, "contents", 0, "parts", 1, "inlineData", "mimeType") == "audio/wav"
            ),
            "responses": REFUSED,
        },
        "audio",
    ),
    "video_input": (
        lambda llm: llm.chat(asking(VideoBlock(video=b"\x00\x00\x00\x18ftypmp42"))),
        {
            "openai": lambda b: at(b, "messages", 0, "content", 1, "type") == "video_url",
            "anthropic": REFUSED,
            "gemini": lambda b: (
                at(b, "contents", 0, "parts", 1, "inlineData", "mimeType") == "video/mp4"
            ),
            "responses": REFUSED,
        },
        "video",
    ),
    "reasoning": (
        lambda llm: llm.chat(user("Think."), reasoning_effort="high"),
        {
            "openai": lambda b: b["reasoning_effort"] == "high",
            "anthropic": lambda b: b["thinking"]["type"] == "enabled",
            "gemini": lambda b: at(b, "generationConfig", "thinkingConfig", "includeThoughts"),
            "responses": lambda b: b["reasoning"]["effort"] == "high",
        },
        "",
    ),
    "stop": (
        lambda llm: llm.chat(user("Count."), stop=["END"]),
        {
            "openai": lambda b: b["stop"] == ["END"],
            "anthropic": lambda b: b["stop_sequences"] == ["END"],
            "gemini": lambda b: at(b, "generationConfig", "stopSequences") == ["END"],
            "responses": REFUSED,
        },
        "stop",
    ),
    "seed": (
        lambda llm: llm.chat(user("Pick."), seed=7),
        {
            "openai": lambda b: b["seed"] == 7,
            "anthropic": REFUSED,
            "gemini": lambda b: at(b, "generationConfig", "seed") == 7,
            "responses": REFUSED,
        },
        "seed",
    ),
    "logprobs": (
        lambda llm: llm.chat(user("Say hi."), logprobs=True, top_logprobs=2),
        {
            "openai": lambda b: (b["logprobs"], b["top_logprobs"]) == (True, 2),
            "anthropic": REFUSED,
            "gemini": lambda b: at(b, "generationConfig", "logprobs") == 2,
        },
        "logprobs",
    ),
}
CASES = [(f, fmt) for f, (_, checks, _) in MATRIX.items() for fmt in FORMATS if fmt in checks]


@pytest.mark.parametrize(("feature", "api_format"), CASES)
def test_every_feature_is_sent_or_refused_by_name(feature: str, api_format: str) -> None:
    run, checks, word = MATRIX[feature]
    relay = MockRelay()
    llm = relay.llm(api_format)
    check = checks[api_format]
    if check is REFUSED:
        with pytest.raises(UnsupportedFeatureError) as info:
            run(llm)
        assert api_format in str(info.value) and word in str(info.value)
        assert not relay.requests  # refused before anything was sent
    else:
        run(llm)
        assert check(relay.json())


@pytest.mark.parametrize(
    ("api_format", "options", "word"),
    [
        ("responses", {"logprobs": True}, "logprobs"),
        ("responses", {"top_logprobs": 3}, "logprobs"),
        ("anthropic", {"modalities": ["text", "image"]}, "modalities"),
        ("responses", {"modalities": ["audio"]}, "modalities"),
    ],
)
def test_options_a_codec_would_leave_out_are_refused_by_name(
    api_format: str, options: Any, word: str
) -> None:
    """The anthropic and responses codecs drop these without a word; Juhe refuses them."""
    relay = MockRelay()
    with pytest.raises(UnsupportedFeatureError, match=f"{api_format} format has no .*{word}"):
        relay.llm(api_format).chat(user("hi"), **options)
    assert not relay.requests
    relay.llm(api_format).chat(user("hi"), modalities=["text"])  # text alone is fine


# --- streaming and usage in every format ---


@pytest.mark.parametrize("api_format", FORMATS)
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_streaming_with_usage_in_every_format(api_format: str, kind: str) -> None:
    llm = MockRelay().llm(api_format)
    whole = Both(kind, llm).chat(user("hi"))
    chunks = Both(kind, llm).stream("chat", user("hi"))
    last = chunks[-1]
    for response in (whole, last):
        assert response.additional_kwargs["total_tokens"] > 0
        prompt, completion = get_tokens_from_response(response)  # TokenCountingHandler's view
        assert prompt > 0 and completion > 0
    assert len(chunks) > 2
    assert any(c.delta or c.additional_kwargs.get("thinking_delta") for c in chunks)
    streamed = "".join(c.delta or "" for c in chunks)
    assert streamed == "".join(b.text for b in last.message.blocks if isinstance(b, TextBlock))


def test_native_reasoning_and_calls_come_back_as_blocks() -> None:
    """The Anthropic fixture: thinking with its signature, redacted thinking, a tool call."""
    response = MockRelay().llm("anthropic").chat(user("Weather in LA?"))
    thinking = [b for b in response.message.blocks if isinstance(b, ThinkingBlock)]
    assert thinking[0].additional_information["signature"].startswith("EqQB")
    (call,) = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert call.tool_kwargs == {"location": "Los Angeles, CA", "unit": "celsius"}
    assert response.additional_kwargs["cached_tokens"] == 100


# --- Gemini image and audio output ---


def _gemini_answer(*parts: dict[str, Any], finish: bool = True) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    return {
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 6, "totalTokenCount": 10},
        "modelVersion": GEMINI_IMAGE,
        "responseId": "r1",
    }


def _inline(data: bytes, mime: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def _media_blocks(message: ChatMessage) -> list[ImageBlock | AudioBlock]:
    return [b for b in message.blocks if isinstance(b, (ImageBlock, AudioBlock))]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_gemini_image_and_audio_output_become_blocks(kind: str) -> None:
    relay = MockRelay()
    relay.add(
        f"/v1beta/models/{GEMINI_IMAGE}:generateContent",
        lambda _: httpx.Response(
            200,
            json=_gemini_answer(
                {"text": "Here it is."}, _inline(PNG, "image/png"), _inline(WAV, "audio/wav")
            ),
        ),
    )
    llm = relay.llm("gemini", model=GEMINI_IMAGE)
    response = Both(kind, llm).chat(user("Draw a cat and say meow."), modalities=["text", "image"])
    image, audio = _media_blocks(response.message)
    assert isinstance(image, ImageBlock) and isinstance(audio, AudioBlock)
    assert image.resolve_image().read() == PNG and image.image_mimetype == "image/png"
    assert audio.resolve_audio().read() == WAV and audio.format == "wav"
    assert relay.json()["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_streamed_gemini_image_arrives_whole_and_stays_in_the_message(kind: str) -> None:
    relay = MockRelay()
    body = sse(
        _gemini_answer({"text": "Here "}, finish=False),
        _gemini_answer({"text": "it is."}, finish=False),
        _gemini_answer(_inline(PNG, "image/png")),
    )
    relay.add(f"/v1beta/models/{GEMINI_IMAGE}:streamGenerateContent", stream_response(body))
    llm = relay.llm("gemini", model=GEMINI_IMAGE)
    chunks = Both(kind, llm).stream("chat", user("Draw a cat."), modalities=["image", "text"])
    firsts = [i for i, c in enumerate(chunks) if _media_blocks(c.message)]
    assert firsts and firsts[0] > 0  # it appears once it arrived, not before
    for chunk in chunks[firsts[0] :]:
        (image,) = _media_blocks(chunk.message)
        assert isinstance(image, ImageBlock) and image.resolve_image().read() == PNG
    assert "".join(c.delta or "" for c in chunks) == "Here it is."
    assert chunks[-1].additional_kwargs["total_tokens"] == 10


def test_an_image_answer_goes_back_in_gemini_history_and_is_refused_by_openai() -> None:
    relay = MockRelay()
    relay.add(
        f"/v1beta/models/{GEMINI_IMAGE}:generateContent",
        httpx.Response(200, json=_gemini_answer(_inline(PNG, "image/png"))),
    )
    llm = relay.llm("gemini", model=GEMINI_IMAGE)
    history = [*user("Draw a cat."), llm.chat(user("Draw a cat.")).message, *user("Bigger.")]
    llm.chat(history)
    model_turn = relay.json()["contents"][1]
    assert model_turn["role"] == "model"
    assert base64.b64decode(model_turn["parts"][0]["inlineData"]["data"]) == PNG
    with pytest.raises(UnsupportedFeatureError, match="openai"):
        relay.llm("openai").chat(history)


# --- switching format mid-conversation ---


def _turn(api_format: str, relay: MockRelay, history: list[ChatMessage]) -> list[ChatMessage]:
    """One more assistant turn from ``api_format`` plus a tool result for each call."""
    answer = relay.llm(api_format).chat(history).message
    results = [
        ChatMessage(
            role="tool",
            content="Sunny",
            additional_kwargs={"tool_call_id": b.tool_call_id, "name": b.tool_name},
        )
        for b in answer.blocks
        if isinstance(b, ToolCallBlock)
    ]
    return [*history, answer, *results]


@pytest.mark.parametrize("first", ["openai", "gemini"])
@pytest.mark.parametrize("then", FORMATS)
def test_portable_history_switches_format(first: str, then: str) -> None:
    """Text, tool calls and their results travel between every pair of formats."""
    relay = MockRelay()
    history = _turn(first, relay, user("What is 2 + 2?"))
    if first == "gemini":  # its fixture also holds an image, which only gemini takes back
        history[1].blocks = [b for b in history[1].blocks if not isinstance(b, ImageBlock)]
    relay.llm(then).chat([*history, *user("Thanks. And 3 + 3?")])
    sent = str(relay.json())
    call = next(b for b in history[1].blocks if isinstance(b, ToolCallBlock))
    if then != "gemini":  # Gemini matches results to calls by name, not id
        assert call.tool_call_id and call.tool_call_id in sent
    assert call.tool_name in sent
    assert "Sunny" in sent and "3 + 3" in sent


@pytest.mark.parametrize("then", ["openai", "gemini", "responses"])
def test_an_anthropic_server_tool_block_fails_clearly_in_another_format(then: str) -> None:
    relay = MockRelay()
    history = _turn("anthropic", relay, user("Search the weather in LA."))
    with pytest.raises(UnsupportedFeatureError, match=then):
        relay.llm(then).chat([*history, *user("Thanks.")])
    assert len(relay.requests) == 1  # only the first turn reached the relay


def test_dropping_the_server_block_makes_an_anthropic_history_portable() -> None:
    relay = MockRelay()
    history = _turn("anthropic", relay, user("Search the weather in LA."))
    history[1].additional_kwargs.pop("provider_parts")
    relay.llm("openai").chat([*history, *user("Thanks.")])
    sent = relay.json()["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2] == {
        "role": "tool",
        "tool_call_id": "toolu_01A09q90qw90lq917835lq9",
        "content": "Sunny",
    }


SIGNATURES = {  # a signature in each fixture, and where it must come back
    "anthropic": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
    "gemini": "CiQB0e2Kb8xYz",
}


@pytest.mark.parametrize("first", ["anthropic", "gemini"])
@pytest.mark.parametrize("then", FORMATS)
def test_reasoning_signatures_go_back_only_to_their_own_format(first: str, then: str) -> None:
    """A signature is only valid for the provider that made it: sent back there, and
    left out (with the unverifiable reasoning) anywhere else."""
    relay = MockRelay()
    history = _turn(first, relay, user("Weather?"))
    history[1].additional_kwargs.pop("provider_parts", None)
    history[1].blocks = [b for b in history[1].blocks if not isinstance(b, ImageBlock)]
    relay.llm(then).chat([*history, *user("Thanks.")])
    assert (SIGNATURES[first] in str(relay.json())) == (first == then)


# --- one conversation across formats, on the emulator ---

ON_EMULATOR = (("anthropic", "claude-sonnet-4-5"), ("gemini", "gemini-2.5-flash"))


@pytest.mark.parametrize(("first", "second"), [ON_EMULATOR, ON_EMULATOR[::-1]])
def test_a_conversation_continues_in_another_format_and_then_in_openai(
    emu: Emulator, first: tuple[str, str], second: tuple[str, str]
) -> None:
    """Thinking (signed) and a tool call in one native format; the history then goes to
    the other native format and to openai, each answering; signatures stay home."""

    def make(api_format: str, model: str) -> Juhe:
        return Juhe(
            model,
            api_key=emu.api_key,
            api_base=emu.base_url,
            api_format=api_format,
            reasoning_effort="low",
        )

    answer = make(*first).chat_with_tools(TOOLS, user_msg="What is the weather in Paris?")
    thinking = [b for b in answer.message.blocks if isinstance(b, ThinkingBlock)]
    signature = thinking[-1].additional_information["signature"]
    (call,) = make(*first).get_tool_calls_from_response(answer)
    history = [
        *user("What is the weather in Paris?"),
        answer.message,
        ChatMessage(
            role="tool",
            content=get_weather(**call.tool_kwargs),
            additional_kwargs={"tool_call_id": call.tool_id, "name": call.tool_name},
        ),
    ]
    sent_before = len(emu.requests)
    for api_format, model in (second, ("openai", "gpt-4o-mini")):
        reply = make(api_format, model).chat([*history, *user("Thanks! And tomorrow?")])
        assert "tomorrow" in (reply.message.content or "")
        history = [*history, *user("Thanks! And tomorrow?"), reply.message]
    later = [str(r.json) for r in emu.requests[sent_before:]]
    assert len(later) == 2 and all("Sunny in Paris" in body for body in later)
    assert all(signature not in body for body in later)


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("modality", "block_type"), [("image", ImageBlock), ("audio", AudioBlock)])
def test_gemini_media_output_on_the_emulator_whole_and_streamed(
    emu: Emulator, kind: str, modality: str, block_type: type
) -> None:
    llm = Juhe(GEMINI_IMAGE, api_key=emu.api_key, api_base=emu.base_url, api_format="gemini")
    both = Both(kind, llm)
    whole = both.chat(user("A red fox, please."), modalities=["text", modality])
    chunks = both.stream("chat", user("A red fox, please."), modalities=["text", modality])
    for message in (whole.message, chunks[-1].message):
        (block,) = [b for b in message.blocks if isinstance(b, (ImageBlock, AudioBlock))]
        assert isinstance(block, block_type)
        data = (
            block.resolve_image().read()
            if isinstance(block, ImageBlock)
            else block.resolve_audio().read()
        )
        assert data[:4] in (b"\x89PNG", b"RIFF")
    assert "".join(c.delta or "" for c in chunks).strip()
    assert chunks[-1].additional_kwargs["total_tokens"] > 0


def test_a_server_tool_reaches_the_anthropic_body_next_to_function_tools(
    make_llm: Callable[..., Juhe], emu: Emulator
) -> None:
    web_search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
    llm = make_llm(model="claude-sonnet-4-5", api_format="anthropic")
    prepared = llm._prepare_chat_with_tools(TOOLS, user_msg="news?")
    llm.chat(prepared["messages"], tools=[*prepared["tools"], web_search])
    tools = emu.requests[-1].json["tools"]
    assert tools[-1] == web_search
    assert [t.get("name") for t in tools[:-1]] == [t.metadata.name for t in TOOLS]
    with pytest.raises(UnsupportedFeatureError, match=r"web_search_20250305.*anthropic"):
        make_llm(model="gpt-4o-mini").chat(user("news?"), tools=[web_search])
