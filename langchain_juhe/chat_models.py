"""``ChatJuhe``: the LangChain chat model for the Juhe (JuheNext) relay."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, get_pydantic_field_names, secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from juhe_core.catalogue import capabilities_for, guess_format
from juhe_core.messages import ChatRequest
from juhe_core.messages import ChatResult as JuheChatResult
from juhe_core.settings import DEFAULT_TIMEOUT
from juhe_core.wire import codec_for
from langchain_juhe import _convert
from langchain_juhe._binding import (
    FORMAT_METHODS,
    StructuredOutputMethod,
    choose_structured_output_method,
    format_tool_choice,
    format_tools,
    json_schema_response_format,
    structured_output_parser,
)
from langchain_juhe._clients import ClientCache, ClientOwner
from langchain_juhe._peer_names import rename_peer_names

__all__ = ["ChatJuhe"]

_TRACED_PARAMS = (
    "temperature",
    "max_tokens",
    "top_p",
    "stop",
    "seed",
    "reasoning_effort",
    "thinking_budget",
    "modalities",
    "logprobs",
    "top_logprobs",
)


class ChatJuhe(ClientOwner, BaseChatModel):
    """Chat models served by the Juhe (JuheNext) relay, ``https://api.juheai.top``.

    One class for every model family the relay serves (GPT, Claude, Gemini, DeepSeek,
    Qwen ...). All wire work is done by ``juhe_core``: the key is sent only as a bearer
    header, retries follow the shared policy, and streams are checked for a proper end.

    Setup:
        Install ``juhe-integrations[langchain]`` and set ``JUHE_API_KEY``
        (and ``JUHE_BASE_URL`` for another deployment; ``.../v1`` is accepted too).

        .. code-block:: bash

            pip install "juhe-integrations[langchain]"
            export JUHE_API_KEY="sk-..."

    Key init args — completion params:
        model: str
            Model name, sent unchanged (alias ``model_name``).
        temperature, top_p, seed, stop: sampling controls.
        max_tokens: int | None
            Most tokens to generate (alias ``max_completion_tokens``).
        reasoning_effort: str | None
            ``"low"`` / ``"medium"`` / ``"high"`` for reasoning models.
        model_kwargs, extra_body: dict
            Fields sent in the request body as they are.

    Key init args — client params:
        api_key: SecretStr | None
            Defaults to ``JUHE_API_KEY``. Never shown in ``repr`` or serialised.
        base_url: str | None
            Defaults to ``JUHE_BASE_URL``, else ``https://api.juheai.top``.
        api_format: str
            Wire format: ``"openai"`` (chat completions, the default), ``"anthropic"``
            (``/v1/messages``), ``"gemini"`` (``/v1beta``), ``"responses"``
            (``/v1/responses``) or ``"auto"`` (the model's native one); also per call.
            What a format cannot carry raises ``UnsupportedFeatureError`` naming format
            and feature.
        fallback_models: list[str] | None
            Tried in order on 429 / 5xx / ``model_not_found``; reported in
            ``response_metadata["fallbacks"]``.
        timeout, max_retries, default_headers, http_client, http_async_client.
        stream_chunk_timeout: float | None
            Seconds without a stream event before ``APITimeoutError`` is raised.

    Instantiate:
        .. code-block:: python

            from langchain_juhe import ChatJuhe

            llm = ChatJuhe(model="gpt-4o-mini", temperature=0)

    Invoke:
        .. code-block:: python

            llm.invoke([("system", "Answer briefly."), ("human", "What is a relay?")])

    Stream (usage and metadata arrive on the last chunk):
        .. code-block:: python

            for chunk in llm.stream("Write a haiku about rivers"):
                print(chunk.text, end="")

    Async:
        .. code-block:: python

            await llm.ainvoke("Hello")
            async for chunk in llm.astream("Hello"):
                ...

    Tool calling:
        .. code-block:: python

            from pydantic import BaseModel, Field

            class GetWeather(BaseModel):
                '''Get the current weather in a given location.'''

                location: str = Field(description="City, e.g. Paris")

            ai_msg = llm.bind_tools([GetWeather]).invoke("Weather in Paris?")
            ai_msg.tool_calls  # [{'name': 'GetWeather', 'args': {'location': 'Paris'}, ...}]

    Structured output:
        .. code-block:: python

            class Joke(BaseModel):
                setup: str
                punchline: str

            llm.with_structured_output(Joke).invoke("Tell me a joke about cats")

    Reasoning (kept in ``additional_kwargs["reasoning_content"]``, shown as a standard
    ``reasoning`` content block, and sent back in history):
        .. code-block:: python

            msg = ChatJuhe(model="deepseek-reasoner").invoke("Is 97 prime?")
            [b for b in msg.content_blocks if b["type"] == "reasoning"]

    Usage metadata:
        .. code-block:: python

            msg.usage_metadata
            # {'input_tokens': 12, 'output_tokens': 30, 'total_tokens': 42,
            #  'input_token_details': {'cache_read': 0},
            #  'output_token_details': {'reasoning': 0}}

    Response metadata:
        .. code-block:: python

            msg.response_metadata
            # {'model_name': 'gpt-4o-mini', 'model_provider': 'juhe',
            #  'finish_reason': 'stop', 'id': 'chatcmpl-...', 'request_id': '...'}
            # plus 'fallbacks': ['gpt-4o-mini'] when a fallback model answered

    Image and audio output (Gemini, ``api_format="gemini"``) arrive as standard
    ``image`` / ``audio`` content blocks, whole, in ``invoke`` and ``stream`` alike.
    """

    model: str = Field(default="gpt-4o-mini", alias="model_name")
    """Model name, sent unchanged (the relay may answer with a redirected name)."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env("JUHE_API_KEY", default=None))
    """API key; defaults to ``JUHE_API_KEY``."""
    base_url: str | None = Field(default_factory=from_env("JUHE_BASE_URL", default=None))
    """Root URL; defaults to ``JUHE_BASE_URL``, else ``https://api.juheai.top``.
    A trailing ``/v1`` is accepted and removed (no ``/v1/v1`` paths)."""
    api_format: str = "openai"
    """Wire format: ``"openai"`` (chat completions), ``"anthropic"`` (``/v1/messages``),
    ``"gemini"`` (``/v1beta``), ``"responses"`` (``/v1/responses``) or ``"auto"`` (the
    model's native one); an unknown name raises ``UnsupportedFeatureError`` when the model
    is built. What a format cannot carry raises ``UnsupportedFeatureError`` naming both.
    Also accepted per call (``invoke(..., api_format=...)``, ``bind(api_format=...)``),
    checked the same way and never sent in the body."""
    fallback_models: list[str] | None = None
    """Models tried in order when the model still fails with 429, 5xx or
    ``model_not_found`` after its retries (streams: only before the first chunk). Those
    that failed are listed in ``response_metadata["fallbacks"]``; ``model_name`` is the
    model that answered. Also accepted per call (``invoke(..., fallback_models=[...])``)."""
    temperature: float | None = None
    """Sampling temperature (sent as given, 0 included)."""
    max_tokens: int | None = Field(default=None, alias="max_completion_tokens", ge=1)
    """Most tokens to generate."""
    top_p: float | None = None
    """Nucleus sampling."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Default stop sequences."""
    seed: int | None = None
    """Sampling seed."""
    reasoning_effort: str | None = None
    """Reasoning effort for reasoning models."""
    thinking_budget: int | None = None
    """Reasoning tokens to allow (native Anthropic/Gemini formats; 0 turns thinking off)."""
    modalities: list[str] | None = None
    """Output modalities to ask for (``["text", "image"]`` for image-output models)."""
    logprobs: bool | None = None
    """Return token log probabilities (in ``response_metadata["logprobs"]``)."""
    top_logprobs: int | None = None
    """Alternatives per token with ``logprobs``."""
    timeout: float | httpx.Timeout | tuple[float, float] | None = DEFAULT_TIMEOUT
    """Seconds per request (connect, read, write), an ``httpx.Timeout``, or a
    ``(connect, read)`` tuple; None waits forever."""
    max_retries: int | None = None
    """Retries of failed requests (default 2; 0 disables)."""
    streaming: bool = False
    """Stream under ``invoke`` too (callbacks then see tokens)."""
    stream_usage: bool = True
    """Attach usage to the last stream chunk, whatever the base URL."""
    stream_chunk_timeout: float | None = None
    """Idle-stream watchdog: most seconds between two stream events."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Other request fields, sent in the body as they are."""
    extra_body: dict[str, Any] | None = None
    """Fields merged into the request body last."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request (they cannot replace the auth header)."""
    allow_insecure_http: bool = False
    """Allow sending the key over plain ``http://`` to a host that is not loopback."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` (proxies, mTLS ...), used as given for sync calls."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Your own ``httpx.AsyncClient``, used as given for async calls."""

    # Errors never echo the input: it may hold the key (a before-validator sees all fields).
    model_config = ConfigDict(populate_by_name=True, hide_input_in_errors=True)

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    @model_validator(mode="before")
    @classmethod
    def _build_model_kwargs(cls, values: Any) -> Any:
        """Move unknown constructor keywords into ``model_kwargs``, as ChatOpenAI does,
        after renaming the peers' spellings (``openai_api_key``, ``request_timeout`` ...);
        an unknown credential-like keyword is refused, never sent."""
        if not isinstance(values, dict):
            return values
        known = get_pydantic_field_names(cls)
        values = rename_peer_names(values, known, "ChatJuhe")
        extra = dict(values.get("model_kwargs") or {})
        for name in [n for n in values if n not in known]:
            warnings.warn(
                f"{name} is not a ChatJuhe parameter; sending it in model_kwargs", stacklevel=3
            )
            extra[name] = values.pop(name)
        clash = known & extra.keys()
        if clash:
            raise ValueError(f"pass {sorted(clash)} as parameters, not in model_kwargs")
        return {**values, "model_kwargs": extra}

    @field_validator("api_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        """Refuse an unknown wire format when the model is built, not at the first call."""
        return _check_format(value)

    # --- LangChain conventions ---

    @property
    def _llm_type(self) -> str:
        return "juhe-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Serialise ``api_key`` as a reference to ``JUHE_API_KEY``, never its value."""
        return {"api_key": "JUHE_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """``dumpd``/``load`` round-trip this model."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_juhe", "chat_models"]``."""
        return ["langchain_juhe", "chat_models"]

    @property
    def _default_params(self) -> dict[str, Any]:
        params = {"model": self.model, "stream_usage": self.stream_usage}
        for key in _TRACED_PARAMS:
            value = getattr(self, key)
            if value is not None:
                params[key] = value
        return params

    @property
    def _identifying_params(self) -> dict[str, Any]:
        params = {**self._default_params, "api_format": self.api_format}
        if self.fallback_models:
            params["fallback_models"] = self.fallback_models
        return params

    def _wire_format(self, model: str | None = None, api_format: str | None = None) -> str:
        """The concrete format of calls to ``model`` (default: ``self.model``) in
        ``api_format`` (default: ``self.api_format``); for ``"auto"``, the model list's
        answer once a call has read it, else the format the name family suggests."""
        fmt = api_format or self.api_format
        if fmt != "auto":
            return fmt
        client = self._clients.peek()
        if client is not None:
            return client.resolve_format(fmt, model or self.model)
        return guess_format(model or self.model)

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = {**self._default_params, **kwargs}
        ls_params = LangSmithParams(
            ls_provider="juhe", ls_model_name=params["model"], ls_model_type="chat"
        )
        if isinstance(params.get("temperature"), (int, float)):
            ls_params["ls_temperature"] = params["temperature"]
        max_tokens = params.get("max_tokens") or params.get("max_completion_tokens")
        if isinstance(max_tokens, int):
            ls_params["ls_max_tokens"] = max_tokens
        if ls_stop := stop or params.get("stop"):
            ls_params["ls_stop"] = ls_stop
        return ls_params

    def _resolve_model_profile(self) -> ModelProfile | None:
        return self._format_profile(self._wire_format())

    def _format_profile(self, fmt: str) -> ModelProfile:
        """What the model can do when spoken to in the concrete format ``fmt``."""
        caps = capabilities_for(self.model)
        # Only the anthropic codec carries images and PDFs inside tool results.
        media_results = fmt == "anthropic"
        native_schema = "json_schema" in FORMAT_METHODS.get(fmt, ("json_schema",))
        return ModelProfile(
            max_input_tokens=caps.context_window,
            max_output_tokens=caps.max_output_tokens,
            text_inputs=True,
            text_outputs=True,
            image_inputs=caps.vision,
            image_url_inputs=caps.vision,
            pdf_inputs=caps.pdf,
            audio_inputs=caps.audio,
            video_inputs=caps.video,
            image_tool_message=caps.vision and media_results,
            pdf_tool_message=caps.pdf and media_results,
            image_outputs=caps.image_output,
            audio_outputs=caps.audio_output,
            reasoning_output=caps.reasoning,
            tool_calling=caps.tools,
            tool_choice=caps.tools,
            tool_call_streaming=caps.tools,
            structured_output=caps.structured_output and native_schema,
            temperature=caps.temperature,
        )

    # --- generation (clients: ClientOwner, one sync and one async, made on first use) ---

    def _request_args(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[ChatRequest, _Call]:
        """The neutral request and how to send it (format, fallbacks, stream usage).

        A call's ``api_format`` (``invoke(..., api_format=...)`` or ``bind``) picks the
        wire format of that call; it is checked like the field and never sent in the body.
        """
        kwargs.pop("stream", None)
        timeout = kwargs.pop("timeout", None)  # this call's limit, never body fields
        idle = kwargs.pop("stream_chunk_timeout", None)
        idle = self.stream_chunk_timeout if idle is None else float(idle)
        api_format = kwargs.pop("api_format", None)
        api_format = self.api_format if api_format is None else _check_format(api_format)
        stream_usage = bool(kwargs.pop("stream_usage", self.stream_usage))
        fallbacks = kwargs.pop("fallback_models", None)
        if fallbacks is None:
            fallbacks = self.fallback_models or ()
        params = {**self._default_params, "model_kwargs": self.model_kwargs, **kwargs}
        params.pop("stream_usage", None)
        params["extra_body"] = {**(self.extra_body or {}), **(kwargs.get("extra_body") or {})}
        model = params.pop("model")
        request = _convert.to_chat_request(messages, model=model, params=params, stop=stop)
        for name in (model, *fallbacks):
            _convert.check_carried(request, self._wire_format(name, api_format))
        return request, _Call(model, api_format, tuple(fallbacks), stream_usage, timeout, idle)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request, call = self._request_args(messages, stop, kwargs)
        result = self._get_client().chat(
            request,
            api_format=call.api_format,
            fallback_models=call.fallbacks,
            timeout=call.timeout,
        )
        return _chat_result(_convert.to_ai_message(result, model=call.answering(result)))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request, call = self._request_args(messages, stop, kwargs)
        result = await self._get_async_client().chat(
            request,
            api_format=call.api_format,
            fallback_models=call.fallbacks,
            timeout=call.timeout,
        )
        return _chat_result(_convert.to_ai_message(result, model=call.answering(result)))

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request, call = self._request_args(messages, stop, kwargs)
        builder = _convert.ChunkBuilder(model=call.model, stream_usage=call.stream_usage)
        stream = self._get_client().chat_stream(
            request,
            api_format=call.api_format,
            idle_timeout=call.idle_timeout,
            fallback_models=call.fallbacks,
            timeout=call.timeout,
        )
        with stream:
            for delta in stream:
                if (message := builder.chunk(delta)) is not None:
                    yield ChatGenerationChunk(message=message)
        result = stream.result
        assert result is not None  # the stream raises unless it ended properly
        yield ChatGenerationChunk(message=builder.last(result, call.answering(result)))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request, call = self._request_args(messages, stop, kwargs)
        builder = _convert.ChunkBuilder(model=call.model, stream_usage=call.stream_usage)
        stream = await self._get_async_client().chat_stream(
            request,
            api_format=call.api_format,
            idle_timeout=call.idle_timeout,
            fallback_models=call.fallbacks,
            timeout=call.timeout,
        )
        async with stream:
            async for delta in stream:
                if (message := builder.chunk(delta)) is not None:
                    yield ChatGenerationChunk(message=message)
        result = stream.result
        assert result is not None  # the stream raises unless it ended properly
        yield ChatGenerationChunk(message=builder.last(result, call.answering(result)))

    # --- tools and structured output ---

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (dicts, pydantic models, TypedDicts, functions, ``BaseTool``s).

        Args:
            tools: The tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"any"``/``"required"``/``True`` (call
                some tool), a bound tool's name, or an OpenAI-style dict.
            strict: Ask the server to enforce each tool's schema exactly.
            parallel_tool_calls: Allow (or forbid) several calls in one turn.
            kwargs: Further keywords bound to the model.
        """
        formatted = format_tools(tools, strict=strict)
        if tool_choice is not None:
            kwargs["tool_choice"] = format_tool_choice(tool_choice, formatted)
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: StructuredOutputMethod | None = None,
        include_raw: bool = False,
        strict: bool | None = None,
        api_format: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable returning ``schema`` instances (pydantic) or dicts.

        Args:
            schema: A pydantic class, TypedDict class or JSON schema (may be None with
                ``json_mode``, which then returns any JSON object).
            method: ``"json_schema"`` (native structured output), ``"function_calling"``
                (a forced tool call) or ``"json_mode"``. By default the best one both the
                model (its profile) and the wire format support: native JSON schema, else
                tool calling, else JSON mode. A method the format cannot carry (JSON
                schema or JSON mode with ``api_format="anthropic"``) raises
                ``UnsupportedFeatureError`` here, before any request.
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of raising
                on parse errors.
            strict: Ask the server to enforce the schema exactly.
            api_format: The wire format of this runnable's calls (default: the model's);
                the method is chosen for it, and it is bound like ``bind(api_format=...)``.
                A structured runnable invoked with another ``api_format`` keeps its
                method: one that format cannot carry raises ``UnsupportedFeatureError``.
            kwargs: Not accepted (ValueError), as in langchain-core.
        """
        if kwargs:
            raise ValueError(f"Received unsupported arguments {kwargs}")
        fmt = self._wire_format()
        profile = self.profile
        bound: dict[str, Any] = {}
        if api_format is not None:
            bound["api_format"] = _check_format(api_format)
            fmt = self._wire_format(api_format=api_format)
            profile = self._format_profile(fmt)
        chosen = choose_structured_output_method(method, profile, fmt)
        ls_format = {"kwargs": {"method": chosen, "strict": strict}, "schema": schema}
        llm: Runnable[LanguageModelInput, AIMessage]
        if schema is None and chosen != "json_mode":
            raise ValueError(f"method={chosen!r} needs a schema")
        if chosen == "function_calling" and schema is not None:
            name = format_tools([schema])[0]["function"]["name"]
            llm = self.bind_tools(
                [schema],
                tool_choice=name,
                strict=strict,
                ls_structured_output_format=ls_format,
                **bound,
            )
        elif chosen == "json_schema":
            response_format = json_schema_response_format(schema, strict=strict)
            llm = self.bind(
                response_format=response_format, ls_structured_output_format=ls_format, **bound
            )
        else:
            ls_format["kwargs"] = {"method": chosen}
            llm = self.bind(
                response_format={"type": "json_object"},
                ls_structured_output_format=ls_format if schema is not None else None,
                **bound,
            )
        parser = structured_output_parser(schema, chosen)
        if not include_raw:
            return llm | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parse.with_fallbacks(
            [fallback], exception_key="parsing_error"
        )


def _check_format(value: str) -> str:
    """``value`` if it names a wire format or ``"auto"``; else UnsupportedFeatureError
    (a ValueError) naming ``api_format`` and the choices."""
    if value != "auto":
        codec_for(value)
    return value


class _Call(NamedTuple):
    """How one call is sent, beside its request."""

    model: str
    """The model asked for."""
    api_format: str
    """The wire format of this call (the call's own, else the model's)."""
    fallbacks: tuple[str, ...]
    """Models to try next (``fallback_models``)."""
    stream_usage: bool
    """Whether the last stream chunk carries usage."""
    timeout: Any
    """This call's timeout (``invoke(..., timeout=...)``); None: the model's."""
    idle_timeout: float | None
    """This call's idle-stream watchdog (the call's ``stream_chunk_timeout``, else the
    model's)."""

    def answering(self, result: JuheChatResult) -> str:
        """The model that answered, for when the server does not name it."""
        return (self.model, *self.fallbacks)[len(result.fallbacks)]


def _chat_result(message: AIMessage) -> ChatResult:
    metadata = message.response_metadata
    generation = ChatGeneration(
        message=message, generation_info={"finish_reason": metadata.get("finish_reason")}
    )
    llm_output: dict[str, Any] = {"model_name": metadata.get("model_name")}
    if message.usage_metadata is not None:
        llm_output["token_usage"] = dict(message.usage_metadata)
    return ChatResult(generations=[generation], llm_output=llm_output)
