"""State shared by the emulator's two threads, and the response values handlers return.

The test thread enqueues items and reads records; the server thread takes items and adds
records. Both go through one lock. Handlers are plain functions returning ``Static`` or
``Streamed``; the ASGI layer (``_app``) writes them.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._catalog import build_catalog
from ._relay import RELAY_VERSION, dumps, random_alnum
from ._script import FaultProfile, RecordedRequest, ScriptItem
from ._store import Store
from ._stream import Frame

__all__ = ["Headers", "State", "Static", "Streamed", "json_response", "response_headers"]

Headers = list[tuple[bytes, bytes]]
"""ASGI header list."""

_JSON = b"application/json; charset=utf-8"
_VERSION = (b"x-new-api-version", RELAY_VERSION.encode("ascii"))


@dataclass
class Static:
    """A complete response body."""

    status: int
    """HTTP status."""
    headers: Headers
    """Response headers."""
    body: bytes
    """Response body."""
    delay: float = 0.0
    """Seconds to wait before answering."""


@dataclass
class Streamed:
    """A response written frame by frame (SSE)."""

    status: int
    """HTTP status."""
    headers: Headers
    """Response headers."""
    frames: Sequence[Frame]
    """Body writes and pauses, in order."""
    delay: float = 0.0
    """Seconds to wait before answering."""


def response_headers(
    request_id: str, content_type: bytes | None, extra: Iterable[tuple[bytes, bytes]] = ()
) -> Headers:
    """Headers every relay response carries (§15) plus ``content_type`` and ``extra``."""
    headers = [(b"x-oneapi-request-id", request_id.encode("ascii")), _VERSION]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    headers.extend(extra)
    return headers


def json_response(
    status: int,
    body: bytes | Mapping[str, Any],
    request_id: str,
    extra: Iterable[tuple[bytes, bytes]] = (),
    delay: float = 0.0,
) -> Static:
    """A JSON response (``body`` already encoded, or a mapping to encode)."""
    raw = body if isinstance(body, bytes) else dumps(body)
    headers = response_headers(request_id, _JSON if raw else None, extra)
    headers.append((b"content-length", str(len(raw)).encode("ascii")))
    return Static(status, headers, raw, delay)


class State:
    """Configuration, scripted queue and records of one emulator."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str],
        models: Iterable[str | Mapping[str, Any]] | None,
        serve_unlisted: bool,
        faults: FaultProfile | None,
        seed: int,
        record: bool,
        quota_usd: float = 100.0,
        mj_step_seconds: float = 0.05,
    ) -> None:
        """Set up from the ``Emulator`` arguments."""
        self.keys = frozenset(k[3:] if k.startswith("sk-") else k for k in api_keys)
        self.catalog = build_catalog(models)
        self.serve_unlisted = serve_unlisted
        self.faults = faults
        self.rng = random.Random(seed)
        self.fault_rng = random.Random(faults.seed if faults else 0)
        self.fingerprint = "fp_" + hashlib.blake2b(str(seed).encode(), digest_size=5).hexdigest()
        self.record = record
        self._lock = threading.Lock()
        self._queue: list[tuple[ScriptItem, str | None]] = []
        self._records: list[RecordedRequest] = []
        self._store_config = {"quota_usd": quota_usd, "mj_step_seconds": mj_step_seconds}
        self.store = Store(**self._store_config)
        """Files, billing, prompt cache and Midjourney tasks (``_store``)."""

    def random_id(self, prefix: str, length: int = 24) -> str:
        """``prefix`` plus random letters and digits (server thread only)."""
        return prefix + random_alnum(self.rng, length)

    def serves(self, model: str) -> bool:
        """Whether a channel "exists" for ``model`` (relay-behavior.md §4 ``model_not_found``)."""
        return self.serve_unlisted or model in self.catalog

    def enqueue(self, items: Iterable[ScriptItem], path: str | None) -> None:
        """Append items to the FIFO queue."""
        with self._lock:
            self._queue.extend((item, path) for item in items)

    def take(self, path: str, scripted: bool) -> ScriptItem | None:
        """Remove and return the first item for ``path``.

        An item queued with ``path=None`` only matches scripted (generation) routes.
        """
        with self._lock:
            for i, (item, wanted) in enumerate(self._queue):
                if wanted == path or (wanted is None and scripted):
                    del self._queue[i]
                    return item
        return None

    def pending(self) -> int:
        """Number of queued items not consumed yet."""
        with self._lock:
            return len(self._queue)

    def add_record(self, record: RecordedRequest) -> None:
        """Keep ``record`` (when recording is on)."""
        if self.record:
            with self._lock:
                self._records.append(record)

    def records(self) -> list[RecordedRequest]:
        """A copy of the recorded requests, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget queued items, recorded requests and the ``store`` (files, spending, prompt
        cache, Midjourney tasks)."""
        with self._lock:
            self._queue.clear()
            self._records.clear()
        self.store = Store(**self._store_config)
