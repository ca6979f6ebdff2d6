"""``JuheUsageCallbackHandler``: token usage per model over a run, and the balance it cost.

Like langchain-core's ``UsageMetadataCallbackHandler`` (whose counting it reuses: each chat
answer's ``usage_metadata`` added up under its ``response_metadata["model_name"]``, so a
fallback model is counted under its own name), plus the key's balance read before and
after when asked (``JuheClient.balance()``; the relay reports usage in hundredths of a
dollar, ``juhe_core`` converts). ``get_juhe_callback`` / ``aget_juhe_callback`` attach one
to every LangChain call inside a ``with`` block, as ``get_openai_callback`` does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from langchain_core.callbacks import UsageMetadataCallbackHandler
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.tracers.context import register_configure_hook
from pydantic import SecretStr

from juhe_core.client import AsyncJuheClient, JuheClient
from juhe_core.wire.media import Balance

__all__ = ["JuheUsageCallbackHandler", "aget_juhe_callback", "get_juhe_callback"]

_current: ContextVar[JuheUsageCallbackHandler | None] = ContextVar(
    "juhe_usage_callback", default=None
)
register_configure_hook(_current, inheritable=True)


class JuheUsageCallbackHandler(UsageMetadataCallbackHandler):
    """Adds up token usage per model; reads the key's balance when asked.

    Example:
        .. code-block:: python

            from langchain_juhe import ChatJuhe
            from langchain_juhe.callbacks import JuheUsageCallbackHandler

            handler = JuheUsageCallbackHandler()
            ChatJuhe(model="gpt-4o-mini").invoke("Hi", config={"callbacks": [handler]})
            handler.usage_metadata  # {"gpt-4o-mini": {"input_tokens": ..., ...}}
            handler.total_tokens

    Balance (one call before the run, one after):
        .. code-block:: python

            from juhe_core import JuheClient

            with JuheClient() as client:
                handler.read_balance(client)  # before
                ...  # the run
                handler.read_balance(client)  # after
            handler.spent_usd
    """

    def __init__(self) -> None:
        """An empty tally."""
        super().__init__()
        self.balance_before: Balance | None = None
        """The balance at the first ``read_balance``."""
        self.balance_after: Balance | None = None
        """The balance at the latest later ``read_balance``."""

    def __repr__(self) -> str:
        spent = f", spent_usd={self.spent_usd}" if self.spent_usd is not None else ""
        return f"JuheUsageCallbackHandler(usage_metadata={self.usage_metadata}{spent})"

    @property
    def total_tokens(self) -> int:
        """Tokens of every model added up."""
        return sum(u["total_tokens"] for u in self.usage_metadata.values())

    @property
    def total_usage(self) -> UsageMetadata:
        """The usage of every model added up (token details included)."""
        with self._lock:
            values = list(self.usage_metadata.values())
        total: UsageMetadata | None = None
        for usage in values:
            total = add_usage(total, usage)
        return add_usage(total, None)

    @property
    def spent_usd(self) -> float | None:
        """Dollars used between the first and the last balance reading (None before two)."""
        if self.balance_before is None or self.balance_after is None:
            return None
        return round(self.balance_after.used_usd - self.balance_before.used_usd, 6)

    def _record(self, balance: Balance) -> Balance:
        with self._lock:
            if self.balance_before is None:
                self.balance_before = balance
            else:
                self.balance_after = balance
        return balance

    def read_balance(self, client: JuheClient) -> Balance:
        """Read the balance: the first reading is "before", later ones "after"."""
        return self._record(client.balance())

    async def aread_balance(self, client: AsyncJuheClient) -> Balance:
        """``read_balance`` with the async client."""
        return self._record(await client.balance())


def _client_settings(
    api_key: str | SecretStr | None, base_url: str | None, kwargs: dict[str, Any]
) -> dict[str, Any]:
    return {"api_key": api_key, "base_url": base_url, **kwargs}


@contextmanager
def get_juhe_callback(
    *,
    balance: bool = False,
    client: JuheClient | None = None,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    **client_kwargs: Any,
) -> Iterator[JuheUsageCallbackHandler]:
    """A handler attached to every LangChain call in the ``with`` block.

    Args:
        balance: Read the key's balance on entry and on exit (``spent_usd``).
        client: The client to read it with; else one is made from ``api_key``,
            ``base_url`` and ``client_kwargs`` (``JUHE_*`` variables by default) and closed.
        api_key: API key for that client.
        base_url: Root URL for that client.
        client_kwargs: Other ``JuheClient`` keywords.

    Example:
        .. code-block:: python

            with get_juhe_callback(balance=True) as cb:
                ChatJuhe(model="gpt-4o-mini").invoke("Hi")
            print(cb.usage_metadata, cb.spent_usd)
    """
    handler = JuheUsageCallbackHandler()
    own = None
    if balance and client is None:
        client = own = JuheClient(**_client_settings(api_key, base_url, client_kwargs))
    token = _current.set(handler)
    try:
        if balance and client is not None:
            handler.read_balance(client)
        yield handler
        if balance and client is not None:
            handler.read_balance(client)
    finally:
        _current.reset(token)
        if own is not None:
            own.close()


@asynccontextmanager
async def aget_juhe_callback(
    *,
    balance: bool = False,
    client: AsyncJuheClient | None = None,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    **client_kwargs: Any,
) -> AsyncIterator[JuheUsageCallbackHandler]:
    """``get_juhe_callback`` for async code: the balance is read with the async client."""
    handler = JuheUsageCallbackHandler()
    own = None
    if balance and client is None:
        client = own = AsyncJuheClient(**_client_settings(api_key, base_url, client_kwargs))
    token = _current.set(handler)
    try:
        if balance and client is not None:
            await handler.aread_balance(client)
        yield handler
        if balance and client is not None:
            await handler.aread_balance(client)
    finally:
        _current.reset(token)
        if own is not None:
            await own.aclose()
