"""``Juhe``: the LlamaIndex ``FunctionCallingLLM`` for the Juhe (JuheNext) relay.

A thin class: it maps LlamaIndex types to juhe_core's neutral model (``_convert``),
folds stream deltas into LlamaIndex chunks (``_stream``), and leaves the wire, retries
and errors to ``juhe_core``'s clients, created lazily, one sync and one async per object.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import httpx
from llama_index.core.base.llms.generic_utils import (
    achat_to_completion_decorator,
    astream_chat_to_completion_decorator,
    chat_to_completion_decorator,
    stream_chat_to_completion_decorator,
)
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, SecretStr
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.llm import ToolSelection

from juhe_core.catalogue import ModelCapabilities, capabilities_for
from juhe_core.messages import ChatRequest
from juhe_core.settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Settings, state_without_key
from juhe_core.wire import resolve_format
from llama_index_juhe._clients import Clients, refuse_unknown, settings_of
from llama_index_juhe._convert import map_result, tool_selections
from llama_index_juhe._options import (
    REQUEST_OPTIONS,
    chat_request,
    map_tool_choice,
    map_tools,
    refuse_uncarried,
)
from llama_index_juhe._stream import StreamFold
from llama_index_juhe._structured import JsonSchemaLLM, StructuredMethod, structured_method

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_MODEL", "Juhe"]

DEFAULT_MODEL = "gpt-4o-mini"
logger = logging.getLogger(__name__)
# ChatJuhe's and llama-index-llms-openai's names for settings Juhe spells differently.
_RENAMED: Final[Mapping[str, str]] = {
    "base_url": "api_base",
    "model_name": "model",
    "max_completion_tokens": "max_tokens",
    "max_new_tokens": "max_tokens",
    "http_async_client": "async_http_client",
    "model_kwargs": "additional_kwargs",
    "extra_body": "additional_kwargs",
    "stop_sequences": "stop",
}
# Request options a keyword may set for every call (those without a field of their own).
_CALL_OPTIONS: Final = (*REQUEST_OPTIONS, "stop")


class Juhe(JsonSchemaLLM):
    """Chat models served by Juhe (https://api.juheai.top), as a LlamaIndex LLM.

    Any model name works: context window, output cap and tool support come from
    ``juhe_core.catalogue`` (safe defaults for names it does not know) and can be
    overridden with ``context_window`` / ``is_function_calling_model``.

    Setup:
        ``pip install "juhe-integrations[llama-index]"`` and set ``JUHE_API_KEY``
        (``JUHE_BASE_URL`` optionally; both ``https://api.juheai.top`` and ``.../v1`` work).

    Example:
        >>> from llama_index_juhe import Juhe
        >>> llm = Juhe(model="gpt-4o-mini")  # doctest: +SKIP
        >>> print(llm.complete("Say hi").text)  # doctest: +SKIP

    Key arguments:
        model: the model name, sent unchanged.
        api_key / api_base: default to ``JUHE_API_KEY`` / ``JUHE_BASE_URL``.
        api_format: the wire format: ``"openai"`` (default), ``"anthropic"``, ``"gemini"``,
            ``"responses"``, or ``"auto"`` for the model's native one. Also per call
            (``chat(..., api_format=...)``, or in ``llm_kwargs``), never sent in the body.
        temperature, max_tokens, reasoning_effort, thinking_budget: sent when set
            (``thinking_budget``: reasoning tokens, native Anthropic/Gemini formats).
        fallback_models: models tried in order when ``model`` still fails with 429, 5xx
            or ``model_not_found`` after its retries; the ones that failed are listed in
            ``ChatResponse.additional_kwargs["fallbacks"]`` (and on every stream chunk).
        additional_kwargs: extra request options; unknown names go into the body as is.
        stream_chunk_timeout: most seconds between two stream events before
            ``APITimeoutError`` (an idle-stream watchdog; none by default).
        allow_insecure_http: send the key over plain ``http://`` to a host that is not
            loopback (refused by default).
        http_client / async_http_client: your own ``httpx`` clients (left open for you).
    """

    # Validation errors never echo their input: it may hold the key.
    model_config = ConfigDict(hide_input_in_errors=True)

    model: str = Field(default=DEFAULT_MODEL, description="The model name, sent unchanged.")
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="The Juhe API key (sk-...)."
    )
    api_base: str = Field(description="The root URL of the Juhe API.")
    api_format: str = Field(default="openai", description="The wire format to speak.")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="Sampling.")
    max_tokens: int | None = Field(default=None, gt=0, description="The most tokens to generate.")
    context_window: int | None = Field(
        default=None, gt=0, description="Override the catalogue's context window."
    )
    is_function_calling_model: bool | None = Field(
        default=None, description="Override the catalogue's tool support."
    )
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, description="Seconds per request.")
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0, description="Retries.")
    reasoning_effort: str | None = Field(default=None, description="minimal/low/medium/high.")
    thinking_budget: int | None = Field(
        default=None,
        description="Reasoning tokens to allow (native Anthropic/Gemini formats; 0: off).",
    )
    fallback_models: list[str] = Field(
        default_factory=list,
        description="Models tried in order when the model fails after its retries.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request options, sent with every call."
    )
    default_headers: dict[str, str] | None = Field(
        default=None, description="Headers sent with every request."
    )
    stream_chunk_timeout: float | None = Field(
        default=None, gt=0, description="Idle-stream watchdog: most seconds between events."
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="Allow the key over plain http:// to a host that is not loopback.",
    )

    _clients: Clients = PrivateAttr(default_factory=Clients)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        api_format: str = "openai",
        temperature: float | None = None,
        max_tokens: int | None = None,
        context_window: int | None = None,
        is_function_calling_model: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        reasoning_effort: str | None = None,
        thinking_budget: int | None = None,
        fallback_models: list[str] | None = None,
        strict: bool = False,
        additional_kwargs: dict[str, Any] | None = None,
        default_headers: dict[str, str] | None = None,
        stream_chunk_timeout: float | None = None,
        allow_insecure_http: bool = False,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        resolve_format(api_format, model)  # juhe_core's error for unknown formats
        # Request options with no field of their own (top_p, seed, stop ...) are sent
        # with every call, as additional_kwargs; any other unknown keyword is an error.
        options = {k: kwargs.pop(k) for k in _CALL_OPTIONS if k in kwargs}
        hint = "; request fields go in additional_kwargs"
        refuse_unknown(type(self), kwargs, _RENAMED, hint)
        # Resolve the environment once, so the fields show what will be used, and a
        # malformed base URL fails here rather than at the first request.
        settings = Settings.resolve(
            api_key=api_key, base_url=api_base, timeout=timeout, max_retries=max_retries
        )
        # Passed as a dict: mypy sees the base class __init__, not this model's fields.
        fields: dict[str, Any] = {
            "model": model,
            "api_key": settings.api_key,
            "api_base": settings.base_url,
            "api_format": api_format,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "context_window": context_window,
            "is_function_calling_model": is_function_calling_model,
            "timeout": timeout,
            "max_retries": max_retries,
            "reasoning_effort": reasoning_effort,
            "thinking_budget": thinking_budget,
            "fallback_models": list(fallback_models or ()),
            "strict": strict,
            "additional_kwargs": {**(additional_kwargs or {}), **options},
            "default_headers": default_headers,
            "stream_chunk_timeout": stream_chunk_timeout,
            "allow_insecure_http": allow_insecure_http,
            "callback_manager": callback_manager,
            **kwargs,
        }
        super().__init__(**fields)
        self._clients = Clients(http_client, async_http_client)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state without the key (an unpickled copy reads ``JUHE_API_KEY``)."""
        return state_without_key(super().__getstate__())

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this class under."""
        return "Juhe"

    @property
    def capabilities(self) -> ModelCapabilities:
        """What the catalogue knows about ``model`` (defaults for unknown names)."""
        return capabilities_for(self.model)

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output cap and tool support: catalogue facts, user overrides."""
        caps = self.capabilities
        tools = self.is_function_calling_model
        return LLMMetadata(
            context_window=self.context_window or caps.context_window,
            num_output=self.max_tokens or caps.max_output_tokens,
            is_chat_model=True,
            is_function_calling_model=caps.tools if tools is None else tools,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    @property
    def resolved_format(self) -> str:
        """The wire format calls use: ``api_format``, with ``"auto"`` resolved by name
        (or by the model list, once the client has fetched it)."""
        return self._resolve(self.api_format)

    def _resolve(self, api_format: str) -> str:
        """The concrete format ``api_format`` means for ``model`` (unknown names raise)."""
        client = self._clients.peek_sync()
        if client is not None:
            return client.resolve_format(api_format, self.model)
        return resolve_format(api_format, self.model)

    def _structured_method(self, llm_kwargs: Mapping[str, Any] | None = None) -> StructuredMethod:
        api_format = (llm_kwargs or {}).get("api_format")
        return structured_method(
            self.capabilities,
            self.resolved_format if api_format is None else self._resolve(api_format),
            function_calling=bool(self.metadata.is_function_calling_model),
        )

    # --- clients ---

    def close(self) -> None:
        """Close the pooled sync connections (a caller's ``http_client`` stays open)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the pooled async connections (a caller's client stays open)."""
        await self._clients.aclose()

    def _call_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """What the juhe_core call takes besides the request (a call may override them).

        A call's ``api_format`` picks that call's wire format: taken out of ``kwargs``
        (never sent in the body) and checked like the field; so are a call's ``timeout``
        (this call's limit) and, for streams, ``stream_chunk_timeout``.
        """
        fallbacks = kwargs.pop("fallback_models", None)
        api_format = kwargs.pop("api_format", None)
        if api_format is not None:
            resolve_format(api_format, self.model)  # juhe_core's error for unknown formats
        return {
            "api_format": self.api_format if api_format is None else api_format,
            "fallback_models": self.fallback_models if fallbacks is None else list(fallbacks),
            "timeout": kwargs.pop("timeout", None),
        }

    def _idle_timeout(self, kwargs: dict[str, Any]) -> float | None:
        idle = kwargs.pop("stream_chunk_timeout", None)
        return self.stream_chunk_timeout if idle is None else float(idle)

    def _request(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any], api_format: str
    ) -> ChatRequest:
        own = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "reasoning_effort": self.reasoning_effort,
            "thinking_budget": self.thinking_budget,
        }
        options = {k: v for k, v in own.items() if v is not None}
        options.update(self.additional_kwargs)
        options.update(kwargs)
        request = chat_request(self.model, messages, options, strict=self.strict)
        refuse_uncarried(request, self._resolve(api_format))
        return request

    # --- chat ---

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        options = self._call_options(kwargs)
        request = self._request(messages, kwargs, options["api_format"])
        return map_result(self._clients.sync(settings_of(self)).chat(request, **options))

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        options = self._call_options(kwargs)
        request = self._request(messages, kwargs, options["api_format"])
        result = await self._clients.async_(settings_of(self)).chat(request, **options)
        return map_result(result)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        options = self._call_options(kwargs)
        idle_timeout = self._idle_timeout(kwargs)
        request = self._request(messages, kwargs, options["api_format"])
        client = self._clients.sync(settings_of(self))

        def gen() -> Generator[ChatResponse, None, None]:
            with client.chat_stream(request, idle_timeout=idle_timeout, **options) as stream:
                fold = StreamFold(request_id=stream.request_id, fallbacks=stream.fallbacks)
                for delta in stream:
                    if (chunk := fold.feed(delta)) is not None:
                        yield chunk
                yield fold.finish(stream.result)

        return gen()

    async def _astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        options = self._call_options(kwargs)
        idle_timeout = self._idle_timeout(kwargs)
        request = self._request(messages, kwargs, options["api_format"])

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            client = self._clients.async_(settings_of(self))
            stream = await client.chat_stream(request, idle_timeout=idle_timeout, **options)
            async with stream:
                fold = StreamFold(request_id=stream.request_id, fallbacks=stream.fallbacks)
                async for delta in stream:
                    if (chunk := fold.feed(delta)) is not None:
                        yield chunk
                yield fold.finish(stream.result)

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat call; the whole answer."""
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat call, async."""
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """A streamed chat call: cumulative chunks."""
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """A streamed chat call, async."""
        return await self._astream_chat(messages, **kwargs)

    # --- completion: a one-message chat ---

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Complete ``prompt`` (sent as one user message)."""
        return chat_to_completion_decorator(self._chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Complete ``prompt``, async."""
        return await achat_to_completion_decorator(self._achat)(prompt, **kwargs)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Complete ``prompt``, streamed."""
        return stream_chat_to_completion_decorator(self._stream_chat)(prompt, **kwargs)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Complete ``prompt``, streamed and async."""
        return await astream_chat_to_completion_decorator(self._astream_chat)(prompt, **kwargs)

    # --- tools ---

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: Any = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments for a call offering ``tools``."""
        messages = list(chat_history or [])  # never append to the caller's list
        if isinstance(user_msg, str):
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg))
        elif user_msg is not None:
            messages.append(user_msg)
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if tools:
            prepared["tools"] = map_tools(tools, strict=self.strict if strict is None else strict)
            prepared["tool_choice"] = map_tool_choice(tool_choice, tool_required=tool_required)
            if self.capabilities.parallel_tools:
                prepared["parallel_tool_calls"] = allow_parallel_tool_calls
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep every tool call, and say so when more came than were allowed."""
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not allow_parallel_tool_calls and len(calls) > 1:
            # Other integrations silently keep the first call; dropping calls the model
            # made would desynchronise the conversation, so all are kept.
            logger.warning(
                "%s returned %d tool calls although parallel calls were not allowed; all are kept",
                self.model,
                len(calls),
            )
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """Every tool call in ``response``, arguments parsed (partially while streaming)."""
        return tool_selections(response, error_on_no_tool_call=error_on_no_tool_call)
