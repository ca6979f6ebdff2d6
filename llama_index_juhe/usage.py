"""``JuheUsageHandler``: token usage per model over a run, and the balance before and after.

A LlamaIndex instrumentation event handler (``BaseEventHandler``), the current way to
observe LlamaIndex (the legacy ``CallbackManager`` handlers such as
``TokenCountingHandler`` only see objects given that manager). It listens on the root
dispatcher, so every LLM call inside ``track()`` is seen: query engines, agents,
structured output, streams (counted once, when they end).

    handler = JuheUsageHandler()
    with handler.track(balance=True):
        index.as_query_engine().query("...")
    print(handler.usage, handler.spent_usd)

What it reads:
- ``LLMChatEndEvent`` / ``LLMCompletionEndEvent``: the counts ``Juhe`` puts in
  ``additional_kwargs`` (the keys llama-index-llms-openai uses too), else a ``usage``
  mapping in ``raw``. The model is the one that answered (``raw["model"]``: after a
  fallback, or the relay's dated name), else the name asked for (``LLMChatStartEvent``).
- ``EmbeddingUsageEvent``: sent by ``JuheEmbedding`` per request with the input tokens the
  relay reported (LlamaIndex's own embedding events carry no counts).

Everything seen while attached is counted, including calls made concurrently by other
code in the same process; use one ``track()`` at a time for exact per-run figures.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Literal

import httpx
from llama_index.core.bridge.pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr
from llama_index.core.instrumentation import root_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)

from juhe_core.settings import DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Settings, state_without_key
from juhe_core.wire.media import Balance
from llama_index_juhe._clients import Clients, refuse_unknown, settings_of

__all__ = ["EmbeddingUsageEvent", "JuheUsageHandler", "ModelUsage"]

UNKNOWN_MODEL = "unknown"
_COUNTS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cached_tokens",
    "reasoning_tokens",
)


class EmbeddingUsageEvent(BaseEvent):
    """One embedding request's input tokens, as the relay reported them."""

    model: str
    """The embedding model that answered (or was asked for)."""
    prompt_tokens: int
    """Input tokens of the request."""

    @classmethod
    def class_name(cls) -> str:
        """The event's name in LlamaIndex's instrumentation."""
        return "EmbeddingUsageEvent"


class ModelUsage(BaseModel):
    """Tokens one model used over a run."""

    calls: int = 0
    """Finished LLM calls (a stream counts once) and embedding requests."""
    prompt_tokens: int = 0
    """Input tokens, cached ones included."""
    completion_tokens: int = 0
    """Output tokens, reasoning included."""
    total_tokens: int = 0
    """Input plus output, as the server reported them."""
    cached_tokens: int = 0
    """Input tokens served from the prompt cache."""
    reasoning_tokens: int = 0
    """Output tokens spent on reasoning."""

    def add(self, counts: Mapping[str, int]) -> None:
        """Add one call's counts."""
        self.calls += 1
        for key in _COUNTS:
            setattr(self, key, getattr(self, key) + int(counts.get(key) or 0))


def _counts(response: Any) -> dict[str, int]:
    """Token counts of a ``ChatResponse`` / ``CompletionResponse``; empty when unknown."""
    flat = getattr(response, "additional_kwargs", None) or {}
    if any(isinstance(flat.get(k), int) for k in _COUNTS):
        return {k: flat[k] for k in _COUNTS if isinstance(flat.get(k), int)}
    raw = getattr(response, "raw", None)
    usage = raw.get("usage") if isinstance(raw, Mapping) else getattr(raw, "usage", None)
    if isinstance(usage, Mapping):
        return {k: usage[k] for k in _COUNTS if isinstance(usage.get(k), int)}
    if usage is not None:  # an SDK object (other integrations keep the OpenAI object)
        return {k: v for k in _COUNTS if isinstance(v := getattr(usage, k, None), int)}
    return {}


def _answering_model(response: Any) -> str | None:
    raw = getattr(response, "raw", None)
    model = raw.get("model") if isinstance(raw, Mapping) else getattr(raw, "model", None)
    return model if isinstance(model, str) and model else None


class JuheUsageHandler(BaseEventHandler):
    """Adds up token usage per model while attached; reads the key's balance if asked.

    Example:
        >>> handler = JuheUsageHandler()
        >>> with handler.track():  # doctest: +SKIP
        ...     Juhe().complete("hi")
        >>> handler.usage["gpt-4o-mini"].total_tokens  # doctest: +SKIP

    Key arguments (only needed to read the balance):
        api_key / api_base: default to ``JUHE_API_KEY`` / ``JUHE_BASE_URL``.
        http_client / async_http_client: your own ``httpx`` clients (left open for you).
    """

    # Validation errors never echo their input: it may hold the key.
    model_config = ConfigDict(hide_input_in_errors=True)

    usage: dict[str, ModelUsage] = Field(
        default_factory=dict, description="Tokens per model, by the model's name."
    )
    balance_before: Balance | None = Field(default=None, description="Read when tracking began.")
    balance_after: Balance | None = Field(default=None, description="Read when tracking ended.")
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)
    api_base: str = Field(description="The root URL of the Juhe API.")
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    max_retries: int = Field(default=DEFAULT_MAX_RETRIES, ge=0)
    default_headers: dict[str, str] | None = None
    allow_insecure_http: bool = Field(
        default=False,
        description="Allow the key over plain http:// to a host that is not loopback.",
    )

    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _asked: dict[str, str] = PrivateAttr(default_factory=dict)  # span id -> model asked for
    _clients: Clients = PrivateAttr(default_factory=Clients)

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        api_base: str | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        refuse_unknown(type(self), kwargs, {"base_url": "api_base"})
        settings = Settings.resolve(api_key=api_key, base_url=api_base)
        # Passed as a dict: mypy sees the base class __init__, not this model's fields.
        fields: dict[str, Any] = {
            "api_key": settings.api_key,
            "api_base": settings.base_url,
            **kwargs,
        }
        super().__init__(**fields)
        self._clients = Clients(http_client, async_http_client)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state: counts and balances, no key, no lock or connections."""
        return {**state_without_key(super().__getstate__()), "__pydantic_private__": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.__pydantic_private__ = {
            "_lock": threading.Lock(),
            "_asked": {},
            "_clients": Clients(),
        }

    @classmethod
    def class_name(cls) -> str:
        """The handler's name in LlamaIndex's instrumentation."""
        return "JuheUsageHandler"

    # --- counting ---

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """Count one instrumentation event (others are ignored)."""
        if isinstance(event, (LLMChatStartEvent, LLMCompletionStartEvent)):
            model = event.model_dict.get("model") or event.model_dict.get("model_name")
            if isinstance(model, str) and event.span_id is not None:
                with self._lock:
                    self._asked[event.span_id] = model
        elif isinstance(event, (LLMChatEndEvent, LLMCompletionEndEvent)):
            with self._lock:
                asked = self._asked.pop(event.span_id, None) if event.span_id else None
            if event.response is not None:
                model = _answering_model(event.response) or asked or UNKNOWN_MODEL
                self._add(model, _counts(event.response))
        elif isinstance(event, EmbeddingUsageEvent):
            tokens = event.prompt_tokens  # an embedding has input tokens only
            self._add(event.model, {"prompt_tokens": tokens, "total_tokens": tokens})

    def _add(self, model: str, counts: Mapping[str, int]) -> None:
        with self._lock:
            self.usage.setdefault(model, ModelUsage()).add(counts)

    @property
    def total(self) -> ModelUsage:
        """All models together."""
        with self._lock:
            usages = list(self.usage.values())
        return ModelUsage(
            **{key: sum(getattr(u, key) for u in usages) for key in ("calls", *_COUNTS)}
        )

    def reset(self) -> None:
        """Forget the counts and balances."""
        with self._lock:
            self.usage.clear()
            self._asked.clear()
            self.balance_before = self.balance_after = None

    # --- balance ---

    @property
    def spent_usd(self) -> float | None:
        """Dollars used between the two balance readings (None without both)."""
        if self.balance_before is None or self.balance_after is None:
            return None
        return round(self.balance_after.used_usd - self.balance_before.used_usd, 6)

    def read_balance(self, when: Literal["before", "after"]) -> Balance:
        """Read the key's balance now and keep it as ``balance_before`` / ``_after``."""
        return self._keep(when, self._clients.sync(settings_of(self)).balance())

    async def aread_balance(self, when: Literal["before", "after"]) -> Balance:
        """``read_balance``, async."""
        return self._keep(when, await self._clients.async_(settings_of(self)).balance())

    def _keep(self, when: Literal["before", "after"], balance: Balance) -> Balance:
        if when == "before":
            self.balance_before = balance
        else:
            self.balance_after = balance
        return balance

    # --- attaching ---

    @contextmanager
    def track(self, *, balance: bool = False) -> Iterator[JuheUsageHandler]:
        """Count every LLM call inside the block; with ``balance``, read it around it."""
        if balance:
            self.read_balance("before")
        root_dispatcher.add_event_handler(self)
        try:
            yield self
        finally:
            self._detach()
            if balance:
                self.read_balance("after")

    @asynccontextmanager
    async def atrack(self, *, balance: bool = False) -> AsyncIterator[JuheUsageHandler]:
        """``track``, reading the balance with the async client."""
        if balance:
            await self.aread_balance("before")
        root_dispatcher.add_event_handler(self)
        try:
            yield self
        finally:
            self._detach()
            if balance:
                await self.aread_balance("after")

    def _detach(self) -> None:
        # By identity: pydantic models compare equal by fields, so list.remove could
        # detach another handler that happens to hold the same counts.
        root_dispatcher.event_handlers = [
            h for h in root_dispatcher.event_handlers if h is not self
        ]

    def close(self) -> None:
        """Close the pooled sync connections used for the balance."""
        self._clients.close()

    async def aclose(self) -> None:
        """Close the pooled async connections used for the balance."""
        await self._clients.aclose()
