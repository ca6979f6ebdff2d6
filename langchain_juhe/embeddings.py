"""``JuheEmbeddings``: LangChain embeddings through the Juhe relay (``/v1/embeddings``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from langchain_core.embeddings import Embeddings
from langchain_core.utils import from_env, get_pydantic_field_names, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.settings import DEFAULT_TIMEOUT
from langchain_juhe._clients import ClientCache, ClientOwner
from langchain_juhe._peer_names import rename_peer_names

__all__ = ["JuheEmbeddings"]


@contextlib.contextmanager
def _progress(total: int, show: bool) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar advanced per finished request, or nothing when ``show`` is False."""
    if not show:
        yield None
        return
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:  # the same message langchain-openai gives
        raise ImportError("show_progress_bar=True needs tqdm: pip install tqdm") from exc
    bar = tqdm(total=total, unit="text", desc="Embedding")

    def advance(n: int) -> None:
        bar.update(n)

    try:
        yield advance
    finally:
        bar.close()


def _check_texts(texts: Any) -> list[str]:
    # A lone string would be embedded character by character: refuse it clearly.
    if isinstance(texts, (str, bytes)):
        raise UnsupportedFeatureError(
            "embed_documents takes a list of strings; use embed_query for one string"
        )
    return list(texts)


class JuheEmbeddings(ClientOwner, BaseModel, Embeddings):
    """Text embeddings served by the Juhe (JuheNext) relay.

    Always sends plain strings (never token arrays, which many upstreams behind the relay
    reject) and asks for base64 vectors, decoding floats too when an upstream ignores
    that. Inputs are sent ``chunk_size`` per request; vectors come back in input order.

    Setup:
        .. code-block:: bash

            pip install "juhe-integrations[langchain]"
            export JUHE_API_KEY="sk-..."

    Key init args:
        model: str
            Embedding model (default ``text-embedding-3-small``).
        dimensions: int | None
            Output size, for models that can shorten their vectors.
        chunk_size: int
            Inputs per request.
        max_concurrency: int
            Requests in flight at once in ``aembed_documents``.
        api_key, base_url, timeout, max_retries, default_headers,
        http_client, http_async_client: as for ``ChatJuhe``.

    Instantiate and use:
        .. code-block:: python

            from langchain_juhe import JuheEmbeddings

            embeddings = JuheEmbeddings(model="text-embedding-3-small")
            vectors = embeddings.embed_documents(["hello", "world"])
            query = embeddings.embed_query("greeting")
            vectors = await embeddings.aembed_documents(["hello", "world"])
    """

    model: str = Field(default="text-embedding-3-small", alias="model_name")
    """Embedding model name, sent unchanged."""
    dimensions: int | None = None
    """Output dimensions (``text-embedding-3-*`` can shorten vectors)."""
    chunk_size: int = Field(default=1000, ge=1)
    """Inputs per request (OpenAI-style upstreams accept up to 2048; 1000 as OpenAIEmbeddings)."""
    max_concurrency: int = Field(default=4, ge=1)
    """Requests in flight at once in ``aembed_documents``."""
    show_progress_bar: bool = False
    """Show a tqdm progress bar that advances as each request comes back (needs tqdm)."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env("JUHE_API_KEY", default=None))
    """API key; defaults to ``JUHE_API_KEY``."""
    base_url: str | None = Field(default_factory=from_env("JUHE_BASE_URL", default=None))
    """Root URL; defaults to ``JUHE_BASE_URL``, else ``https://api.juheai.top``."""
    timeout: float | httpx.Timeout | tuple[float, float] | None = DEFAULT_TIMEOUT
    """Seconds per request, an ``httpx.Timeout``, or a ``(connect, read)`` tuple; None
    waits forever."""
    max_retries: int | None = None
    """Retries of failed requests (default 2; 0 disables)."""
    default_headers: dict[str, str] | None = None
    """Headers sent with every request."""
    allow_insecure_http: bool = False
    """Allow sending the key over plain ``http://`` to a host that is not loopback."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` for sync calls."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Your own ``httpx.AsyncClient`` for async calls."""

    model_config = ConfigDict(
        populate_by_name=True,
        arbitrary_types_allowed=True,
        extra="forbid",
        hide_input_in_errors=True,  # errors never echo the input: it may hold the key
    )

    _clients: ClientCache = PrivateAttr(default_factory=ClientCache)

    @model_validator(mode="before")
    @classmethod
    def _peer_names(cls, values: Any) -> Any:
        """OpenAIEmbeddings' spellings (``openai_api_key``, ``openai_api_base``,
        ``request_timeout``) are renamed; ``check_embedding_ctx_length=False`` is accepted
        (we never tokenise: texts are always sent as strings); other unknown keywords fail."""
        if not isinstance(values, dict):
            return values
        values = dict(values)
        if values.get("check_embedding_ctx_length", False) is False:
            values.pop("check_embedding_ctx_length", None)
        else:
            raise ValueError(
                "check_embedding_ctx_length=True is not supported: texts are sent as strings, "
                "never split into tokens"
            )
        return rename_peer_names(values, get_pydantic_field_names(cls), "JuheEmbeddings")

    def embed_documents(self, texts: list[str], chunk_size: int | None = None) -> list[list[float]]:
        """Embed texts; one vector per text, in order. ``[]`` gives ``[]``.

        ``chunk_size``: inputs per request for this call (default: the field), as in
        ``OpenAIEmbeddings.embed_documents``.
        """
        texts = _check_texts(texts)
        if not texts:
            return []
        with _progress(len(texts), self.show_progress_bar) as on_batch:
            result = self._get_client().embed(
                texts,
                model=self.model,
                dimensions=self.dimensions,
                batch_size=_chunk_size(chunk_size, self.chunk_size),
                on_batch=on_batch,
            )
        return result.vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one text."""
        if not isinstance(text, str):
            raise UnsupportedFeatureError(f"embed_query takes a str, not {type(text).__name__}")
        return self.embed_documents([text])[0]

    async def aembed_documents(
        self, texts: list[str], chunk_size: int | None = None
    ) -> list[list[float]]:
        """Embed texts with up to ``max_concurrency`` requests in flight (``chunk_size``:
        see ``embed_documents``)."""
        texts = _check_texts(texts)
        if not texts:
            return []
        with _progress(len(texts), self.show_progress_bar) as on_batch:
            result = await self._get_async_client().embed(
                texts,
                model=self.model,
                dimensions=self.dimensions,
                batch_size=_chunk_size(chunk_size, self.chunk_size),
                max_concurrency=self.max_concurrency,
                on_batch=on_batch,
            )
        return result.vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Embed one text (async)."""
        if not isinstance(text, str):
            raise UnsupportedFeatureError(f"embed_query takes a str, not {type(text).__name__}")
        return (await self.aembed_documents([text]))[0]


def _chunk_size(per_call: int | None, default: int) -> int:
    if per_call is None:
        return default
    if isinstance(per_call, bool) or not isinstance(per_call, int) or per_call < 1:
        raise UnsupportedFeatureError(f"chunk_size must be an int >= 1, got {per_call!r}")
    return per_call
