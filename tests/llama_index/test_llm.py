"""``Juhe``: settings, metadata, the key, chat / stream / complete, usage and events.

Sync and async share each test body (the ``both`` fixture); everything runs against the
emulator on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import pickle
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.llms import ChatMessage
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from juhe_core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    InternalServerError,
    StreamError,
    UnsupportedFeatureError,
)
from juhe_core.testing import Emulator, Fault, Reply, StreamFault
from llama_index_juhe import Juhe, JuheEmbedding, JuheToolSpec, JuheUsageHandler

from .conftest import Both, user
from .relay import MockRelay

CHAT = "/v1/chat/completions"
MakeLLM = Callable[..., Juhe]
KEY = "sk-secret-key-value-0123456789"
PROMPT = PromptTemplate("Extract the city: {text}")
ANTHROPIC = {"api_format": "anthropic"}


class City(BaseModel):
    """A city and its country."""

    name: str
    country: str


# --- settings, metadata and the key ---


def test_class_name_and_defaults() -> None:
    llm = Juhe()
    assert isinstance(llm, FunctionCallingLLM)
    assert Juhe.class_name() == "Juhe"
    assert llm.to_dict()["class_name"] == "Juhe"
    assert (llm.model, llm.api_base, llm.api_format) == (
        "gpt-4o-mini",
        "https://api.juheai.top",
        "openai",
    )


def test_key_and_base_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUHE_API_KEY", KEY)
    monkeypatch.setenv("JUHE_BASE_URL", "https://relay.example.com/v1/")
    llm = Juhe()
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == KEY
    assert llm.api_base == "https://relay.example.com"  # what OpenAI SDK users paste works


def test_missing_key_fails_at_the_first_request_naming_the_variable(emu: Emulator) -> None:
    llm = Juhe(api_base=emu.base_url)  # building it needs no key
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY"):
        llm.complete("hi")


def test_malformed_base_url_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError):
        Juhe(api_key=KEY, api_base="api.juheai.top")


@pytest.mark.parametrize("cls", [Juhe, JuheEmbedding, JuheToolSpec, JuheUsageHandler])
def test_plain_http_to_a_remote_host_needs_allow_insecure_http(cls: Any) -> None:
    def call(**kwargs: Any) -> Any:
        model = cls(api_key=KEY, api_base="http://relay.example", max_retries=0, **kwargs)
        if isinstance(model, Juhe):
            return model.complete("hi")
        if isinstance(model, JuheEmbedding):
            return model.get_text_embedding("hi")
        if isinstance(model, JuheUsageHandler):
            return model.read_balance("before")
        return model.moderate_text(text="hi")

    with pytest.raises(ConfigurationError, match="plain http"):
        call()
    # allowed: the request is attempted (and stopped by the tests' offline guard)
    with pytest.raises(APIConnectionError):
        call(allow_insecure_http=True)


@pytest.mark.parametrize("cls", [Juhe, JuheEmbedding])
def test_the_key_never_appears(cls: Any) -> None:
    model = cls(api_key=KEY)
    for text in (
        repr(model),
        str(model),
        str(model.to_dict()),
        model.to_json(),
        model.model_dump_json(),
        str(model.to_payload()) if hasattr(model, "to_payload") else "",
    ):
        assert KEY not in text
    assert "api_key" not in model.to_dict()
    assert model.api_key.get_secret_value() == KEY  # kept, just never shown
    assert KEY.encode() not in pickle.dumps(model)  # a copy reads JUHE_API_KEY instead


def test_unknown_keywords_are_refused_by_name_not_dropped() -> None:
    """LlamaIndex's pydantic config ignores unknown fields; ours name them instead."""
    with pytest.raises(TypeError, match=r"'base_url' \(use api_base\)"):
        Juhe(api_key=KEY, base_url="https://relay.example")  # ChatJuhe's name
    with pytest.raises(TypeError, match=r"'temprature'.*additional_kwargs"):
        Juhe(api_key=KEY, temprature=0.2)
    with pytest.raises(TypeError, match=r"'chunk_size' \(use embed_batch_size\)"):
        JuheEmbedding(api_key=KEY, chunk_size=10)
    with pytest.raises(TypeError, match="'user'"):
        JuheEmbedding(api_key=KEY, user="u-1")
    with pytest.raises(TypeError, match=r"'base_url' \(use api_base\)"):
        JuheUsageHandler(api_key=KEY, base_url="https://relay.example")
    # LlamaIndex's own base fields are still taken, and a serialised model loads again
    llm = Juhe(api_key=KEY, system_prompt="Be brief.", top_p=0.5)
    assert Juhe.from_dict(llm.to_dict()).system_prompt == "Be brief."
    assert JuheEmbedding.from_dict(JuheEmbedding(num_workers=2).to_dict()).num_workers == 2


def test_request_options_given_as_keywords_are_sent(emu: Emulator, make_llm: MakeLLM) -> None:
    llm = make_llm(top_p=0.5, seed=7, stop=["END"], logprobs=True, additional_kwargs={"n": 1})
    assert llm.additional_kwargs == {
        "n": 1,
        "top_p": 0.5,
        "seed": 7,
        "stop": ["END"],
        "logprobs": True,
    }
    llm.complete("hi")
    body = emu.requests[-1].json
    assert (body["top_p"], body["seed"], body["stop"], body["logprobs"]) == (0.5, 7, ["END"], True)


def test_unknown_api_format_is_refused_with_the_core_error() -> None:
    with pytest.raises(UnsupportedFeatureError, match="unknown api_format 'grpc'"):
        Juhe(api_key=KEY, api_format="grpc")


@pytest.mark.parametrize(
    ("api_format", "path"),
    [
        ("anthropic", "/v1/messages"),
        ("gemini", "/v1beta/models/gpt-4o:generateContent"),
        ("responses", "/v1/responses"),
    ],
)
def test_api_format_is_passed_through_to_the_codec(api_format: str, path: str) -> None:
    relay = MockRelay()
    assert relay.llm(api_format, model="gpt-4o").complete("hi").text
    assert relay.requests[-1].url.path == path


def test_metadata_of_a_known_family() -> None:
    meta = Juhe(model="gpt-4o").metadata
    assert (meta.context_window, meta.num_output) == (128_000, 16_384)
    assert (meta.is_chat_model, meta.is_function_calling_model) == (True, True)
    assert meta.model_name == "gpt-4o"


def test_unknown_model_names_are_never_refused_and_get_sensible_defaults(
    emu: Emulator, make_llm: MakeLLM
) -> None:
    """Pitfalls: OpenAI's "Unknown model" error; OpenAILike's 3,900 tokens, chat and tools off."""
    llm = make_llm(model="my-company/finetune-7")
    meta = llm.metadata
    assert meta.context_window == 32_768
    assert (meta.is_chat_model, meta.is_function_calling_model) == (True, True)
    assert "Are you there?" in llm.complete("Are you there?").text
    assert emu.requests[-1].json["model"] == "my-company/finetune-7"


def test_metadata_overrides() -> None:
    meta = Juhe(
        model="gpt-4o", context_window=8_000, is_function_calling_model=False, max_tokens=500
    ).metadata
    assert (meta.context_window, meta.num_output, meta.is_function_calling_model) == (
        8_000,
        500,
        False,
    )
    assert Juhe(model="o1-mini").metadata.is_function_calling_model is False


# --- chat, stream, complete ---


def test_chat(both: Both, emu: Emulator) -> None:
    response = both.chat(user("What is the capital of France?"))
    assert "What is the capital of France?" in (response.message.content or "")
    body = emu.requests[-1].json
    assert body["messages"] == [{"role": "user", "content": "What is the capital of France?"}]
    assert "stream" not in body


def test_options_reach_the_wire(both: Both, emu: Emulator) -> None:
    both.model.temperature, both.model.max_tokens = 0.2, 64
    both.model.additional_kwargs = {"user": "u-1", "seed": 3}
    both.chat(user("hi"), temperature=0.0, stop=["END"])  # the call's kwargs win
    body = emu.requests[-1].json
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 64, 3)
    assert (body["user"], body["stop"]) == ("u-1", ["END"])


def test_thinking_budget_from_the_constructor(both: Both, emu: Emulator, make_llm: MakeLLM) -> None:
    both.model = make_llm(model="claude-sonnet-4-5", api_format="anthropic", thinking_budget=2048)
    both.chat(user("Is 97 prime?"))
    assert emu.requests[-1].json["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    both.chat(user("Is 97 prime?"), thinking_budget=0)  # the call's own wins: thinking off
    assert "thinking" not in emu.requests[-1].json
    both.model = make_llm(model="gemini-2.5-flash", api_format="gemini", thinking_budget=1024)
    both.chat(user("Is 97 prime?"))
    config = emu.requests[-1].json["generationConfig"]["thinkingConfig"]
    assert config == {"thinkingBudget": 1024, "includeThoughts": True}


def test_usage_in_additional_kwargs_and_raw(both: Both) -> None:
    response = both.chat(user("Count my tokens, please."))
    counts = response.additional_kwargs
    assert counts["prompt_tokens"] > 0
    assert counts["completion_tokens"] > 0
    assert counts["total_tokens"] == counts["prompt_tokens"] + counts["completion_tokens"]
    assert {"cached_tokens", "reasoning_tokens"} <= counts.keys()
    assert response.raw["usage"]["prompt_tokens"] == counts["prompt_tokens"]


def test_stream_chat(both: Both, emu: Emulator) -> None:
    """Pitfall: usage in streams needed a manual ``stream_options``; here it just arrives."""
    chunks = both.stream("chat", user("Tell me about Paris."))
    assert len(chunks) > 2
    text = "".join(c.delta or "" for c in chunks)
    assert "Tell me about Paris." in text
    assert chunks[-1].message.content == text
    assert chunks[-1].additional_kwargs["completion_tokens"] > 0
    assert chunks[-1].raw["usage"]["prompt_tokens"] > 0
    assert emu.requests[-1].json["stream_options"] == {"include_usage": True}


def test_complete(both: Both) -> None:
    response = both.call("complete", "Describe the Moon.")
    assert "Describe the Moon." in response.text
    assert response.additional_kwargs["prompt_tokens"] > 0


def test_stream_complete(both: Both) -> None:
    chunks = both.stream("complete", "Describe the Sun.")
    assert "".join(c.delta or "" for c in chunks) == chunks[-1].text
    assert "Describe the Sun." in chunks[-1].text
    assert chunks[-1].additional_kwargs["total_tokens"] > 0


def test_api_errors_surface_typed(both: Both, emu: Emulator) -> None:
    emu.enqueue(Fault(status=401), path=CHAT)
    with pytest.raises(AuthenticationError):
        both.chat(user("hi"))


def test_a_cut_stream_is_an_error_not_a_short_answer(both: Both, emu: Emulator) -> None:
    emu.enqueue(StreamFault(kind="cut_done", after=2), path=CHAT)
    with pytest.raises(StreamError):
        both.stream("chat", user("Tell me a long story."))


def test_idle_stream_watchdog(both: Both, emu: Emulator, make_llm: MakeLLM) -> None:
    both.model = make_llm(stream_chunk_timeout=0.3)
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=3.0), path=CHAT)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        both.stream("chat", user("Tell me a long story."))
    assert time.monotonic() - started < 2.5
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=0.1), path=CHAT)
    chunks = both.stream("chat", user("Tell me a story."))  # slow but live: not cut
    assert chunks[-1].raw["finish_reason"] == "stop"


def test_max_retries_retries_a_server_error_and_zero_surfaces_it_typed(
    both: Both, emu: Emulator, make_llm: MakeLLM
) -> None:
    both.model = both.owner = make_llm(max_retries=1)
    emu.enqueue(Fault(500), path=CHAT)
    answer = both.chat(user("Retry me."))
    assert "Retry me." in (answer.message.content or "")
    assert len(emu.requests) == 2
    emu.clear()
    both.model = both.owner = make_llm(max_retries=0)
    emu.enqueue(Fault(500), path=CHAT)
    with pytest.raises(InternalServerError) as info:
        both.chat(user("Retry me."))
    assert info.value.status_code == 500
    assert len(emu.requests) == 1


def test_a_call_may_set_its_own_timeouts_and_they_are_never_sent(
    both: Both, emu: Emulator, make_llm: MakeLLM
) -> None:
    both.model = make_llm(timeout=30, max_retries=0)
    emu.enqueue(Reply(delay=2.0), path=CHAT)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        both.call("chat", user("hi"), timeout=0.3)
    assert time.monotonic() - started < 1.5
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=3.0), path=CHAT)
    with pytest.raises(APITimeoutError):
        both.stream("chat", user("Tell me a long story."), stream_chunk_timeout=0.3)
    both.call("chat", user("hi"), timeout=5)
    assert "timeout" not in emu.requests[-1].json


# --- observability ---


def test_token_counting_handler_sees_the_real_counts(emu: Emulator, make_llm: MakeLLM) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(callback_manager=CallbackManager([counter]))
    emu.enqueue(Reply(text="ok", usage={"prompt_tokens": 111, "completion_tokens": 22}), path=CHAT)
    llm.chat(user("hi"))
    emu.enqueue(Reply(text="ok", usage={"prompt_tokens": 333, "completion_tokens": 44}), path=CHAT)
    list(llm.stream_chat(user("hi")))
    assert [e.prompt_token_count for e in counter.llm_token_counts] == [111, 333]
    assert [e.completion_token_count for e in counter.llm_token_counts] == [22, 44]


class Recorder(BaseEventHandler):
    """Collects instrumentation events."""

    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


def test_instrumentation_events_fire(both: Both) -> None:
    recorder = Recorder()
    root = get_dispatcher()
    root.add_event_handler(recorder)
    try:
        both.chat(user("hi"))
        both.stream("chat", user("hi"))
    finally:
        root.event_handlers.remove(recorder)
    names = [type(e).__name__ for e in recorder.events]
    assert names.count("LLMChatStartEvent") == 2
    assert names.count("LLMChatEndEvent") == 2
    assert "LLMChatInProgressEvent" in names
    assert all(KEY not in str(e) for e in recorder.events)


# --- clients ---


def test_callers_http_clients_are_used_and_left_open(emu: Emulator) -> None:
    seen: list[str] = []

    def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async def ahook(request: httpx.Request) -> None:
        seen.append("async " + request.url.path)

    sync_http = httpx.Client(event_hooks={"request": [hook]})
    llm = Juhe(api_key=emu.api_key, api_base=emu.base_url, http_client=sync_http)
    llm.complete("hi")
    llm.close()
    assert not sync_http.is_closed
    sync_http.close()

    async def run() -> None:
        async with httpx.AsyncClient(event_hooks={"request": [ahook]}) as async_http:
            allm = Juhe(api_key=emu.api_key, api_base=emu.base_url, async_http_client=async_http)
            await allm.acomplete("hi")
            await allm.aclose()
            assert not async_http.is_closed

    asyncio.run(run())
    assert seen == [CHAT, "async " + CHAT]


def test_one_object_serves_several_event_loops(llm: Juhe) -> None:
    """A second ``asyncio.run`` must not reuse connections of the first, closed loop."""
    first = asyncio.run(llm.acomplete("one"))
    second = asyncio.run(llm.acomplete("two"))
    assert ("one" in first.text, "two" in second.text) == (True, True)


def test_request_headers_carry_the_key_and_default_headers(
    emu: Emulator, make_llm: MakeLLM
) -> None:
    llm = make_llm(default_headers={"X-Trace": "t1"})
    llm.complete("hi")
    headers = emu.requests[-1].headers
    assert headers["authorization"] == f"Bearer {emu.api_key}"
    assert headers["x-trace"] == "t1"


def test_chat_messages_are_not_modified(both: Both) -> None:
    history = [ChatMessage(role="user", content="hi")]
    both.model.chat_with_tools([], chat_history=history, user_msg="again")
    assert len(history) == 1  # llama-index-llms-openai appends to the caller's list


def test_api_format_auto_picks_the_native_format(emu: Emulator, make_llm: MakeLLM) -> None:
    llm = make_llm(api_format="auto")
    assert "hi there" in llm.complete("hi there").text
    assert emu.requests[-1].path == CHAT  # gpt-4o-mini: the openai format


def test_per_call_api_format_picks_the_route_and_is_never_sent(both: Both, emu: Emulator) -> None:
    recorder = Recorder()
    root = get_dispatcher()
    root.add_event_handler(recorder)
    try:
        assert "Hello" in (both.chat(user("Hello"), api_format="anthropic").message.content or "")
        chunks = both.stream("chat", user("Hello"), api_format="anthropic")
        assert "Hello" in (chunks[-1].message.content or "")
        assert "Hello" in both.call("complete", "Hello", api_format="anthropic").text
        assert "Hello" in both.stream("complete", "Hello", api_format="anthropic")[-1].text
        both.chat(user("Hello"))  # the model's own format again
    finally:
        root.event_handlers.remove(recorder)
    assert [r.path for r in emu.requests] == ["/v1/messages"] * 4 + [CHAT]
    assert not any("api_format" in r.json for r in emu.requests)
    starts = [e for e in recorder.events if type(e).__name__ == "LLMChatStartEvent"]
    assert starts[0].additional_kwargs["api_format"] == "anthropic"  # what tracing sees


def test_per_call_api_format_is_checked_and_decides_what_is_carried(
    both: Both, emu: Emulator
) -> None:
    with pytest.raises(UnsupportedFeatureError, match="unknown api_format 'bogus'"):
        both.chat(user("hi"), api_format="bogus")
    with pytest.raises(UnsupportedFeatureError, match="unknown api_format 'bogus'"):
        both.stream("chat", user("hi"), api_format="bogus")
    with pytest.raises(UnsupportedFeatureError, match="anthropic format has no modalities"):
        both.chat(user("hi"), api_format="anthropic", modalities=["text", "image"])
    assert emu.requests == []
    # structured output picks its method for the call's format: a tool call for anthropic
    city = both.run(
        lambda: both.model.structured_predict(City, PROMPT, llm_kwargs=ANTHROPIC, text="Lyon"),
        lambda: both.model.astructured_predict(City, PROMPT, llm_kwargs=ANTHROPIC, text="Lyon"),
    )
    assert isinstance(city, City)
    request = emu.requests[-1]
    assert request.path == "/v1/messages" and "api_format" not in request.json
    assert request.json["tools"][0]["name"] == "City"


def test_leaving_a_stream_early_closes_it(llm: Juhe, emu: Emulator) -> None:
    stream = llm.stream_chat(user("Tell me a long story about the sea."))
    first = next(stream)
    stream.close()
    assert first.delta
    assert "again" in llm.complete("again").text  # the pool is still healthy


def test_pickling_a_used_model_drops_its_connections_and_key(
    llm: Juhe, emu: Emulator, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy (multiprocess pipelines pickle models) takes the key from the environment."""
    llm.complete("hi")
    with caplog.at_level("WARNING"):
        data = pickle.dumps(llm)
    assert "unpickleable" not in caplog.text
    assert emu.api_key.encode() not in data
    copy = pickle.loads(data)
    assert (copy.api_base, copy.model, copy.api_key) == (llm.api_base, llm.model, None)
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY"):
        copy.complete("hi")
    monkeypatch.setenv("JUHE_API_KEY", emu.api_key)
    other = pickle.loads(data)  # (a client, once made, keeps the settings it was made with)
    assert "hi" in other.complete("hi").text
    copy.close()
    other.close()


def test_threads_making_the_first_call_at_once_share_one_client(
    llm: Juhe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lazy client is made once even when many threads race to make it."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import llama_index_juhe._clients as clients_module

    made: list[object] = []
    real = clients_module.JuheClient

    def slow_client(**kwargs: Any) -> Any:
        time.sleep(0.05)  # widen the window between "no client yet" and "client made"
        made.append(client := real(**kwargs))
        return client

    monkeypatch.setattr(clients_module, "JuheClient", slow_client)
    barrier = threading.Barrier(8)

    def first_call(i: int) -> str:
        barrier.wait()
        return llm.complete(f"call {i}").text

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(first_call, range(8)))
    assert len(made) == 1
    assert all(f"call {i}" in a for i, a in enumerate(answers))


# --- fallback models ---


def test_fallback_models_answer_when_the_model_fails_and_are_reported(
    both: Both, emu: Emulator, make_llm: MakeLLM
) -> None:
    both.model = make_llm(model="gpt-4o", fallback_models=["gpt-4o-mini"], max_retries=0)
    emu.enqueue(Fault(status=503), path=CHAT)  # the relay's model_not_found
    response = both.chat(user("hi"))
    assert response.additional_kwargs["fallbacks"] == ["gpt-4o"]
    assert response.raw["model"] == "gpt-4o-mini"
    assert [r.json["model"] for r in emu.requests] == ["gpt-4o", "gpt-4o-mini"]


def test_a_streamed_answer_reports_its_fallbacks_on_every_chunk(
    both: Both, emu: Emulator, make_llm: MakeLLM
) -> None:
    both.model = make_llm(model="gpt-4o", fallback_models=["gpt-4o-mini"], max_retries=0)
    emu.enqueue(Fault(status=429), path=CHAT)
    chunks = both.stream("chat", user("hi"))
    assert chunks and all(c.additional_kwargs["fallbacks"] == ["gpt-4o"] for c in chunks)


def test_fallback_models_per_call_and_no_fallback_without_them(
    emu: Emulator, make_llm: MakeLLM
) -> None:
    llm = make_llm(model="gpt-4o", max_retries=0)
    emu.enqueue(Fault(status=500), path=CHAT)
    with pytest.raises(APIStatusError):
        llm.complete("hi")
    emu.enqueue(Fault(status=500), Fault(status=500), path=CHAT)
    answer = llm.chat(user("hi"), fallback_models=["deepseek-chat", "qwen-max"])
    assert answer.additional_kwargs["fallbacks"] == ["gpt-4o", "deepseek-chat"]
    assert "fallback_models" not in emu.requests[-1].json  # an option, not a body field
    assert "fallbacks" not in llm.chat(user("hi")).additional_kwargs  # a normal answer


def test_a_client_error_does_not_fall_back(emu: Emulator, make_llm: MakeLLM) -> None:
    llm = make_llm(model="gpt-4o", fallback_models=["gpt-4o-mini"], max_retries=0)
    emu.enqueue(Fault(status=400), path=CHAT)
    with pytest.raises(APIStatusError):
        llm.complete("hi")
    assert len(emu.requests) == 1


def test_fallbacks_with_auto_speak_each_models_own_format(
    both: Both, emu: Emulator, make_llm: MakeLLM
) -> None:
    both.model = make_llm(
        model="claude-sonnet-4-5",
        api_format="auto",
        fallback_models=["gemini-2.5-flash"],
        max_retries=0,
    )
    emu.enqueue(Fault(status=503), path="/v1/messages")
    response = both.chat(user("hi"))
    assert response.additional_kwargs["fallbacks"] == ["claude-sonnet-4-5"]
    assert [r.path for r in emu.requests] == [
        "/v1/models",  # "auto" reads the model list once, first
        "/v1/messages",
        "/v1beta/models/gemini-2.5-flash:generateContent",
    ]
    assert "hi" in (response.message.content or "")
