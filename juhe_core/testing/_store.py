"""What the emulator remembers between requests besides the script queue and the records.

- ``Files``: generated files served back on loopback URLs (image ``url`` answers,
  Midjourney grids), kept for the last ``Files.LIMIT`` files.
- ``Ledger``: the key's quota and what has been spent, for the billing routes
  (``/v1/dashboard/billing/*``). Prices are made up but fixed, so usage grows with use.
- ``PromptCache``: Anthropic prompt-cache prefixes seen, for ``cache_read_input_tokens``.
- ``TaskBook``: Midjourney tasks (``_mj_tasks``).

All of it is guarded by one lock: the server thread writes, a test thread may read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ._mj_tasks import TaskBook

__all__ = ["PRICES", "Files", "Ledger", "PromptCache", "Store"]

PRICES = {
    "token": 10.0 / 1_000_000,
    "embedding_token": 0.02 / 1_000_000,
    "image": 0.04,
    "speech_char": 15.0 / 1_000_000,
    "mj_imagine": 0.05,
    "mj_other": 0.02,
}
"""Dollars charged per unit: chat tokens (prompt + completion), embedding tokens, images,
characters of speech, Midjourney submits. Moderation is free, as on OpenAI."""


class Files:
    """Generated files by name, the most recent ``LIMIT`` of them."""

    LIMIT = 512

    def __init__(self, lock: threading.Lock) -> None:
        """Empty; guarded by ``lock``."""
        self._lock = lock
        self._files: OrderedDict[str, tuple[bytes, str]] = OrderedDict()

    def put(self, name: str, data: bytes, content_type: str) -> None:
        """Keep ``data`` under ``name`` (the oldest file goes past ``LIMIT``)."""
        with self._lock:
            self._files[name] = (data, content_type)
            while len(self._files) > self.LIMIT:
                self._files.popitem(last=False)

    def get(self, name: str) -> tuple[bytes, str] | None:
        """The bytes and content type kept under ``name``."""
        with self._lock:
            return self._files.get(name)


class Ledger:
    """The key's quota in dollars and what has been spent so far."""

    def __init__(self, lock: threading.Lock, quota_usd: float) -> None:
        """A fresh ledger with ``quota_usd`` in total."""
        self._lock = lock
        self.quota_usd = quota_usd
        """Total quota (``hard_limit_usd`` = remaining + used, as the relay reports it)."""
        self._used = 0.0

    def charge(self, usd: float) -> None:
        """Add ``usd`` to what has been spent."""
        with self._lock:
            self._used += usd

    @property
    def used_usd(self) -> float:
        """Dollars spent so far."""
        with self._lock:
            return self._used


class PromptCache:
    """Anthropic cache prefixes seen (by hash), the most recent 1,024."""

    def __init__(self, lock: threading.Lock) -> None:
        """Empty; guarded by ``lock``."""
        self._lock = lock
        self._seen: OrderedDict[str, None] = OrderedDict()

    def hit(self, key: str) -> bool:
        """Whether ``key`` was seen before; remembers it either way."""
        with self._lock:
            known = key in self._seen
            self._seen[key] = None
            self._seen.move_to_end(key)
            if len(self._seen) > 1024:
                self._seen.popitem(last=False)
            return known


class Store:
    """Everything above, for one emulator."""

    def __init__(self, *, quota_usd: float, mj_step_seconds: float) -> None:
        """Fresh stores; Midjourney tasks move one stage every ``mj_step_seconds``."""
        lock = threading.Lock()
        self.files = Files(lock)
        """Served files."""
        self.ledger = Ledger(lock, quota_usd)
        """Quota and spending."""
        self.prompt_cache = PromptCache(lock)
        """Anthropic cache prefixes."""
        self.tasks = TaskBook(lock, mj_step_seconds)
        """Midjourney tasks."""
