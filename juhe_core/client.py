"""``JuheClient`` and ``AsyncJuheClient``: chat, streamed chat, embeddings and the model list.

The two clients are mirror images: what to send is decided by shared functions
(``_chat_call``, ``_embed_batches``), what comes back by the codecs; each client only
drives its own I/O. One client can serve many model objects; it pools connections and
is closed with ``close()`` / ``aclose()`` or a ``with`` block. A caller-supplied
``httpx.Client`` / ``httpx.AsyncClient`` (proxies, mTLS, custom transports) is used as
given and left open for its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from juhe_core._adapt import adapt_request
from juhe_core._media_client import AsyncMediaMethods, MediaMethods
from juhe_core._sse import DEFAULT_MAX_LINE_BYTES, ServerSentEvent
from juhe_core._transport import (
    DEFAULT_MAX_BODY_BYTES,
    AsyncTransport,
    Call,
    SyncTransport,
    decode_json,
    request_id,
)
from juhe_core._validate import check_request
from juhe_core.errors import APIError, APIStatusError, ConfigurationError
from juhe_core.messages import ChatRequest, ChatResult, StreamDelta
from juhe_core.settings import DEFAULT_TIMEOUT, Settings, Timeout, as_timeout
from juhe_core.wire import ChatCodec, StreamAccumulator, codec_for, resolve_format
from juhe_core.wire.embeddings import (
    EMBEDDINGS_PATH,
    EmbeddingResult,
    check_texts,
    decode_embeddings_response,
    encode_embeddings_request,
)
from juhe_core.wire.models import MODELS_PATH, ModelInfo, decode_model_list

logger = logging.getLogger("juhe_core")


def _ignore_asyncgen(agen: AsyncGenerator[None, None]) -> None:
    """An async-generator finaliser that does nothing (see ``close_when_loop_ends``)."""


__all__ = ["AsyncChatStream", "AsyncJuheClient", "ChatStream", "JuheClient"]

DEFAULT_EMBED_BATCH = 512  # texts per request; OpenAI accepts up to 2048 inputs


def _chat_call(
    codec: ChatCodec,
    request: ChatRequest,
    *,
    stream: bool,
    idle_timeout: float | None,
    settings: Settings,
    timeout: Timeout | None = None,
) -> Call:
    call_timeout = None if timeout is None else as_timeout(timeout)
    if stream and idle_timeout is not None:
        # The read timeout bounds the gap between two chunks: an idle-stream watchdog.
        base = call_timeout or settings.timeout
        call_timeout = httpx.Timeout(
            base.connect, read=idle_timeout, write=base.write, pool=base.pool
        )
    return Call(
        "POST",
        codec.chat_path(request, stream=stream),
        body=codec.encode_chat_request(request, stream=stream),
        headers=getattr(codec, "HEADERS", {}),
        stream=stream,
        timeout=call_timeout,
    )


def _falls_back(error: APIStatusError) -> bool:
    """Whether a failed model (after its retries) should give way to the next fallback."""
    return error.status == 429 or error.status >= 500 or error.code == "model_not_found"


def _with_fallbacks(result: ChatResult, failed: Sequence[str]) -> ChatResult:
    return dataclasses.replace(result, fallbacks=tuple(failed)) if failed else result


Plan = tuple[str, ChatCodec, Call, bool]


def _plans(
    client: _Base,
    request: ChatRequest,
    api_format: str,
    fallback_models: Sequence[str],
    *,
    stream: bool,
    idle_timeout: float | None,
    timeout: Timeout | None = None,
) -> Iterator[Plan]:
    """One (model, codec, call, is_last) per model to try: the request's, then fallbacks.

    Built lazily, so a fallback's format is only resolved if it is needed.
    """
    check_request(request)
    models = [request.model, *fallback_models]
    for i, model in enumerate(models):
        req = request if model == request.model else dataclasses.replace(request, model=model)
        fmt = client.resolve_format(api_format, model)
        codec = codec_for(fmt)
        call = _chat_call(
            codec,
            adapt_request(req, fmt),
            stream=stream,
            idle_timeout=idle_timeout,
            settings=client.settings,
            timeout=timeout,
        )
        yield model, codec, call, i == len(models) - 1


def _embed_batches(texts: Sequence[str], batch_size: int | None) -> list[Sequence[str]]:
    check_texts(texts)  # all of them, before the first batch is sent
    size = batch_size or DEFAULT_EMBED_BATCH
    if size < 1:
        raise ConfigurationError(f"batch_size must be >= 1, got {size!r}")
    return [texts[i : i + size] for i in range(0, len(texts), size)]


def _merge(results: Sequence[EmbeddingResult]) -> EmbeddingResult:
    vectors = [v for r in results for v in r.vectors]
    model = next((r.model for r in results if r.model), None)
    return EmbeddingResult(vectors, model, sum(r.prompt_tokens for r in results))


class ChatStream:
    """A streamed chat answer: iterate for ``StreamDelta``s; ``result`` is set at the end.

    The stream's end is checked: a missing ``[DONE]`` or finish reason raises StreamError
    instead of leaving a short answer. ``close()`` (or leaving a ``with`` block, or
    breaking out of a ``for`` loop over it) closes the HTTP response at once.
    """

    def __init__(
        self,
        events: Iterator[ServerSentEvent],
        accumulator: StreamAccumulator,
        request_id: str | None,
        fallbacks: tuple[str, ...] = (),
    ) -> None:
        self.request_id = request_id
        """The relay's request id."""
        self.fallbacks = fallbacks
        """Models tried first that failed before this stream started."""
        self._box: list[ChatResult] = []
        # The generator must not reference self: a cycle would keep the response open
        # after a ``break`` until the cyclic garbage collector ran.
        self._iter = _run_sync(events, accumulator, self._box)
        self._events = events

    @property
    def result(self) -> ChatResult | None:
        """The whole answer, once the stream ended properly."""
        return _with_fallbacks(self._box[0], self.fallbacks) if self._box else None

    def __iter__(self) -> Iterator[StreamDelta]:
        return self._iter

    def __next__(self) -> StreamDelta:
        return next(self._iter)

    def close(self) -> None:
        """Stop reading and close the response, whether or not it was read."""
        try:
            self._iter.close()
        finally:
            # An unstarted generator skips its finally on close(): close the events too.
            close = getattr(self._events, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_sync(
    events: Iterator[ServerSentEvent], acc: StreamAccumulator, box: list[ChatResult]
) -> Generator[StreamDelta, None, None]:
    try:
        for event in events:
            yield from acc.feed(event)
        box.append(acc.finish())
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


async def _run_async(
    events: AsyncIterator[ServerSentEvent], acc: StreamAccumulator, box: list[ChatResult]
) -> AsyncGenerator[StreamDelta, None]:
    try:
        async for event in events:
            for delta in acc.feed(event):
                yield delta
        box.append(acc.finish())
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


class AsyncChatStream:
    """The async twin of ``ChatStream``: ``async for`` deltas; ``aclose()`` to stop."""

    def __init__(
        self,
        events: AsyncIterator[ServerSentEvent],
        accumulator: StreamAccumulator,
        request_id: str | None,
        fallbacks: tuple[str, ...] = (),
    ) -> None:
        self.request_id = request_id
        """The relay's request id."""
        self.fallbacks = fallbacks
        """Models tried first that failed before this stream started."""
        self._box: list[ChatResult] = []
        self._iter = _run_async(events, accumulator, self._box)
        self._events = events

    @property
    def result(self) -> ChatResult | None:
        """The whole answer, once the stream ended properly."""
        return _with_fallbacks(self._box[0], self.fallbacks) if self._box else None

    def __aiter__(self) -> AsyncIterator[StreamDelta]:
        return self._iter

    async def __anext__(self) -> StreamDelta:
        return await self._iter.__anext__()

    async def aclose(self) -> None:
        """Stop reading, close the response and free its in-flight place, whether or not
        it was read."""
        try:
            await self._iter.aclose()
        finally:
            # An unstarted generator skips its finally on aclose(): close the events too.
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Base:
    settings: Settings
    _endpoint_types: dict[str, tuple[str, ...]] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    def resolve_format(self, api_format: str, model: str) -> str:
        """The concrete wire format for a call; ``"auto"`` uses the cached model list
        when it knows the model, else the name family.

        The list is fetched once per client (``GET /v1/models``), by the first ``"auto"``
        chat call or by ``list_models``; if that fetch fails, names decide from then on.
        """
        types = (self._endpoint_types or {}).get(model)
        return resolve_format(api_format, model, types)

    def _remember(self, models: list[ModelInfo]) -> list[ModelInfo]:
        self._endpoint_types = {m.id: m.supported_endpoint_types for m in models}
        return models

    def _list_failed(self, exc: APIError) -> None:
        # The chat call itself will surface a real problem (a bad key, no network); a
        # relay that just will not list models leaves "auto" to the name families.
        self._endpoint_types = {}
        logger.warning(
            'api_format="auto": the model list could not be read (%s); formats are '
            "chosen by model name",
            type(exc).__name__,
        )


def _settings(settings: Settings | None, **kwargs: Any) -> Settings:
    if settings is not None:
        return settings
    return Settings.resolve(**kwargs)


class JuheClient(MediaMethods, _Base):
    """Synchronous Juhe client on ``httpx.Client``.

    Example:
        >>> from juhe_core import JuheClient, ChatRequest, Message
        >>> with JuheClient() as client:  # doctest: +SKIP
        ...     result = client.chat(ChatRequest("gpt-4o-mini", [Message.text("user", "Hi")]))
        ...     print(result.text)
    """

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | tuple[float, float] | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        allow_insecure_http: bool = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        settings: Settings | None = None,
    ) -> None:
        self.settings = _settings(
            settings,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            allow_insecure_http=allow_insecure_http,
        )
        self._transport = SyncTransport(
            self.settings, http_client, max_line_bytes=max_line_bytes, max_body_bytes=max_body_bytes
        )

    def chat(
        self,
        request: ChatRequest,
        *,
        api_format: str = "openai",
        fallback_models: Sequence[str] = (),
        timeout: Timeout | None = None,
    ) -> ChatResult:
        """One chat call; the whole answer.

        ``fallback_models`` are tried in order when a model still fails with 429, 5xx or
        ``model_not_found`` after its retries; ``result.fallbacks`` names those that failed.
        ``timeout`` replaces the client's timeout for this call (None: the client's).
        """
        response, codec, failed = self._send_chat(
            request, api_format, fallback_models, stream=False, idle_timeout=None, timeout=timeout
        )
        result = codec.decode_chat_response(decode_json(response), request_id=request_id(response))
        return _with_fallbacks(result, failed)

    def chat_stream(
        self,
        request: ChatRequest,
        *,
        api_format: str = "openai",
        idle_timeout: float | None = None,
        fallback_models: Sequence[str] = (),
        timeout: Timeout | None = None,
    ) -> ChatStream:
        """One streamed chat call. ``idle_timeout``: most seconds to wait between two
        events (keep-alive comments do not count), else APITimeoutError.

        Fallbacks (see ``chat``) apply until the stream has started, never after.
        """
        response, codec, failed = self._send_chat(
            request,
            api_format,
            fallback_models,
            stream=True,
            idle_timeout=idle_timeout,
            timeout=timeout,
        )
        rid = request_id(response)
        return ChatStream(
            self._transport.events(response, idle_timeout),
            codec.new_accumulator(request_id=rid),
            rid,
            tuple(failed),
        )

    def _send_chat(
        self,
        request: ChatRequest,
        api_format: str,
        fallback_models: Sequence[str],
        *,
        stream: bool,
        idle_timeout: float | None,
        timeout: Timeout | None,
    ) -> tuple[httpx.Response, ChatCodec, list[str]]:
        """The first answer of ``request``'s model or a fallback, its codec, and the
        models that failed before it."""
        failed: list[str] = []
        if api_format == "auto" and self._endpoint_types is None:
            self._load_model_list()
        for model, codec, call, last in _plans(
            self,
            request,
            api_format,
            fallback_models,
            stream=stream,
            idle_timeout=idle_timeout,
            timeout=timeout,
        ):
            try:
                return self._transport.send(call), codec, failed
            except APIStatusError as exc:
                if last or not _falls_back(exc):
                    raise
                failed.append(model)
        raise AssertionError("unreachable: the last plan returns or raises")

    def embed(
        self,
        texts: Sequence[str],
        *,
        model: str,
        dimensions: int | None = None,
        batch_size: int | None = None,
        encoding_format: Literal["base64", "float"] = "base64",
        extra_body: Mapping[str, Any] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> EmbeddingResult:
        """Embed ``texts`` (in batches of ``batch_size``); vectors in input order.

        ``on_batch(n)`` is called after each batch with the number of texts it embedded
        (for progress bars).
        """
        results = []
        for batch in _embed_batches(texts, batch_size):
            body = encode_embeddings_request(
                batch,
                model=model,
                dimensions=dimensions,
                encoding_format=encoding_format,
                extra_body=extra_body,
            )
            response = self._transport.send(Call("POST", EMBEDDINGS_PATH, body=body))
            results.append(decode_embeddings_response(decode_json(response), expected=len(batch)))
            if on_batch is not None:
                on_batch(len(batch))
        return _merge(results)

    def list_models(self) -> list[ModelInfo]:
        """The models this key may use (``GET /v1/models``); cached for ``api_format="auto"``."""
        response = self._transport.send(Call("GET", MODELS_PATH))
        return self._remember(decode_model_list(decode_json(response)))

    def _load_model_list(self) -> None:
        try:
            self.list_models()
        except APIError as exc:
            self._list_failed(exc)

    @property
    def http_client(self) -> httpx.Client:
        """The underlying httpx client."""
        return self._transport.http

    def close(self) -> None:
        """Close pooled connections (a caller-supplied http_client is left open)."""
        self._transport.close()

    def __enter__(self) -> JuheClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncJuheClient(AsyncMediaMethods, _Base):
    """Asynchronous Juhe client on ``httpx.AsyncClient``; the twin of ``JuheClient``."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | tuple[float, float] | None = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        allow_insecure_http: bool = False,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        settings: Settings | None = None,
    ) -> None:
        self.settings = _settings(
            settings,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            allow_insecure_http=allow_insecure_http,
        )
        self._transport = AsyncTransport(
            self.settings, http_client, max_line_bytes=max_line_bytes, max_body_bytes=max_body_bytes
        )
        self._loop_guard: tuple[asyncio.AbstractEventLoop, AsyncGenerator[None, None]] | None = None

    async def chat(
        self,
        request: ChatRequest,
        *,
        api_format: str = "openai",
        fallback_models: Sequence[str] = (),
        timeout: Timeout | None = None,
    ) -> ChatResult:
        """One chat call; the whole answer. ``fallback_models``, ``timeout``: see
        ``JuheClient.chat``."""
        response, codec, failed = await self._send_chat(
            request, api_format, fallback_models, stream=False, idle_timeout=None, timeout=timeout
        )
        result = codec.decode_chat_response(decode_json(response), request_id=request_id(response))
        return _with_fallbacks(result, failed)

    async def chat_stream(
        self,
        request: ChatRequest,
        *,
        api_format: str = "openai",
        idle_timeout: float | None = None,
        fallback_models: Sequence[str] = (),
        timeout: Timeout | None = None,
    ) -> AsyncChatStream:
        """One streamed chat call. ``idle_timeout``: most seconds to wait between two
        events (keep-alive comments do not count), else APITimeoutError.

        Fallbacks (see ``JuheClient.chat``) apply until the stream has started.
        """
        response, codec, failed = await self._send_chat(
            request,
            api_format,
            fallback_models,
            stream=True,
            idle_timeout=idle_timeout,
            timeout=timeout,
        )
        rid = request_id(response)
        return AsyncChatStream(
            self._transport.events(response, idle_timeout),
            codec.new_accumulator(request_id=rid),
            rid,
            tuple(failed),
        )

    async def _send_chat(
        self,
        request: ChatRequest,
        api_format: str,
        fallback_models: Sequence[str],
        *,
        stream: bool,
        idle_timeout: float | None,
        timeout: Timeout | None,
    ) -> tuple[httpx.Response, ChatCodec, list[str]]:
        """See ``JuheClient._send_chat``."""
        failed: list[str] = []
        if api_format == "auto" and self._endpoint_types is None:
            await self._load_model_list()
        for model, codec, call, last in _plans(
            self,
            request,
            api_format,
            fallback_models,
            stream=stream,
            idle_timeout=idle_timeout,
            timeout=timeout,
        ):
            try:
                return await self._transport.send(call), codec, failed
            except APIStatusError as exc:
                if last or not _falls_back(exc):
                    raise
                failed.append(model)
        raise AssertionError("unreachable: the last plan returns or raises")

    async def embed(
        self,
        texts: Sequence[str],
        *,
        model: str,
        dimensions: int | None = None,
        batch_size: int | None = None,
        max_concurrency: int = 4,
        encoding_format: Literal["base64", "float"] = "base64",
        extra_body: Mapping[str, Any] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> EmbeddingResult:
        """Embed ``texts`` in batches, at most ``max_concurrency`` requests at once;
        vectors in input order. ``on_batch(n)`` is called as each batch completes."""
        gate = asyncio.Semaphore(max(1, max_concurrency))
        batches = _embed_batches(texts, batch_size)
        bodies = [
            encode_embeddings_request(
                b,
                model=model,
                dimensions=dimensions,
                encoding_format=encoding_format,
                extra_body=extra_body,
            )
            for b in batches
        ]

        async def one(body: dict[str, Any], expected: int) -> EmbeddingResult:
            async with gate:
                response = await self._transport.send(Call("POST", EMBEDDINGS_PATH, body=body))
            result = decode_embeddings_response(decode_json(response), expected=expected)
            if on_batch is not None:
                on_batch(expected)
            return result

        results = await asyncio.gather(
            *(one(b, len(t)) for b, t in zip(bodies, batches, strict=True))
        )
        return _merge(results)

    async def list_models(self) -> list[ModelInfo]:
        """The models this key may use (``GET /v1/models``); cached for ``api_format="auto"``."""
        response = await self._transport.send(Call("GET", MODELS_PATH))
        return self._remember(decode_model_list(decode_json(response)))

    async def _load_model_list(self) -> None:
        try:
            await self.list_models()
        except APIError as exc:
            self._list_failed(exc)

    @property
    def http_client(self) -> httpx.AsyncClient:
        """The underlying httpx client."""
        return self._transport.http

    async def aclose(self) -> None:
        """Close pooled connections (a caller-supplied http_client is left open)."""
        await self._transport.aclose()

    def close_when_loop_ends(self) -> None:
        """Close this client when the running event loop shuts down; idempotent per loop.

        Pooled async connections belong to the loop that opened them, and a model object
        outlives ``asyncio.run``: without this, every finished loop leaves sockets for the
        garbage collector (an "unclosed transport" ResourceWarning each). ``asyncio.run``,
        ``asyncio.Runner``, uvicorn and pytest-asyncio all finalise the async generators
        first iterated on a loop before closing it; a generator parked at its ``yield``,
        whose ``finally`` awaits ``aclose``, rides on that. A loop that is never shut down
        (a notebook's) keeps the client open, as it should.
        """
        loop = asyncio.get_running_loop()
        if self._loop_guard is not None and self._loop_guard[0] is loop:
            return

        async def guard() -> AsyncGenerator[None, None]:
            try:
                yield
            finally:
                await self.aclose()

        parked = guard()
        # Run it to its yield: the loop's first-iteration hook registers it now, and
        # nothing is awaited before the yield, so no scheduling is needed. Its finaliser
        # is a no-op: a guard collected with its (unclosed) client must not make the loop
        # schedule an aclose task from inside the garbage collector; that task ran in the
        # middle of other code on the same loop and stalled other clients' requests.
        hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=_ignore_asyncgen)
        try:
            with contextlib.suppress(StopIteration):
                parked.__anext__().send(None)
        finally:
            sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=hooks.finalizer)
        self._loop_guard = (loop, parked)

    async def __aenter__(self) -> AsyncJuheClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
