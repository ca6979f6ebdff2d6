"""Every ``ChatJuhe`` feature in every wire format: sent on the wire, or refused by name.

The matrix checks exact request bodies, so a mock relay (``httpx.MockTransport`` given as
``http_client``, no socket) answers each format from the codec fixtures and records what
was sent. Each row of ``MATRIX`` either checks the body or expects
``UnsupportedFeatureError`` naming the format (``logprobs`` in responses and ``modalities``
in anthropic/responses are refused by ``langchain_juhe._convert.check_carried``: their
codecs would drop them silently). The end-to-end conversation through all four formats
runs on the emulator.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.tools import tool
from pydantic import BaseModel

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.testing import Emulator
from langchain_juhe import ChatJuhe

FIXTURES = Path(__file__).parents[1] / "fixtures"
FORMATS = ("openai", "anthropic", "gemini", "responses")
MODELS = {
    "openai": "gpt-4o",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "responses": "o3-pro",
}
_RESPONSES_JSON = {
    "id": "resp_1",
    "object": "response",
    "model": "o3-pro",
    "status": "completed",
    "output": [
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello"}],
        }
    ],
    "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
}
ANSWERS = {  # (JSON answer, SSE answer) per format
    "openai": ("openai/chat_response.json", "openai/text_stream.sse"),
    "anthropic": ("anthropic/message.json", "anthropic/tool_stream.sse"),
    "gemini": ("gemini/response.json", "gemini/stream.sse"),
    "responses": (None, "responses/stream.sse"),
}


class MockRelay:
    """Answers each format's chat route from its fixtures; records what was sent.

    ``stream_body`` replaces the SSE fixture (bytes), ``json_body`` the JSON one.
    """

    def __init__(self, api_format: str) -> None:
        self.api_format = api_format
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.json_body: bytes | None = None
        self.stream_body: bytes | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # api_format="auto" reads the model list first
            return httpx.Response(200, json={"object": "list", "data": []})
        body = json.loads(request.content)
        self.bodies.append(body)
        self.paths.append(request.url.path)
        json_name, sse_name = ANSWERS[self.api_format]
        if body.get("stream") or "streamGenerateContent" in request.url.path:
            content = self.stream_body or (FIXTURES / sse_name).read_bytes()
            return httpx.Response(
                200, content=content, headers={"content-type": "text/event-stream"}
            )
        if self.json_body is not None:
            return httpx.Response(200, content=self.json_body)
        if json_name is None:
            return httpx.Response(200, json=_RESPONSES_JSON)
        return httpx.Response(200, content=(FIXTURES / json_name).read_bytes())

    def model(self, **kwargs: Any) -> ChatJuhe:
        """A ``ChatJuhe`` in this relay's format that talks to it."""
        client = httpx.Client(transport=httpx.MockTransport(self))
        kwargs.setdefault("model", MODELS[self.api_format])
        kwargs.setdefault("api_format", self.api_format)
        return ChatJuhe(
            base_url="https://relay.test", api_key="sk-test", http_client=client, **kwargs
        )


class Joke(BaseModel):
    """A joke."""

    setup: str
    punchline: str


def _get(body: Any, *path: str | int) -> Any:
    for key in path:
        body = body[key]
    return body


PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8).decode()
MEDIA = {
    "image": {"type": "image", "base64": PNG, "mime_type": "image/png"},
    "pdf": {
        "type": "file",
        "base64": base64.b64encode(b"%PDF-1.4").decode(),
        "mime_type": "application/pdf",
    },
    "audio": {
        "type": "audio",
        "base64": base64.b64encode(b"RIFF0000WAVE").decode(),
        "mime_type": "audio/wav",
    },
    "video": {
        "type": "video",
        "base64": base64.b64encode(b"\x00" * 8).decode(),
        "mime_type": "video/mp4",
    },
}


def _user(kind: str) -> list[BaseMessage]:
    return [HumanMessage(content_blocks=[{"type": "text", "text": "What is this?"}, MEDIA[kind]])]


Run = Callable[[ChatJuhe], Any]
Check = Callable[[dict[str, Any]], bool]
UNSUPPORTED = "unsupported"


def weather(city: str) -> str:
    """Get the weather in a city."""
    return city


RUNS: dict[str, Run] = {
    "tools": lambda llm: llm.bind_tools([weather], tool_choice="weather").invoke("Paris?"),
    "parallel_tool_calls": lambda llm: llm.bind_tools([weather], parallel_tool_calls=False).invoke(
        "Paris?"
    ),
    "structured_output": lambda llm: llm.with_structured_output(Joke, include_raw=True).invoke("j"),
    "json_mode": lambda llm: llm.with_structured_output(
        method="json_mode", include_raw=True
    ).invoke("Answer in JSON"),
    "image": lambda llm: llm.invoke(_user("image")),
    "pdf": lambda llm: llm.invoke(_user("pdf")),
    "audio": lambda llm: llm.invoke(_user("audio")),
    "video": lambda llm: llm.invoke(_user("video")),
    "stop": lambda llm: llm.invoke("hi", stop=["END"]),
    "seed": lambda llm: llm.invoke("hi", seed=7),
    "logprobs": lambda llm: llm.invoke("hi", logprobs=True),
    "reasoning": lambda llm: llm.invoke("hi", reasoning_effort="low"),
    "modalities": lambda llm: llm.invoke("hi", modalities=["text", "image"]),
}

MATRIX: dict[str, dict[str, Check | str]] = {
    "tools": {
        "openai": lambda b: b["tool_choice"]["function"]["name"] == "weather",
        "anthropic": lambda b: b["tool_choice"] == {"type": "tool", "name": "weather"},
        "gemini": lambda b: (
            _get(b, "toolConfig", "functionCallingConfig", "allowedFunctionNames") == ["weather"]
        ),
        "responses": lambda b: b["tool_choice"] == {"type": "function", "name": "weather"},
    },
    "parallel_tool_calls": {
        "openai": lambda b: b["parallel_tool_calls"] is False,
        "anthropic": lambda b: b["tool_choice"]["disable_parallel_tool_use"] is True,
        # Gemini has no switch; "may call in parallel: no" is a permission it cannot enforce.
        "gemini": lambda b: "functionDeclarations" in b["tools"][0],
        "responses": lambda b: b["parallel_tool_calls"] is False,
    },
    "structured_output": {  # no method named: the best the format and model support
        "openai": lambda b: b["response_format"]["type"] == "json_schema",
        "anthropic": lambda b: b["tool_choice"] == {"type": "tool", "name": "Joke"},
        "gemini": lambda b: "responseSchema" in b["generationConfig"],
        "responses": lambda b: b["text"]["format"]["type"] == "json_schema",
    },
    "json_mode": {
        "openai": lambda b: b["response_format"] == {"type": "json_object"},
        "anthropic": UNSUPPORTED,
        "gemini": lambda b: b["generationConfig"]["responseMimeType"] == "application/json",
        "responses": lambda b: b["text"]["format"] == {"type": "json_object"},
    },
    "image": {
        "openai": lambda b: b["messages"][0]["content"][1]["type"] == "image_url",
        "anthropic": lambda b: b["messages"][0]["content"][1]["type"] == "image",
        "gemini": lambda b: "inlineData" in b["contents"][0]["parts"][1],
        "responses": lambda b: b["input"][0]["content"][1]["type"] == "input_image",
    },
    "pdf": {
        "openai": lambda b: b["messages"][0]["content"][1]["type"] == "file",
        "anthropic": lambda b: b["messages"][0]["content"][1]["type"] == "document",
        "gemini": lambda b: (
            b["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "application/pdf"
        ),
        "responses": lambda b: b["input"][0]["content"][1]["type"] == "input_file",
    },
    "audio": {
        "openai": lambda b: b["messages"][0]["content"][1]["type"] == "input_audio",
        "anthropic": UNSUPPORTED,
        "gemini": lambda b: b["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "audio/wav",
        "responses": UNSUPPORTED,
    },
    "video": {
        "openai": lambda b: b["messages"][0]["content"][1]["type"] == "video_url",
        "anthropic": UNSUPPORTED,
        "gemini": lambda b: b["contents"][0]["parts"][1]["inlineData"]["mimeType"] == "video/mp4",
        "responses": UNSUPPORTED,
    },
    "stop": {
        "openai": lambda b: b["stop"] == ["END"],
        "anthropic": lambda b: b["stop_sequences"] == ["END"],
        "gemini": lambda b: b["generationConfig"]["stopSequences"] == ["END"],
        "responses": UNSUPPORTED,
    },
    "seed": {
        "openai": lambda b: b["seed"] == 7,
        "anthropic": UNSUPPORTED,
        "gemini": lambda b: b["generationConfig"]["seed"] == 7,
        "responses": UNSUPPORTED,
    },
    "logprobs": {
        "openai": lambda b: b["logprobs"] is True,
        "anthropic": UNSUPPORTED,
        "gemini": lambda b: b["generationConfig"]["responseLogprobs"] is True,
        "responses": UNSUPPORTED,
    },
    "reasoning": {
        "openai": lambda b: b["reasoning_effort"] == "low",
        "anthropic": lambda b: b["thinking"]["type"] == "enabled",
        "gemini": lambda b: b["generationConfig"]["thinkingConfig"]["thinkingBudget"] > 0,
        "responses": lambda b: b["reasoning"]["effort"] == "low",
    },
    "modalities": {
        "openai": lambda b: b["modalities"] == ["text", "image"],
        "anthropic": UNSUPPORTED,
        "gemini": lambda b: b["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"],
        "responses": UNSUPPORTED,
    },
}
CASES = [
    pytest.param(feature, fmt, expected, id=f"{feature}-{fmt}")
    for feature, row in MATRIX.items()
    for fmt, expected in row.items()
]


@pytest.mark.parametrize(("feature", "fmt", "expected"), CASES)
def test_feature_is_sent_or_refused_by_name(feature: str, fmt: str, expected: Check | str) -> None:
    relay = MockRelay(fmt)
    llm = relay.model(model=MODELS[fmt])
    if expected == UNSUPPORTED:
        with pytest.raises(UnsupportedFeatureError, match=fmt):
            RUNS[feature](llm)
        assert relay.bodies == []  # refused before anything was sent
        return
    RUNS[feature](llm)
    assert callable(expected)
    assert expected(relay.bodies[-1]), json.dumps(relay.bodies[-1])[:1000]


@pytest.mark.parametrize("fmt", FORMATS)
def test_stream_with_usage_in_every_format(fmt: str) -> None:
    relay = MockRelay(fmt)
    chunks = list(relay.model().stream("hi"))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    assert full.text or full.tool_calls
    assert full.usage_metadata is not None and full.usage_metadata["total_tokens"] > 0
    assert sum(c.usage_metadata is not None for c in chunks) == 1
    assert full.response_metadata["model_provider"] == "juhe"
    streamed = "streamGenerateContent" in relay.paths[-1] or relay.bodies[-1].get("stream")
    assert streamed


@pytest.mark.parametrize("fmt", FORMATS)
def test_invoke_with_usage_in_every_format(fmt: str) -> None:
    relay = MockRelay(fmt)
    message = relay.model().invoke("hi")
    assert message.usage_metadata is not None and message.usage_metadata["total_tokens"] > 0
    assert message.response_metadata["finish_reason"] in ("stop", "tool_calls")


def test_a_method_the_format_cannot_carry_is_refused_before_any_request() -> None:
    relay = MockRelay("anthropic")
    llm = relay.model()
    for method in ("json_schema", "json_mode"):
        with pytest.raises(UnsupportedFeatureError, match=rf"anthropic format .*{method}"):
            llm.with_structured_output(Joke, method=method)  # type: ignore[arg-type]
    assert relay.bodies == []
    assert llm.profile is not None and llm.profile.get("structured_output") is False


SENT_AS: dict[str, Callable[[dict[str, Any]], str]] = {
    "openai": lambda b: "function_calling" if "tools" in b else b["response_format"]["type"],
    "anthropic": lambda b: "function_calling" if "tools" in b else "none",
    "gemini": lambda b: (
        "function_calling"
        if "tools" in b
        else ("json_schema" if "responseSchema" in b["generationConfig"] else "json_object")
    ),
}


@pytest.mark.parametrize(
    ("model", "fmt", "sent"),
    [
        ("gpt-4o", "openai", "json_schema"),  # native structured output
        ("claude-sonnet-4-5", "openai", "function_calling"),  # the family has none
        ("claude-sonnet-4-5", "anthropic", "function_calling"),
        ("claude-sonnet-4-5", "auto", "function_calling"),
        ("gemini-2.5-flash", "auto", "json_schema"),
        ("gpt-3.5-turbo", "openai", "function_calling"),
        ("o1-mini", "openai", "json_object"),  # neither: JSON mode
    ],
)
def test_structured_output_default_method(model: str, fmt: str, sent: str) -> None:
    wire = fmt if fmt != "auto" else ("anthropic" if "claude" in model else "gemini")
    relay = MockRelay(wire)
    llm = relay.model(model=model, api_format=fmt)
    llm.with_structured_output(Joke, include_raw=True).invoke("joke")
    assert SENT_AS[wire](relay.bodies[-1]) == sent, json.dumps(relay.bodies[-1])[:600]


# --- Gemini image and audio output as standard content blocks ---

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "
GEMINI_MEDIA_SSE = (
    "data: "
    + json.dumps(
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Here "}]}}],
            "modelVersion": "gemini-2.5-flash-image",
        }
    )
    + "\n\ndata: "
    + json.dumps(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"inlineData": {"mimeType": "image/png", "data": PNG}},
                            {
                                "inlineData": {
                                    "mimeType": "audio/wav",
                                    "data": base64.b64encode(WAV).decode(),
                                }
                            },
                            {"text": "it is."},
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 3,
                "candidatesTokenCount": 5,
                "totalTokenCount": 8,
            },
        }
    )
    + "\n\n"
).encode()


def test_gemini_image_output_is_a_standard_block() -> None:
    relay = MockRelay("gemini")
    message = relay.model(model="gemini-2.5-flash-image", modalities=["text", "image"]).invoke(
        "cat"
    )
    image = [b for b in message.content_blocks if b["type"] == "image"]
    assert image == [{"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"}]
    assert relay.bodies[-1]["generationConfig"]["responseModalities"] == ["TEXT", "IMAGE"]


def test_gemini_streamed_image_and_audio_arrive_as_standard_blocks() -> None:
    relay = MockRelay("gemini")
    relay.stream_body = GEMINI_MEDIA_SSE
    chunks = list(relay.model(model="gemini-2.5-flash-image").stream("draw and say"))
    media = [c for c in chunks if isinstance(c.content, list) and c.content]
    assert len(media) == 2  # one chunk per whole image / audio part (PartDelta)
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    kinds = [b["type"] for b in full.content_blocks]
    assert kinds == ["text", "image", "audio", "text"]
    audio = full.content_blocks[2]
    assert audio["type"] == "audio"
    assert base64.b64decode(audio["base64"]) == WAV
    assert audio["mime_type"] == "audio/wav"
    assert full.text == "Here it is."


def test_gemini_image_output_goes_back_in_history_in_gemini_only() -> None:
    relay = MockRelay("gemini")
    llm = relay.model(model="gemini-2.5-flash-image")
    answer = llm.invoke("draw a cat")
    llm.invoke([HumanMessage("draw a cat"), answer, HumanMessage("make it blue")])
    parts = relay.bodies[-1]["contents"][1]["parts"]
    assert {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}} in parts
    openai = MockRelay("openai").model()
    with pytest.raises(UnsupportedFeatureError, match="image part in the openai format"):
        openai.invoke([HumanMessage("draw a cat"), answer, HumanMessage("make it blue")])


# --- a conversation that switches format mid-way ---


def _answer(fmt: str) -> AIMessage:
    relay = MockRelay(fmt)
    llm = relay.model()
    if fmt != "responses":
        return llm.invoke("Weather?")
    chunks = list(llm.stream("Weather?"))
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return AIMessage(**full.model_dump(exclude={"type", "tool_call_chunks", "chunk_position"}))


def _history(answer: AIMessage) -> list[BaseMessage]:
    results = [ToolMessage("22 C", tool_call_id=c["id"], name=c["name"]) for c in answer.tool_calls]
    return [HumanMessage("Weather?"), answer, *results]


# (from, to): what happens. Plain text, tool calls and results always carry over; reasoning
# without a signature the target can check is left out (each codec documents why); blocks
# only the source format understands are refused by name.
SWITCHES = {
    ("openai", "anthropic"): "ok",
    ("openai", "gemini"): "ok",
    ("openai", "responses"): "ok",
    ("responses", "openai"): "ok",
    ("responses", "anthropic"): "ok",
    ("responses", "gemini"): "ok",
    ("anthropic", "openai"): "from the anthropic format cannot be sent in the openai format",
    ("anthropic", "gemini"): "from the anthropic format cannot be sent in the gemini format",
    ("anthropic", "responses"): "from the anthropic format cannot be sent in the responses",
    ("gemini", "openai"): "image part in the openai format",
    ("gemini", "responses"): "image part in the responses format",
}


@pytest.mark.parametrize(("source", "target"), list(SWITCHES), ids="{0[0]}-to-{0[1]}".format)
def test_history_from_one_format_sent_in_another(source: str, target: str) -> None:
    answer = _answer(source)
    relay = MockRelay(target)
    llm = relay.model()
    outcome = SWITCHES[(source, target)]
    if outcome != "ok":
        with pytest.raises(UnsupportedFeatureError, match=outcome):
            llm.invoke(_history(answer))
        return
    llm.invoke(_history(answer))
    sent = json.dumps(relay.bodies[-1])
    call = answer.tool_calls[0]
    assert call["id"] in sent or target == "gemini"  # gemini matches results by name
    assert call["name"] in sent
    assert "22 C" in sent
    assert answer.text in sent


def test_switching_works_once_the_source_only_blocks_are_removed() -> None:
    """The documented way out: keep text, tool calls and results; drop format-only data."""
    answer = _answer("anthropic")
    plain = AIMessage(content=answer.text, tool_calls=answer.tool_calls)
    relay = MockRelay("gemini")
    relay.model().invoke(_history(plain))
    parts = relay.bodies[-1]["contents"][1]["parts"]
    assert parts[0] == {"text": "Let me check the weather."}
    assert parts[1]["functionCall"]["name"] == "get_weather"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"22 C in {city}"


@pytest.mark.parametrize(
    ("api_format", "server"),
    [
        ("anthropic", {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}),
        ("gemini", {"google_search": {}}),
        ("responses", {"type": "web_search_preview"}),
    ],
)
def test_a_server_tool_is_sent_next_to_the_function_tools(
    api_format: str, server: dict[str, Any]
) -> None:
    relay = MockRelay(api_format)
    llm = relay.model().bind_tools([get_weather, server])
    llm.invoke("news and weather?")
    tools = relay.bodies[-1]["tools"]
    assert tools[-1] == server  # as given, after the function tools
    assert "get_weather" in json.dumps(tools[0])
    assert len(tools) == 2


@pytest.mark.parametrize("api_format", ["openai", "gemini", "responses"])
def test_a_server_tool_is_refused_in_a_format_that_cannot_run_it(api_format: str) -> None:
    relay = MockRelay(api_format)
    web_search = {"type": "web_search_20250305", "name": "web_search"}
    llm = relay.model().bind_tools([web_search])
    with pytest.raises(UnsupportedFeatureError, match=r"web_search_20250305.*anthropic"):
        llm.invoke("news?")
    assert relay.bodies == []  # refused before anything was sent


def test_anthropic_may_be_forced_to_use_its_server_tool_by_name() -> None:
    relay = MockRelay("anthropic")
    web_search = {"type": "web_search_20250305", "name": "web_search"}
    relay.model().bind_tools([web_search], tool_choice="web_search").invoke("news?")
    assert relay.bodies[-1]["tool_choice"] == {"type": "tool", "name": "web_search"}


def test_cache_control_on_a_text_block_reaches_the_anthropic_body() -> None:
    relay = MockRelay("anthropic")
    cached = {"type": "text", "text": "a long document", "cache_control": {"type": "ephemeral"}}
    relay.model().invoke([HumanMessage(content=[cached, {"type": "text", "text": "Summarise"}])])
    blocks = relay.bodies[-1]["messages"][0]["content"]
    assert blocks[0] == cached
    assert blocks[1] == {"type": "text", "text": "Summarise"}


def test_cache_control_on_images_documents_tool_results_and_tools() -> None:
    relay = MockRelay("anthropic")
    cache = {"type": "ephemeral"}
    image = {"type": "image", "base64": PNG, "mime_type": "image/png", "cache_control": cache}
    document = {
        "type": "document",
        "source": {"type": "url", "url": "https://x/a.pdf"},
        "cache_control": cache,
    }
    result = {"type": "tool_result", "tool_use_id": "t0", "content": "ok", "cache_control": cache}
    dict_tool = {
        "name": "lookup",
        "description": "Look it up",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        "cache_control": cache,
    }

    @tool(extras={"cache_control": {"type": "ephemeral", "ttl": "1h"}})
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    history = [
        HumanMessage([image, document]),
        AIMessage("", tool_calls=[{"name": "lookup", "args": {"q": "x"}, "id": "t0"}]),
        HumanMessage([result]),
    ]
    relay.model().bind_tools([dict_tool, add]).invoke(history)
    body = relay.bodies[-1]
    first, _, last = body["messages"]
    assert [b.get("cache_control") for b in first["content"]] == [cache, cache]
    assert last["content"][0] == {**result, "content": "ok"}
    assert [t.get("cache_control") for t in body["tools"]] == [cache, {**cache, "ttl": "1h"}]


def test_an_empty_ai_message_in_history_is_not_sent_as_an_empty_turn() -> None:
    relay = MockRelay("anthropic")
    relay.model().invoke([HumanMessage("Hi"), AIMessage(""), HumanMessage("Still there?")])
    assert relay.bodies[-1]["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "Still there?"}],
        }
    ]


def test_a_fallback_in_another_format_is_checked_too() -> None:
    relay = MockRelay("openai")
    llm = relay.model(model="gpt-4o", api_format="auto", modalities=["text", "audio"])
    llm.invoke("hi")  # gpt-4o: the openai format carries modalities
    with pytest.raises(UnsupportedFeatureError, match="anthropic format cannot carry modalities"):
        llm.invoke("hi", fallback_models=["claude-sonnet-4-5"])
    assert len(relay.bodies) == 1


def test_one_conversation_through_all_four_formats_on_the_emulator(emu: Emulator) -> None:
    def model(name: str, fmt: str, **kwargs: Any) -> Any:
        llm = ChatJuhe(model=name, api_format=fmt, base_url=emu.base_url, api_key=emu.api_key)
        return llm.bind_tools([weather], **kwargs)

    history: list[BaseMessage] = [HumanMessage("What is the weather in Paris?")]
    first = model("claude-sonnet-4-5", "anthropic").invoke(history, thinking_budget=2048)
    call = first.tool_calls[0]
    assert call["name"] == "weather" and call["args"] == {"city": "Paris"}
    assert first.additional_kwargs["reasoning_blocks"][0]["signature"]  # Anthropic-signed
    history += [first, ToolMessage("Sunny, 22 C", tool_call_id=call["id"], name="weather")]
    second = model("gemini-2.5-flash", "gemini").invoke(history)
    assert "Sunny, 22 C" in second.text
    history += [second, HumanMessage("And what about Oslo?")]
    third = model("o3", "responses").invoke(history)
    history += [third, HumanMessage("Thanks!")]
    fourth = model("gpt-4o", "openai").invoke(history)
    assert fourth.text
    paths = [r.path for r in emu.requests]
    assert paths == [
        "/v1/messages",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1/responses",
        "/v1/chat/completions",
    ]
    gemini = emu.requests[1].json["contents"]
    assert gemini[1]["parts"] == [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}}]
    assert "thoughtSignature" not in json.dumps(gemini)  # Anthropic's signature is not Gemini's
    responses = emu.requests[2].json["input"]
    assert {"type": "function_call_output", "call_id": call["id"], "output": "Sunny, 22 C"} in (
        responses
    )
    openai = emu.requests[3].json["messages"]
    assert [m["role"] for m in openai] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "user",
    ]


def test_web_search_citations_are_on_the_content_blocks_like_chat_anthropic() -> None:
    citation = {"type": "web_search_result_location", "url": "https://example.com", "title": "t"}
    relay = MockRelay("anthropic")
    relay.json_body = json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}},
                {"type": "text", "text": "Sunny.", "citations": [citation]},
                {"type": "text", "text": " Enjoy."},
            ],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 2},
        }
    ).encode()
    llm = relay.model().bind_tools([{"type": "web_search_20250305", "name": "web_search"}])
    answer = llm.invoke("weather?")
    assert answer.text == "Sunny. Enjoy."
    assert answer.content[0] == {"type": "text", "text": "Sunny.", "citations": [citation]}
    assert "text_provider_data" not in answer.additional_kwargs
    llm.invoke([HumanMessage("weather?"), answer, HumanMessage("and tomorrow?")])
    sent = relay.bodies[-1]["messages"][1]["content"]
    assert [b["type"] for b in sent] == ["server_tool_use", "text", "text"]


def test_auto_decisions_follow_the_model_list_once_it_is_read() -> None:
    """A house model the name cannot place: the first call reads the model list, and from
    then on the structured-output method matches the format calls really use."""
    from juhe_core.testing import Emulator

    house = {"id": "house-claude", "owned_by": "custom", "supported_endpoint_types": ["anthropic"]}
    with Emulator(models=[house]) as emu:
        llm = ChatJuhe(
            model="house-claude", api_format="auto", api_key=emu.api_key, base_url=emu.base_url
        )
        assert llm._wire_format() == "openai"  # by name, before anything was read
        llm.invoke("hi")
        assert [r.path for r in emu.requests] == ["/v1/models", "/v1/messages"]
        assert llm._wire_format() == "anthropic"
        llm.with_structured_output(Joke).invoke("a joke")
        body = emu.requests[-1].json
    assert emu.requests[-1].path == "/v1/messages"
    assert body["tool_choice"]["type"] == "tool"  # function calling: what anthropic carries
