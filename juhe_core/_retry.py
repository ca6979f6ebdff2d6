"""The retry policy: pure functions with the clock and randomness injected.

What is retried: connection errors, timeouts, and HTTP 408, 409, 429 and 5xx (but not
501/505). What is not: other 4xx, and errors whose code is permanent whatever the status; the relay
answers 503 ``model_not_found`` when no channel serves a model (relay-behavior.md §3,
issue #6310), and 500 ``invalid_request`` for a body it rejects, so retrying only delays
the inevitable. Streams are never retried once their first event was delivered (the
transport enforces that; these functions only see failures before that point).

Delays follow the openai/anthropic SDKs: ``min(0.5 * 2**attempt, 8)`` seconds with up to
25 % jitter, unless the server said how long to wait with ``retry-after-ms`` or
``Retry-After`` (seconds or an HTTP date), honoured up to 60 s. The relay itself never
sends Retry-After on relay routes, but upstream-facing deployments may.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from juhe_core.errors import APIConnectionError, APIError, APIStatusError

__all__ = [
    "PERMANENT_CODES",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
]

RETRYABLE_STATUSES: Final = frozenset({408, 409, 429})
# 501 Not Implemented and 505 HTTP Version Not Supported never change on a retry; the
# relay answers 501 ``api_not_implemented`` for its stubbed routes (relay-behavior.md §1).
PERMANENT_STATUSES: Final = frozenset({501, 505})
PERMANENT_CODES: Final = frozenset(
    {
        "model_not_found",
        "invalid_request",
        "sensitive_words_detected",
        "model_price_error",
        "api_not_implemented",
    }
)
MAX_RETRY_AFTER: Final = 60.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how long to wait between attempts."""

    max_retries: int = 2
    """Retries after the first attempt (0 disables retries)."""
    initial_delay: float = 0.5
    """The first back-off, in seconds."""
    max_delay: float = 8.0
    """The back-off cap, in seconds."""
    jitter: float = 0.25
    """Fraction of the back-off taken off at random (0 = none)."""


def parse_retry_after(
    headers: Mapping[str, str], *, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date).

    ``headers`` must be case-insensitive (httpx.Headers) or lower-cased. Returns None when
    absent or unparsable.
    """
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(float(ms) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now(), 0.0)


def should_retry(error: APIError) -> bool:
    """Whether a failed attempt that raised ``error`` may be tried again."""
    if isinstance(error, APIConnectionError):
        return True
    if not isinstance(error, APIStatusError):
        return False  # StreamError: the body was already being read
    if isinstance(error.code, str) and error.code in PERMANENT_CODES:
        return False
    if error.status in PERMANENT_STATUSES:
        return False
    return error.status in RETRYABLE_STATUSES or error.status >= 500


def retry_delay(
    attempt: int,
    policy: RetryPolicy,
    *,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to sleep before retry number ``attempt`` (0 for the first retry)."""
    if retry_after is not None and 0 <= retry_after <= MAX_RETRY_AFTER:
        return retry_after
    backoff = min(policy.initial_delay * 2.0**attempt, policy.max_delay)
    return backoff * (1.0 - policy.jitter * rand())
