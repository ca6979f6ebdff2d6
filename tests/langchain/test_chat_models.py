"""``ChatJuhe`` against the emulator over real sockets, each behaviour sync and async."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import OutputParserException
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from juhe_core.errors import BadRequestError, UnsupportedFeatureError
from juhe_core.testing import Emulator, Fault, Reply
from langchain_juhe import ChatJuhe

from .conftest import Both

CHAT = "/v1/chat/completions"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


class Joke(BaseModel):
    """A joke to tell the user."""

    setup: str = Field(description="question that sets up the joke")
    punchline: str = Field(description="answer that resolves the joke")


class JokeDict(TypedDict):
    """A joke to tell the user."""

    setup: str
    punchline: str


def invoke(both: Both, llm: Any, owner: ChatJuhe, *args: Any, **kwargs: Any) -> Any:
    return both.run(
        owner, lambda: llm.invoke(*args, **kwargs), lambda: llm.ainvoke(*args, **kwargs)
    )


def stream(both: Both, llm: Any, owner: ChatJuhe, *args: Any, **kwargs: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [c async for c in llm.astream(*args, **kwargs)]

    return both.run(owner, lambda: list(llm.stream(*args, **kwargs)), collect)


def merge(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return full


# --- invoke, stream, batch ---


def test_invoke_answers_with_usage_and_metadata(both: Both, llm: ChatJuhe, emu: Emulator) -> None:
    llm.temperature = 0
    message = invoke(both, llm, llm, "What is the capital of France?")
    assert isinstance(message, AIMessage)
    assert "capital of France" in message.text
    assert message.usage_metadata is not None
    assert message.usage_metadata["total_tokens"] == (
        message.usage_metadata["input_tokens"] + message.usage_metadata["output_tokens"]
    )
    metadata = message.response_metadata
    assert metadata["model_name"] == "gpt-4o-mini"
    assert metadata["finish_reason"] == "stop"
    assert metadata["id"].startswith("chatcmpl-")
    assert metadata["request_id"] == emu.requests[-1].request_id
    body = emu.requests[-1].json
    assert body["temperature"] == 0  # sent as given, never rewritten to 1e-8
    assert body["messages"] == [{"role": "user", "content": "What is the capital of France?"}]


def test_default_headers_reach_the_wire(both: Both, emu: Emulator) -> None:
    llm = ChatJuhe(
        model="gpt-4o-mini",
        base_url=emu.base_url,
        api_key=emu.api_key,
        default_headers={"X-Trace": "t-1"},
    )
    try:
        invoke(both, llm, llm, "hi")
    finally:
        llm.close()
    (request,) = emu.requests
    assert request.headers["x-trace"] == "t-1"
    assert request.headers["authorization"] == f"Bearer {emu.api_key}"


def test_system_fingerprint_is_the_one_the_upstream_sent(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    raw = httpx.post(
        emu.base_url + "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {emu.api_key}"},
    ).json()
    assert raw["system_fingerprint"]  # the emulator sends one on every non-stream body
    message = invoke(both, llm, llm, "hi")
    assert message.response_metadata["system_fingerprint"] == raw["system_fingerprint"]
    scripted = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini",
        "system_fingerprint": "fp_scripted42",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "scripted"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    emu.enqueue(Reply(body=scripted), path=CHAT)
    message = invoke(both, llm, llm, "hi")
    assert message.text == "scripted"
    assert message.response_metadata["system_fingerprint"] == "fp_scripted42"


def test_stream_puts_usage_and_model_name_on_exactly_one_chunk(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    chunks = stream(both, llm, llm, "Write me two haikus about rivers.")
    assert len(chunks) > 2
    assert sum(bool(c.usage_metadata) for c in chunks) == 1
    assert sum("model_name" in c.response_metadata for c in chunks) == 1
    assert chunks[-1].chunk_position == "last"
    full = merge(chunks)
    assert "haikus about rivers" in full.text
    assert full.response_metadata["model_name"] == "gpt-4o-mini"
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.usage_metadata is not None and full.usage_metadata["output_tokens"] > 0
    body = emu.requests[-1].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_stream_usage_can_be_turned_off(both: Both, llm: ChatJuhe) -> None:
    llm.stream_usage = False
    chunks = stream(both, llm, llm, "Hello")
    assert not any(c.usage_metadata for c in chunks)
    assert merge(chunks).response_metadata["model_name"] == "gpt-4o-mini"


def test_batch_keeps_order(both: Both, llm: ChatJuhe, emu: Emulator) -> None:
    questions = ["first question", "second question", "third question"]
    answers = both.run(llm, lambda: llm.batch(questions), lambda: llm.abatch(questions))
    assert [q in a.text for q, a in zip(questions, answers, strict=True)] == [True] * 3
    assert len(emu.requests) == 3


def test_streaming_flag_streams_under_invoke(both: Both, emu: Emulator) -> None:
    llm = ChatJuhe(base_url=emu.base_url, api_key=emu.api_key, streaming=True)
    tokens: list[str] = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

    message = invoke(both, llm, llm, "Hello there", config={"callbacks": [Tokens()]})
    assert emu.requests[-1].json["stream"] is True
    assert "".join(tokens) == message.text
    assert message.usage_metadata is not None


def test_per_call_model_override_is_sent_and_traced(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    seen: list[dict[str, Any]] = []

    class Metadata(BaseCallbackHandler):
        def on_chat_model_start(self, *args: Any, metadata: Any = None, **kwargs: Any) -> None:
            seen.append(metadata)

    message = invoke(both, llm, llm, "Hello", model="gpt-4o", config={"callbacks": [Metadata()]})
    assert emu.requests[-1].json["model"] == "gpt-4o"
    assert message.response_metadata["model_name"] == "gpt-4o"
    assert seen[0]["ls_model_name"] == "gpt-4o"
    assert seen[0]["ls_provider"] == "juhe"


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_per_call_api_format_picks_the_route_and_is_never_sent(
    both: Both, llm: ChatJuhe, emu: Emulator, mode: str
) -> None:
    seen: list[dict[str, Any]] = []

    class Params(BaseCallbackHandler):
        def on_chat_model_start(self, *args: Any, invocation_params: Any = None, **_: Any) -> None:
            seen.append(invocation_params)

    call = invoke if mode == "invoke" else stream
    config = {"callbacks": [Params()]}
    call(both, llm, llm, "Hello", api_format="anthropic", config=config)
    call(both, llm.bind(api_format="anthropic"), llm, "Hello", config=config)
    call(both, llm, llm, "Hello", config=config)  # the model's own format again
    assert [r.path for r in emu.requests] == ["/v1/messages", "/v1/messages", CHAT]
    assert not any("api_format" in r.json for r in emu.requests)
    assert [p["api_format"] for p in seen] == ["anthropic", "anthropic", "openai"]
    assert {p["_type"] for p in seen} == {"juhe-chat"}


def test_per_call_api_format_is_checked_and_decides_what_is_carried(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    with pytest.raises(UnsupportedFeatureError, match="unknown api_format 'bogus'"):
        invoke(both, llm, llm, "Hello", api_format="bogus")
    with pytest.raises(UnsupportedFeatureError, match="unknown api_format 'bogus'"):
        stream(both, llm.bind(api_format="bogus"), llm, "Hello")
    with pytest.raises(UnsupportedFeatureError, match="anthropic format cannot carry modalities"):
        invoke(both, llm, llm, "Hello", api_format="anthropic", modalities=["text", "image"])
    # a structured runnable made for the openai format: its JSON schema cannot go as anthropic
    with pytest.raises(UnsupportedFeatureError, match="anthropic"):
        invoke(both, llm.with_structured_output(Joke), llm, "joke", api_format="anthropic")
    assert emu.requests == []
    # ... but one made for the anthropic format picks a forced tool call
    joke = invoke(both, llm.with_structured_output(Joke, api_format="anthropic"), llm, "joke")
    assert isinstance(joke, Joke)
    request = emu.requests[-1]
    assert request.path == "/v1/messages" and "api_format" not in request.json
    assert request.json["tool_choice"] == {"type": "tool", "name": "Joke"}


# --- tools ---


def test_tool_calls_and_streamed_chunks_merge_exactly(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    args = {"city": "São Paulo", "days": 3, "units": {"temp": "C", "wind": "km/h"}}
    scripted = Reply(tool_calls=[{"name": "get_weather", "arguments": args, "id": "call_1"}])
    emu.enqueue(scripted, scripted, path=CHAT)
    bound = llm.bind_tools([get_weather])
    invoked = invoke(both, bound, llm, "Weather in São Paulo?")
    chunks = stream(both, bound, llm, "Weather in São Paulo?")
    full = merge(chunks)
    assert (
        invoked.tool_calls
        == full.tool_calls
        == [{"name": "get_weather", "args": args, "id": "call_1", "type": "tool_call"}]
    )
    assert sum(len(c.tool_call_chunks) for c in chunks) > 1  # really streamed in pieces
    assert full.response_metadata["finish_reason"] == "tool_calls"


def test_parallel_tool_calls_stay_apart(both: Both, llm: ChatJuhe, emu: Emulator) -> None:
    calls = [
        {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a"},
        {"name": "get_weather", "arguments": {"city": "Rome"}, "id": "b"},
    ]
    emu.enqueue(Reply(tool_calls=calls), path=CHAT)
    full = merge(stream(both, llm.bind_tools([get_weather]), llm, "Paris and Rome?"))
    assert [(c["id"], c["args"]) for c in full.tool_calls] == [
        ("a", {"city": "Paris"}),
        ("b", {"city": "Rome"}),
    ]


def test_unparseable_arguments_become_invalid_tool_calls(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    bad = Reply(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Par', "id": "x"}])
    emu.enqueue(bad, bad, path=CHAT)
    bound = llm.bind_tools([get_weather])
    message = invoke(both, bound, llm, "Paris?")
    assert message.tool_calls == []
    assert [(c["id"], c["name"], c["args"]) for c in message.invalid_tool_calls] == [
        ("x", "get_weather", '{"city": "Par')
    ]
    # Streamed, langchain-core itself parses the merged chunks with partial-JSON parsing
    # (AIMessageChunk.init_tool_calls), so only the raw text can be held exact.
    full = merge(stream(both, bound, llm, "Paris?"))
    assert [c["args"] for c in full.tool_call_chunks] == ['{"city": "Par']


def test_tool_choice_parallel_and_strict_on_the_wire(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    for choice, wire in [
        ("any", "required"),
        ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
        ("auto", "auto"),
    ]:
        bound = llm.bind_tools(
            [get_weather], tool_choice=choice, strict=True, parallel_tool_calls=False
        )
        invoke(both, bound, llm, "Weather in Oslo?")
        body = emu.requests[-1].json
        assert body["tool_choice"] == wire
        assert body["parallel_tool_calls"] is False
        assert body["tools"][0]["function"]["strict"] is True
        assert body["tools"][0]["function"]["name"] == "get_weather"


def test_tool_message_round_trip(both: Both, llm: ChatJuhe, emu: Emulator) -> None:
    bound = llm.bind_tools([get_weather], tool_choice="any")
    question = HumanMessage("What is the weather in Lisbon?")
    call = invoke(both, bound, llm, [question])
    result = get_weather.invoke(call.tool_calls[0])
    assert isinstance(result, ToolMessage)
    answer = invoke(both, bound, llm, [question, call, result])
    assert "sunny in Lisbon" in answer.text
    sent = emu.requests[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.tool_calls[0]["id"]
    assert sent[2] == {
        "role": "tool",
        "tool_call_id": call.tool_calls[0]["id"],
        "content": "It is sunny in Lisbon.",
    }


# --- structured output ---


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
@pytest.mark.parametrize(
    "schema", [Joke, JokeDict, Joke.model_json_schema()], ids=["pydantic", "typeddict", "json"]
)
def test_structured_output_every_method(
    both: Both, llm: ChatJuhe, emu: Emulator, method: str, schema: Any
) -> None:
    seen: list[Any] = []

    class Options(BaseCallbackHandler):
        def on_chat_model_start(self, *args: Any, options: Any = None, **kwargs: Any) -> None:
            seen.append(options)

    structured = llm.with_structured_output(schema, method=method, include_raw=True)  # type: ignore[arg-type]
    prompt = "Tell me a joke about cats. Answer in JSON with 'setup' and 'punchline' keys."
    out = invoke(both, structured, llm, prompt, config={"callbacks": [Options()]})
    assert isinstance(out["raw"], AIMessage) and out["parsing_error"] is None
    parsed = out["parsed"]
    joke = parsed if isinstance(parsed, Joke) else Joke(**parsed)
    assert joke.setup and joke.punchline
    assert seen[0]["ls_structured_output_format"]["kwargs"]["method"] == method
    body = emu.requests[-1].json
    if method == "json_schema":
        assert body["response_format"]["type"] == "json_schema"
    elif method == "function_calling":
        assert body["tool_choice"]["function"]["name"] == body["tools"][0]["function"]["name"]
    else:
        assert body["response_format"] == {"type": "json_object"}


def test_strict_json_schema_on_the_wire(llm: ChatJuhe, emu: Emulator) -> None:
    joke = llm.with_structured_output(Joke, method="json_schema", strict=True).invoke("joke")
    assert isinstance(joke, Joke)
    spec = emu.requests[-1].json["response_format"]["json_schema"]
    assert (spec["name"], spec["strict"]) == ("Joke", True)
    assert spec["schema"]["additionalProperties"] is False
    assert spec["schema"]["required"] == ["setup", "punchline"]


def test_structured_output_parse_error_with_and_without_raw(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    emu.enqueue(Reply(text="not json at all"), Reply(text="still not json"), path=CHAT)
    out = invoke(both, llm.with_structured_output(Joke, include_raw=True), llm, "joke")
    assert out["parsed"] is None and out["parsing_error"] is not None
    assert out["raw"].text == "not json at all"
    with pytest.raises(OutputParserException, match="still not json"):
        invoke(both, llm.with_structured_output(Joke), llm, "joke")


def test_structured_output_streams_whole_objects(both: Both, llm: ChatJuhe) -> None:
    chunks = stream(
        both,
        llm.with_structured_output(Joke, method="json_mode"),
        llm,
        "A joke as JSON with 'setup' and 'punchline' keys",
    )
    assert chunks and all(isinstance(c, Joke) for c in chunks)


def test_default_method_follows_the_model_family(llm: ChatJuhe, emu: Emulator) -> None:
    """Complaint: json_schema forced on families without it. Claude defaults to a tool call."""
    llm.with_structured_output(Joke).invoke("joke")
    assert emu.requests[-1].json["response_format"]["type"] == "json_schema"
    claude = ChatJuhe(
        model="claude-3-5-sonnet-20241022", base_url=emu.base_url, api_key=emu.api_key
    )
    assert isinstance(claude.with_structured_output(Joke).invoke("joke"), Joke)
    body = emu.requests[-1].json
    assert "response_format" not in body and body["tool_choice"]["function"]["name"] == "Joke"
    with pytest.raises(ValueError, match="unknown structured output method"):
        llm.with_structured_output(Joke, method="xml")  # type: ignore[arg-type]


# --- reasoning ---


def test_reasoning_is_surfaced_and_sent_back(both: Both, emu: Emulator) -> None:
    """Complaint: reasoning text dropped, or not sent back in history."""
    llm = ChatJuhe(model="deepseek-reasoner", base_url=emu.base_url, api_key=emu.api_key)
    invoked = invoke(both, llm, llm, "Is 97 prime?")
    streamed = merge(stream(both, llm, llm, "Is 97 prime?"))
    for message in (invoked, streamed):
        reasoning = message.additional_kwargs["reasoning_content"]
        assert "97" in reasoning
        assert message.content_blocks[0] == {"type": "reasoning", "reasoning": reasoning}
        assert message.usage_metadata["output_token_details"]["reasoning"] > 0
        invoke(both, llm, llm, [HumanMessage("Is 97 prime?"), message, HumanMessage("Why?")])
        assert emu.requests[-1].json["messages"][1]["reasoning_content"] == reasoning
    v1 = ChatJuhe(
        model="deepseek-reasoner", base_url=emu.base_url, api_key=emu.api_key, output_version="v1"
    )
    message = invoke(both, v1, v1, "Is 97 prime?")
    assert [b["type"] for b in message.content] == ["reasoning", "text"]
    invoke(both, v1, v1, [HumanMessage("Is 97 prime?"), message, HumanMessage("Why?")])
    assert (
        emu.requests[-1].json["messages"][1]["reasoning_content"] == message.content[0]["reasoning"]
    )


def test_reasoning_effort_and_logprobs(both: Both, llm: ChatJuhe, emu: Emulator) -> None:
    llm.reasoning_effort, llm.logprobs, llm.top_logprobs = "low", True, 2
    message = invoke(both, llm, llm, "Hello")
    body = emu.requests[-1].json
    assert (body["reasoning_effort"], body["logprobs"], body["top_logprobs"]) == ("low", True, 2)
    tokens = message.response_metadata["logprobs"]["content"]
    assert "".join(t["token"] for t in tokens) == message.text
    chunks = stream(both, llm, llm, "Hello")
    assert sum("logprobs" in c.response_metadata for c in chunks) == 1
    assert merge(chunks).response_metadata["logprobs"]["content"] == tokens


def test_disable_streaming_and_rate_limiter(emu: Emulator) -> None:
    acquired: list[bool] = []

    class Limiter(InMemoryRateLimiter):
        def acquire(self, *, blocking: bool = True) -> bool:
            acquired.append(blocking)
            return super().acquire(blocking=blocking)

    llm = ChatJuhe(
        base_url=emu.base_url,
        api_key=emu.api_key,
        disable_streaming=True,
        rate_limiter=Limiter(requests_per_second=1000, check_every_n_seconds=0.001),
    )
    chunks = list(llm.stream("Hello"))
    assert len(chunks) == 1 and "Hello" in chunks[0].text
    assert "stream" not in emu.requests[-1].json
    assert acquired


# --- multimodal on the wire, and what cannot be sent ---


def test_image_reaches_the_wire_as_image_url(llm: ChatJuhe, emu: Emulator) -> None:
    image = {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"}
    llm.invoke([HumanMessage([{"type": "text", "text": "What is this?"}, image])])
    content = emu.requests[-1].json["messages"][0]["content"]
    assert content[1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="},
    }


def test_unsupported_content_fails_before_any_request(
    both: Both, llm: ChatJuhe, emu: Emulator
) -> None:
    image = {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"}
    history = [
        HumanMessage("draw"),
        AIMessage("", tool_calls=[{"name": "draw", "args": {}, "id": "1", "type": "tool_call"}]),
        ToolMessage([image], tool_call_id="1"),
    ]
    with pytest.raises(UnsupportedFeatureError, match="tool results can only carry text"):
        invoke(both, llm, llm, history)
    # an unknown format is refused when the model is built (a pydantic ValueError)
    with pytest.raises(ValueError, match="unknown api_format 'bogus'"):
        ChatJuhe(api_format="bogus", base_url=emu.base_url, api_key=emu.api_key)
    assert emu.requests == []


# --- conventions ---


def test_profile_for_every_family_and_unknown_names() -> None:
    """Complaint: model names unknown to the class leave ``profile`` empty."""
    for name in [
        "claude-sonnet-4-5",
        "gemini-2.5-pro",
        "deepseek-reasoner",
        "gpt-4o-mini",
        "my-own-model",
    ]:
        profile = ChatJuhe(model=name).profile
        assert profile is not None and profile["max_input_tokens"] > 0 and profile["tool_calling"]
    assert ChatJuhe(model="claude-sonnet-4-5").profile["image_inputs"] is True  # type: ignore[index]
    assert ChatJuhe(model="deepseek-reasoner").profile["reasoning_output"] is True  # type: ignore[index]
    assert ChatJuhe(model="my-own-model").profile["image_inputs"] is False  # type: ignore[index]


@pytest.mark.filterwarnings("ignore:The function `load` is in beta")
def test_dumpd_load_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = ChatJuhe(
        model="gpt-4o", api_key="sk-secret-123", temperature=0.2, model_kwargs={"user": "u"}
    )
    monkeypatch.setenv("JUHE_API_KEY", "sk-secret-123")
    serialised = dumpd(llm)
    assert "sk-secret" not in str(serialised)
    revived = load(
        serialised,
        valid_namespaces=["langchain_juhe"],
        allowed_objects=[ChatJuhe],
        secrets_from_env=True,
    )
    assert isinstance(revived, ChatJuhe)
    assert revived.asdict() == llm.asdict()
    assert revived.api_key is not None and revived.api_key.get_secret_value() == "sk-secret-123"
    assert revived.model_kwargs == {"user": "u"}


def test_unknown_keywords_go_to_model_kwargs_and_the_body(llm: ChatJuhe, emu: Emulator) -> None:
    with pytest.warns(UserWarning, match="frequency_penalty"):
        other = ChatJuhe(
            base_url=emu.base_url,
            api_key=emu.api_key,
            frequency_penalty=0.5,
            extra_body={"user": "model", "safe": True},
        )
    other.invoke("hi", extra_body={"user": "call"})
    body = emu.requests[-1].json
    assert (body["frequency_penalty"], body["user"], body["safe"]) == (0.5, "call", True)
    with pytest.raises(ValueError, match="temperature"):
        ChatJuhe(model_kwargs={"temperature": 1})


# --- fallback models ---


@pytest.mark.parametrize("mode", ["invoke", "stream"])
def test_fallback_model_answers_and_is_reported(
    both: Both, llm: ChatJuhe, emu: Emulator, mode: str
) -> None:
    llm.max_retries = 0
    llm.fallback_models = ["gpt-4o", "gpt-4.1"]
    emu.enqueue(Fault(status=503, code="model_not_found"), Fault(status=429), path=CHAT)
    if mode == "invoke":
        message = invoke(both, llm, llm, "hi")
    else:
        message = merge(stream(both, llm, llm, "hi"))
    assert [r.json["model"] for r in emu.requests] == ["gpt-4o-mini", "gpt-4o", "gpt-4.1"]
    assert message.response_metadata["fallbacks"] == ["gpt-4o-mini", "gpt-4o"]
    assert message.response_metadata["model_name"] == "gpt-4.1"
    assert message.text


def test_fallbacks_per_call_and_not_for_permanent_errors(llm: ChatJuhe, emu: Emulator) -> None:
    llm.max_retries = 0
    emu.enqueue(Fault(status=500), path=CHAT)
    message = llm.invoke("hi", fallback_models=["gpt-4o"])
    assert message.response_metadata["fallbacks"] == ["gpt-4o-mini"]
    assert "fallback_models" not in emu.requests[-1].json  # never sent as a body field
    assert "fallbacks" not in llm.invoke("hi").response_metadata  # nothing failed
    emu.enqueue(Fault(status=400), path=CHAT)
    with pytest.raises(BadRequestError):
        llm.invoke("hi", fallback_models=["gpt-4o"])
    assert emu.requests[-1].json["model"] == "gpt-4o-mini"  # a 400 is not the model's fault
