"""The lazily created juhe_core clients behind one LlamaIndex object.

``Juhe``, ``JuheEmbedding`` and ``JuheToolSpec`` each hold one ``Clients``: a
``JuheClient`` made on the first sync call and an ``AsyncJuheClient`` made on the first
async call, both built from the object's fields at that moment and reused after.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, SecretStr

from juhe_core.client import AsyncJuheClient, JuheClient
from juhe_core.settings import Settings

__all__ = ["Clients", "ConnectionFields", "refuse_unknown", "settings_of"]


class Clients:
    """One sync and one async client, made on first use.

    Creation is guarded by a lock: two threads making the first call at once (a
    ``ThreadPoolExecutor`` over one ``Juhe``) would otherwise each build a client and one
    of them, never closed, would leak its pool.

    Pooled async connections belong to the event loop that opened them, so a call from
    a new loop (a second ``asyncio.run``) gets a new async client, and each is closed
    when its loop shuts down (``AsyncJuheClient.close_when_loop_ends``). A caller-supplied
    ``httpx`` client is always used as given and never closed here.
    """

    def __init__(
        self,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._client: JuheClient | None = None
        self._aclient: AsyncJuheClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def sync(self, settings: Settings) -> JuheClient:
        """The sync client (``settings`` are used when it is first made)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = JuheClient(settings=settings, http_client=self._http_client)
                client = self._client
        return client

    def peek_sync(self) -> JuheClient | None:
        """The sync client if one was made (its cached model list informs ``auto``)."""
        return self._client

    def async_(self, settings: Settings) -> AsyncJuheClient:
        """The async client for the running loop (``settings`` used when one is made)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._aclient is None or self._stale(loop):
                self._aclient = AsyncJuheClient(
                    settings=settings, http_client=self._async_http_client
                )
            self._loop = loop
            aclient = self._aclient
        aclient.close_when_loop_ends()
        return aclient

    def unbound_async(self, settings: Settings) -> AsyncJuheClient:
        """The async client, made outside any loop if need be; the first loop to use it
        through ``async_`` adopts it."""
        with self._lock:
            if self._aclient is None:
                self._aclient = AsyncJuheClient(
                    settings=settings, http_client=self._async_http_client
                )
            return self._aclient

    def _stale(self, loop: asyncio.AbstractEventLoop) -> bool:
        # A caller's httpx client is theirs to manage; ours is tied to the loop it ran on.
        return self._async_http_client is None and self._loop is not None and self._loop is not loop

    def close(self) -> None:
        """Close the sync client's pooled connections."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        """Close the async client's pooled connections."""
        with self._lock:
            aclient, self._aclient, self._loop = self._aclient, None, None
        if aclient is not None:
            await aclient.aclose()

    def __getstate__(self) -> dict[str, Any]:
        # Sockets, locks and loops do not cross processes: a copy starts without clients.
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]


class ConnectionFields(Protocol):
    """The connection fields ``Juhe`` and ``JuheEmbedding`` share."""

    @property
    def api_key(self) -> SecretStr | None: ...
    @property
    def api_base(self) -> str: ...
    @property
    def timeout(self) -> float: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def default_headers(self) -> Mapping[str, str] | None: ...
    @property
    def allow_insecure_http(self) -> bool: ...


def settings_of(obj: ConnectionFields) -> Settings:
    """juhe_core settings from a model object's current fields."""
    return Settings.resolve(
        api_key=obj.api_key,
        base_url=obj.api_base,
        timeout=obj.timeout,
        max_retries=obj.max_retries,
        default_headers=obj.default_headers,
        allow_insecure_http=obj.allow_insecure_http,
    )


def refuse_unknown(
    cls: type[BaseModel], kwargs: Mapping[str, Any], renamed: Mapping[str, str], hint: str = ""
) -> None:
    """TypeError naming every keyword in ``kwargs`` that is none of ``cls``'s fields.

    LlamaIndex's pydantic config ignores unknown fields (llama-index-llms-openai passes
    its ``**kwargs`` on to it unchecked), so a misspelt setting, or one of another class,
    would be dropped without a word. ``renamed`` says what to use instead of a name other
    classes give the same setting (ChatJuhe's ``base_url`` is our ``api_base``).
    """
    unknown = [name for name in kwargs if name not in cls.model_fields]
    if not unknown:
        return
    named = ", ".join(
        f"{name!r} (use {renamed[name]})" if name in renamed else repr(name) for name in unknown
    )
    raise TypeError(f"{cls.__name__}() got unexpected keyword argument(s) {named}{hint}")
