"""The retry policy, table-driven: what is retried, how long we wait."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from juhe_core._retry import RetryPolicy, parse_retry_after, retry_delay, should_retry
from juhe_core._transport import next_delay
from juhe_core.errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    StreamError,
    error_from_body,
)

NOW = 1_754_600_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "x", "retry-after": "9"}, 9.0),
        ({"retry-after": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"retry-after": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"retry-after": ""}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx.Headers(headers), now=lambda: NOW) == expected


def _status(status: int, code: str | None = None) -> APIError:
    body = {"error": {"message": "m", "type": "new_api_error", "code": code}}
    return error_from_body(status, body)


@pytest.mark.parametrize(
    ("error", "retry"),
    [
        (APIConnectionError("refused"), True),
        (APITimeoutError("slow"), True),
        (_status(408), True),
        (_status(409), True),
        (_status(429), True),
        (_status(429, ""), True),
        (_status(500), True),
        (_status(500, "do_request_failed"), True),
        (_status(502), True),
        (_status(503, "system_cpu_overloaded"), True),
        (_status(503, "model_not_found"), False),  # permanent, relay-behavior.md §3
        (_status(500, "invalid_request"), False),  # body validation, permanent
        (_status(501, "api_not_implemented"), False),
        (_status(501), False),
        (_status(505), False),
        (_status(504), True),
        (_status(400), False),
        (_status(401), False),
        (_status(403, "insufficient_user_quota"), False),
        (_status(404), False),
        (_status(413, "read_request_body_failed"), False),
        (StreamError("cut"), False),
    ],
)
def test_should_retry(error: APIError, retry: bool) -> None:
    assert should_retry(error) is retry


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.0, 0.5),
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (3, 0.0, 4.0),
        (4, 0.0, 8.0),
        (9, 0.0, 8.0),
        (0, 1.0, 0.375),
        (2, 0.5, 1.75),
    ],
)
def test_backoff_with_jitter(attempt: int, rand: float, expected: float) -> None:
    assert retry_delay(attempt, RetryPolicy(), rand=lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("retry_after", "expected"), [(2.0, 2.0), (0.0, 0.0), (60.0, 60.0), (61.0, 0.5), (None, 0.5)]
)
def test_retry_after_is_honoured_up_to_a_minute(retry_after: float | None, expected: float) -> None:
    got = retry_delay(0, RetryPolicy(), retry_after=retry_after, rand=lambda: 0.0)
    assert got == pytest.approx(expected)


def test_next_delay_stops_at_max_retries_and_reads_headers() -> None:
    policy = RetryPolicy(max_retries=2)
    err = _status(429)
    headers = httpx.Headers({"retry-after": "1"})
    assert next_delay(err, 0, policy, headers) == 1.0
    assert next_delay(err, 1, policy, headers) == 1.0
    assert next_delay(err, 2, policy, headers) is None
    assert next_delay(_status(400), 0, policy, headers) is None
    assert next_delay(err, 0, RetryPolicy(max_retries=0), headers) is None
