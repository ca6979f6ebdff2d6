"""The ``juhe_core`` clients of one model object, made on first use.

``ChatJuhe`` and ``JuheEmbeddings`` each own one ``ClientCache``: one sync client for sync
calls, one async client for async calls. A client is rebuilt when the settings it was
made from change (a field assigned after first use), and the async client also when the
running event loop changes: pooled async connections belong to the loop that opened
them, so a second ``asyncio.run`` must not reuse them, and each async client is closed
when its loop shuts down (``AsyncJuheClient.close_when_loop_ends``). Copies and pickles of a model
start with an empty cache (a client holds sockets and locks that must not be shared).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import SecretStr
from typing_extensions import Self

from juhe_core.client import AsyncJuheClient, JuheClient
from juhe_core.settings import state_without_key

__all__ = ["ClientCache", "ClientOwner", "Connection", "connection_settings"]


def _key(settings: Mapping[str, Any], http: object, *extra: object) -> tuple[Any, ...]:
    items = tuple(
        (k, tuple(sorted(v.items())) if isinstance(v, Mapping) else v)
        for k, v in sorted(settings.items())
    )
    return (*items, id(http), *extra)


class ClientCache:
    """A sync and an async client, each made on first use and rebuilt when stale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sync: tuple[tuple[Any, ...], JuheClient] | None = None
        self._async: tuple[tuple[Any, ...], AsyncJuheClient] | None = None

    def sync(self, settings: Mapping[str, Any], http_client: httpx.Client | None) -> JuheClient:
        """The sync client for ``settings`` (``JuheClient`` keyword arguments)."""
        key = _key(settings, http_client)
        with self._lock:
            if self._sync is None or self._sync[0] != key:
                self._sync = (key, JuheClient(**settings, http_client=http_client))
            return self._sync[1]

    def async_(
        self, settings: Mapping[str, Any], http_client: httpx.AsyncClient | None
    ) -> AsyncJuheClient:
        """The async client for ``settings`` on the running event loop."""
        key = _key(settings, http_client, asyncio.get_running_loop())
        with self._lock:
            if self._async is None or self._async[0] != key:
                self._async = (key, AsyncJuheClient(**settings, http_client=http_client))
            client = self._async[1]
        client.close_when_loop_ends()
        return client

    def peek(self) -> JuheClient | AsyncJuheClient | None:
        """A client already made, if any (its model list informs ``api_format="auto"``)."""
        entry = self._sync or self._async
        return entry[1] if entry is not None else None

    def close(self) -> None:
        """Close the sync client (a caller-supplied httpx client stays open)."""
        with self._lock:
            entry, self._sync = self._sync, None
        if entry is not None:
            entry[1].close()

    async def aclose(self) -> None:
        """Close the async client (a caller-supplied httpx client stays open)."""
        with self._lock:
            entry, self._async = self._async, None
        if entry is not None:
            await entry[1].aclose()

    def __copy__(self) -> ClientCache:
        return ClientCache()

    def __deepcopy__(self, memo: dict[int, Any]) -> ClientCache:
        return ClientCache()

    def __reduce__(self) -> tuple[type[ClientCache], tuple[()]]:
        return (ClientCache, ())


class Connection(Protocol):
    """The connection fields every LangChain class of this package declares."""

    @property
    def api_key(self) -> SecretStr | None: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def timeout(self) -> Any: ...
    @property
    def max_retries(self) -> int | None: ...
    @property
    def default_headers(self) -> dict[str, str] | None: ...
    @property
    def allow_insecure_http(self) -> bool: ...


def connection_settings(obj: Connection) -> dict[str, Any]:
    """``JuheClient`` keyword arguments from a model object's current fields."""
    return {
        "api_key": obj.api_key,
        "base_url": obj.base_url,
        "timeout": obj.timeout,
        "max_retries": obj.max_retries,
        "default_headers": obj.default_headers,
        "allow_insecure_http": obj.allow_insecure_http,
    }


class ClientOwner:
    """What ``ChatJuhe`` and ``JuheEmbeddings`` share about their clients: made on first
    use from the current fields (``ClientCache``), a fresh cache for each copy, no key in
    a pickle, and ``close``/``aclose``. Mixed in before the pydantic base class."""

    if TYPE_CHECKING:
        api_key: SecretStr | None
        base_url: str | None
        timeout: Any
        max_retries: int | None
        default_headers: dict[str, str] | None
        allow_insecure_http: bool
        http_client: httpx.Client | None
        http_async_client: httpx.AsyncClient | None
        _clients: ClientCache

    def _get_client(self) -> JuheClient:
        return self._clients.sync(connection_settings(self), self.http_client)

    def _get_async_client(self) -> AsyncJuheClient:
        return self._clients.async_(connection_settings(self), self.http_async_client)

    def __copy__(self) -> Self:
        # A copy (model_copy) gets its own clients; see ClientCache.
        clone: Self = super().__copy__()  # type: ignore[misc]
        clone._clients = ClientCache()
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state without the key (an unpickled copy reads ``JUHE_API_KEY``)."""
        return state_without_key(super().__getstate__())  # type: ignore[misc]

    def close(self) -> None:
        """Close the sync client's pooled connections (your own ``http_client`` stays open)."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the async client's pooled connections (``http_async_client`` stays open)."""
        await self._clients.aclose()
