"""``JuheEmbeddings``: LangChain embeddings through the Juhe relay (``/v1/embeddings``)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from langchain_core.embeddings import Embeddings
from langchain_core.utils import from_env, secret_from_env
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from juhe_core.client import AsyncJuheClient, JuheClient
from juhe_core.errors import UnsupportedFeatureError
from juhe_core.settings import DEFAULT_TIMEOUT

__all__ = ["JuheEmbeddings"]


def _check_texts(texts: Any) -> list[str]:
    # A lone string would be embedded character by character: refuse it clearly.
    if isinstance(texts, (str, bytes)):
        raise UnsupportedFeatureError(
            "embed_documents takes a list of strings; use embed_query for one string"
        )
    return list(texts)


class JuheEmbeddings(BaseModel, Embeddings):
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
    chunk_size: int = Field(default=512, ge=1)
    """Inputs per request (OpenAI-style upstreams accept up to 2048)."""
    max_concurrency: int = Field(default=4, ge=1)
    """Requests in flight at once in ``aembed_documents``."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env("JUHE_API_KEY", default=None))
    """API key; defaults to ``JUHE_API_KEY``."""
    base_url: str | None = Field(default_factory=from_env("JUHE_BASE_URL", default=None))
    """Root URL; defaults to ``JUHE_BASE_URL``, else ``https://api.juheai.top``."""
    timeout: float | None = DEFAULT_TIMEOUT
    """Seconds per request; None waits forever."""
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

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True, extra="forbid")

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _client: JuheClient | None = PrivateAttr(default=None)
    _async_client: tuple[asyncio.AbstractEventLoop, AsyncJuheClient] | None = PrivateAttr(
        default=None
    )

    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "default_headers": self.default_headers,
            "allow_insecure_http": self.allow_insecure_http,
        }

    def _get_client(self) -> JuheClient:
        with self._lock:
            if self._client is None:
                self._client = JuheClient(**self._client_kwargs(), http_client=self.http_client)
            return self._client

    def _get_async_client(self) -> AsyncJuheClient:
        # Pooled async connections belong to one event loop (see ChatJuhe).
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._async_client is None or self._async_client[0] is not loop:
                client = AsyncJuheClient(
                    **self._client_kwargs(), http_client=self.http_async_client
                )
                self._async_client = (loop, client)
            return self._async_client[1]

    def close(self) -> None:
        """Close the sync client's pooled connections (your own ``http_client`` stays open)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the async client's pooled connections (``http_async_client`` stays open)."""
        with self._lock:
            entry, self._async_client = self._async_client, None
        if entry is not None:
            await entry[1].aclose()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts; one vector per text, in order. ``[]`` gives ``[]``."""
        texts = _check_texts(texts)
        if not texts:
            return []
        result = self._get_client().embed(
            texts, model=self.model, dimensions=self.dimensions, batch_size=self.chunk_size
        )
        return result.vectors

    def embed_query(self, text: str) -> list[float]:
        """Embed one text."""
        if not isinstance(text, str):
            raise UnsupportedFeatureError(f"embed_query takes a str, not {type(text).__name__}")
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed texts with up to ``max_concurrency`` requests in flight."""
        texts = _check_texts(texts)
        if not texts:
            return []
        result = await self._get_async_client().embed(
            texts,
            model=self.model,
            dimensions=self.dimensions,
            batch_size=self.chunk_size,
            max_concurrency=self.max_concurrency,
        )
        return result.vectors

    async def aembed_query(self, text: str) -> list[float]:
        """Embed one text (async)."""
        if not isinstance(text, str):
            raise UnsupportedFeatureError(f"embed_query takes a str, not {type(text).__name__}")
        return (await self.aembed_documents([text]))[0]
