"""``JuheEmbedding``: the LlamaIndex ``BaseEmbedding`` for Juhe's ``/v1/embeddings``.

Any model name is accepted (``text-embedding-3-*``, ``bge-m3``, whatever the relay
serves): the name is sent unchanged. LlamaIndex batches texts by ``embed_batch_size``
and, in async batch calls, runs at most ``num_workers`` batches at once; each batch is
one ``JuheClient.embed`` request, vectors in input order.

``show_progress=True`` (on ``get_text_embedding_batch``, and so on
``VectorStoreIndex.from_documents``) shows one bar that advances as each request comes
back, counted in texts, through juhe_core's ``on_batch`` hook, in place of LlamaIndex's
bar, which advances as texts are queued (sync) or counts batches (async).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

import httpx
import llama_index.core.instrumentation as instrument
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, SecretStr
from llama_index.core.callbacks import CallbackManager

from juhe_core.settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Settings, state_without_key
from juhe_core.wire.embeddings import EmbeddingResult
from llama_index_juhe._clients import Clients, refuse_unknown, settings_of
from llama_index_juhe.usage import EmbeddingUsageEvent

__all__ = ["DEFAULT_EMBEDDING_MODEL", "DEFAULT_EMBED_BATCH_SIZE", "JuheEmbedding"]

DEFAULT_EMBEDDING_MODEL = "text-embedding-3-small"
# JuheEmbeddings' (LangChain) names for settings JuheEmbedding spells differently.
_RENAMED: Final[Mapping[str, str]] = {
    "base_url": "api_base",
    "http_async_client": "async_http_client",
    "chunk_size": "embed_batch_size",
    "max_concurrency": "num_workers",
    "show_progress_bar": "show_progress= on get_text_embedding_batch",
}
DEFAULT_EMBED_BATCH_SIZE = 100  # as llama-index-embeddings-openai; the API takes up to 2048
# core re-exports get_dispatcher without listing it in __all__, hence the ignore.
dispatcher = instrument.get_dispatcher(__name__)  # type: ignore[attr-defined]
PROGRESS_DESCRIPTION = "Generating embeddings"  # LlamaIndex's own bar's label

# The running batch call's progress hook. A context variable, not an attribute: one
# embedding object may serve several batch calls at once (threads, async tasks), and
# asyncio copies it into the tasks LlamaIndex gathers.
_on_batch: ContextVar[Callable[[int], None] | None] = ContextVar("_on_batch", default=None)


@contextmanager
def _progress(total: int, show: bool) -> Iterator[None]:
    """A progress bar over ``total`` texts, advanced by ``_on_batch`` while inside."""
    if not show:
        yield
        return
    from tqdm.auto import tqdm  # a llama-index-core dependency

    with tqdm(total=total, desc=PROGRESS_DESCRIPTION) as bar:

        def advance(n: int) -> None:
            bar.update(n)

        token = _on_batch.set(advance)
        try:
            yield
            if bar.n < total:  # texts served from LlamaIndex's embeddings cache
                bar.update(total - bar.n)
        finally:
            _on_batch.reset(token)


class JuheEmbedding(BaseEmbedding):
    """Text embeddings served by Juhe, as a LlamaIndex embedding model.

    Example:
        >>> from llama_index_juhe import JuheEmbedding
        >>> embed = JuheEmbedding(model_name="text-embedding-3-small")  # doctest: +SKIP
        >>> vector = embed.get_text_embedding("hello")  # doctest: +SKIP

    Key arguments:
        model_name (or ``model``): the embedding model, any name.
        dimensions: shorter vectors, for models that support it (``text-embedding-3-*``).
        api_key / api_base: default to ``JUHE_API_KEY`` / ``JUHE_BASE_URL``.
        embed_batch_size, num_workers: texts per request; concurrent async requests.
        allow_insecure_http: send the key over plain ``http://`` to a host that is not
            loopback (refused by default).
    """

    # Validation errors never echo their input: it may hold the key.
    model_config = ConfigDict(hide_input_in_errors=True)

    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="The Juhe API key (sk-...)."
    )
    api_base: str = Field(description="The root URL of the Juhe API.")
    dimensions: int | None = Field(default=None, gt=0, description="Vector length, if set.")
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0, description="Seconds per request.")
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0, description="Retries.")
    default_headers: dict[str, str] | None = Field(
        default=None, description="Headers sent with every request."
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="Allow the key over plain http:// to a host that is not loopback.",
    )

    _clients: Clients = PrivateAttr(default_factory=Clients)

    def __init__(
        self,
        model_name: str | None = None,
        *,
        model: str | None = None,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        embed_batch_size: int = DEFAULT_EMBED_BATCH_SIZE,
        allow_insecure_http: bool = False,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        if model_name and model and model_name != model:
            raise ValueError(f"model_name={model_name!r} and model={model!r} disagree")
        refuse_unknown(type(self), kwargs, _RENAMED)
        settings = Settings.resolve(
            api_key=api_key, base_url=api_base, timeout=timeout, max_retries=max_retries
        )
        # Passed as a dict: mypy sees the base class __init__, not this model's fields.
        fields: dict[str, Any] = {
            "model_name": model_name or model or DEFAULT_EMBEDDING_MODEL,
            "api_key": settings.api_key,
            "api_base": settings.base_url,
            "timeout": timeout,
            "max_retries": max_retries,
            "embed_batch_size": embed_batch_size,
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
        return "JuheEmbedding"

    def _embed(self, texts: list[str]) -> list[Embedding]:
        result = self._clients.sync(settings_of(self)).embed(
            texts,
            model=self.model_name,
            dimensions=self.dimensions,
            batch_size=self.embed_batch_size,
            on_batch=_on_batch.get(),
        )
        return self._report(result)

    async def _aembed(self, texts: list[str]) -> list[Embedding]:
        result = await self._clients.async_(settings_of(self)).embed(
            texts,
            model=self.model_name,
            dimensions=self.dimensions,
            batch_size=self.embed_batch_size,
            max_concurrency=self.num_workers or 1,
            on_batch=_on_batch.get(),
        )
        return self._report(result)

    def _report(self, result: EmbeddingResult) -> list[Embedding]:
        """The vectors, after telling instrumentation the tokens (``JuheUsageHandler``)."""
        dispatcher.event(
            EmbeddingUsageEvent(
                model=result.model or self.model_name, prompt_tokens=result.prompt_tokens
            )
        )
        return result.vectors

    def get_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Embed ``texts`` in batches of ``embed_batch_size``; a progress bar if asked."""
        with _progress(len(texts), show_progress):
            return super().get_text_embedding_batch(texts, show_progress=False, **kwargs)

    async def aget_text_embedding_batch(
        self, texts: list[str], show_progress: bool = False, **kwargs: Any
    ) -> list[Embedding]:
        """Embed ``texts`` in batches, ``num_workers`` at once; a progress bar if asked."""
        with _progress(len(texts), show_progress):
            return await super().aget_text_embedding_batch(texts, show_progress=False, **kwargs)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._aembed([query]))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aembed([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self._aembed(texts)

    def close(self) -> None:
        """Close the pooled sync connections (a caller's ``http_client`` stays open)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the pooled async connections (a caller's client stays open)."""
        await self._clients.aclose()
