"""The transport: request building, retries and response handling, shared by sync and async.

Every decision lives in a pure function used by both drivers (``prepare``,
``next_delay``, ``check_response``, ``decode_json``, ``sse_item``); the two drivers
(``SyncTransport`` on ``httpx.Client``, ``AsyncTransport`` on ``httpx.AsyncClient``) only
do I/O. This is the one place where httpx exceptions become ``juhe_core`` errors.

Auth is ``Authorization: Bearer <key>`` on every path: the relay honours it everywhere
(relay-behavior.md §2), so the key never goes into a URL. The key is sent unchanged (the
relay reads a ``-suffix`` as a channel pin).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from juhe_core import __version__
from juhe_core._json import dumps, loads
from juhe_core._retry import RetryPolicy, parse_retry_after, retry_delay, should_retry
from juhe_core._sse import DEFAULT_MAX_LINE_BYTES, BareLine, ServerSentEvent, SSEDecoder
from juhe_core._streams import SHARD_KEY, AsyncEventStream, EventStream
from juhe_core.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    JuheError,
    StreamError,
    error_from_body,
    error_from_response,
    find_error_object,
    stream_error_from_object,
)
from juhe_core.settings import AUTH_HEADERS, Settings

__all__ = ["AsyncTransport", "Call", "SyncTransport"]

logger = logging.getLogger("juhe_core")
USER_AGENT: Final = f"juhe-integrations/{__version__}"
# httpx's default pool keeps 20 idle connections; concurrent agents need more, and
# bounding connections (not just keep-alive) keeps bursts from opening hundreds.
DEFAULT_MAX_CONNECTIONS: Final = 100
DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024 * 1024
SHARD_SIZE: Final = 10
DEFAULT_LIMITS: Final = httpx.Limits(
    max_connections=DEFAULT_MAX_CONNECTIONS, max_keepalive_connections=DEFAULT_MAX_CONNECTIONS
)


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP call to make."""

    method: str
    """HTTP method."""
    path: str
    """Path below the root URL, starting with ``/``."""
    body: Any = None
    """A JSON body, or None."""
    params: Mapping[str, str] | None = None
    """Query parameters (never the key)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers for this call (e.g. ``anthropic-version``)."""
    stream: bool = False
    """Whether the answer is an event stream."""
    timeout: httpx.Timeout | None = None
    """A timeout for this call instead of the settings' one."""
    files: Sequence[tuple[str, tuple[str, bytes, str]]] = ()
    """Multipart file fields ``(field, (filename, bytes, mime type))``; with ``form``."""
    form: Mapping[str, str] | None = None
    """Multipart text fields (used instead of a JSON body)."""


class IdleWatch:
    """The idle-stream watchdog's second half: time between *events*, not bytes.

    The call's read timeout (set to the idle timeout) catches a silent connection; but a
    relay that sends ``: PING`` keep-alive comments keeps bytes flowing while no event
    comes (relay-behavior.md), which no read timeout sees. Each chunk read is checked
    here: one that carried no event after ``idle_timeout`` seconds without any raises
    APITimeoutError. None disables it.
    """

    __slots__ = ("_idle", "_last")

    def __init__(self, idle_timeout: float | None) -> None:
        self._idle = idle_timeout
        self._last = time.monotonic()

    def check(self, got_event: bool) -> None:
        """Note one chunk read; raise if events have stopped for too long."""
        if self._idle is None:
            return
        now = time.monotonic()
        if got_event:
            self._last = now
        elif now - self._last > self._idle:
            raise APITimeoutError(
                f"no stream event for {self._idle:g} s (only keep-alive comments): "
                "the idle-stream watchdog gave up"
            )


def build_request(
    http: httpx.Client | httpx.AsyncClient, settings: Settings, call: Call
) -> httpx.Request:
    """The httpx request for ``call``; ConfigurationError when no key is set.

    Headers merge as HTTP field names compare, case-insensitively (``httpx.Headers``):
    the defaults, then ``settings.default_headers``, then ``call.headers``, each replacing
    the same name in any case. Nothing can replace the auth header: every header that can
    carry a key (``AUTH_HEADERS``) is removed, from the caller's ``http_client`` headers
    too, and ``Authorization: Bearer <key>`` is set last.
    """
    key = settings.require_key()
    headers = httpx.Headers(
        {
            "Accept": "text/event-stream" if call.stream else "application/json",
            "User-Agent": USER_AGENT,
        }
    )
    headers.update(settings.default_headers)
    headers.update(call.headers)
    if call.files or call.form is not None:
        request = http.build_request(
            call.method,
            settings.base_url + call.path,
            params=call.params,
            headers=headers,
            data=dict(call.form or {}),
            files=list(call.files),
            timeout=call.timeout or settings.timeout,
        )
    else:
        content = None
        if call.body is not None:
            content = dumps(call.body)
            headers["Content-Type"] = "application/json"
        request = http.build_request(
            call.method,
            settings.base_url + call.path,
            params=call.params,
            headers=headers,
            content=content,
            timeout=call.timeout or settings.timeout,
        )
    # After the client's own headers were merged in: they may name an auth header too.
    for name in AUTH_HEADERS:
        request.headers.pop(name, None)
    request.headers["Authorization"] = f"Bearer {key}"
    return request


def prepare(
    http: httpx.Client | httpx.AsyncClient, settings: Settings, call: Call
) -> httpx.Request:
    """``build_request`` with httpx's failures translated; the request is never quoted.

    httpx encodes header values as ASCII and validates the URL here, and its exceptions
    hold the offending text (which can be the ``Authorization`` value). Settings already
    refuse a bad key or default header; this is the boundary for anything else. The error
    is raised outside the ``except`` so it does not chain the original as its context.
    """
    error: JuheError
    try:
        return build_request(http, settings, call)
    except httpx.HTTPError as exc:
        error = translate(exc)
    except (httpx.InvalidURL, UnicodeError) as exc:
        error = ConfigurationError(
            f"cannot build the request for {call.method} {call.path} ({type(exc).__name__}): "
            "a header or the URL holds characters HTTP cannot carry"
        )
    raise error


def translate(exc: httpx.HTTPError) -> APIError:
    """The juhe_core error for an httpx exception (the one translation boundary).

    A ``LocalProtocolError`` is h11 refusing what *we* were about to send, and its text
    quotes it, headers included (the key among them): it gets a fixed message.
    """
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out ({type(exc).__name__})")
    if isinstance(exc, httpx.LocalProtocolError):
        return APIConnectionError(
            "connection error (LocalProtocolError): the request could not be sent as valid "
            "HTTP (a header holds characters HTTP cannot carry?)"
        )
    return APIConnectionError(f"connection error ({type(exc).__name__}): {exc}")


def next_delay(
    error: APIError, attempt: int, policy: RetryPolicy, headers: Mapping[str, str] | None
) -> float | None:
    """Seconds to wait before retrying after ``error``, or None to give up."""
    if attempt >= policy.max_retries or not should_retry(error):
        return None
    retry_after = parse_retry_after(headers) if headers is not None else None
    return retry_delay(attempt, policy, retry_after=retry_after)


def _too_big(cap: int, response: httpx.Response) -> StreamError:
    return StreamError(
        f"response body larger than {cap} bytes (max_body_bytes)",
        request_id=request_id(response),
        status=response.status_code,
    )


def _rebuilt(response: httpx.Response, body: bytes) -> httpx.Response:
    return httpx.Response(
        response.status_code,
        headers=response.headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )


def read_capped(response: httpx.Response, cap: int) -> httpx.Response:
    """The response with its whole body read; StreamError past ``cap`` bytes.

    A declared Content-Length (the relay's JSON answers have one) is checked before
    reading; a body of unknown length is read in pieces and cut off at the cap, so a
    broken or hostile server cannot make us buffer without bound.
    """
    length = response.headers.get("content-length", "")
    if length.isdigit():
        if int(length) > cap:
            response.close()
            raise _too_big(cap, response)
        response.read()
        return response
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            response.close()
            raise _too_big(cap, response)
        chunks.append(chunk)
    response.close()
    return _rebuilt(response, b"".join(chunks))


async def aread_capped(response: httpx.Response, cap: int) -> httpx.Response:
    """The async twin of ``read_capped``."""
    length = response.headers.get("content-length", "")
    if length.isdigit():
        if int(length) > cap:
            await response.aclose()
            raise _too_big(cap, response)
        await response.aread()
        return response
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            await response.aclose()
            raise _too_big(cap, response)
        chunks.append(chunk)
    await response.aclose()
    return _rebuilt(response, b"".join(chunks))


def request_id(response: httpx.Response) -> str | None:
    """The relay's request id header."""
    rid: str | None = response.headers.get("x-oneapi-request-id")
    return rid


def decode_json(response: httpx.Response) -> Any:
    """The JSON body of a successful response; an error object in it is raised typed.

    The relay can answer HTTP 200 with an error object (relay-behavior.md §6).
    """
    try:
        body = loads(response.content)
    except ValueError:
        raise APIError(
            f"malformed response: HTTP {response.status_code} body is not JSON: "
            f"{response.content[:200]!r}",
            request_id=request_id(response),
        ) from None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        raise error_from_body(response.status_code, body, request_id=request_id(response))
    return body


def _check_open(http: httpx.Client | httpx.AsyncClient) -> None:
    # httpx raises a bare RuntimeError here. Like I/O on a closed file (a ValueError), this
    # is a usage error, not a network one: ConfigurationError, and never retried.
    if http.is_closed:
        raise ConfigurationError(
            "client is closed: make a new client (or use it inside its with-block)"
        )


def is_event_stream(response: httpx.Response) -> bool:
    """Whether the response is an event stream (else its body is an error or unexpected)."""
    return "text/event-stream" in response.headers.get("content-type", "")


def check_stream_response(response: httpx.Response) -> None:
    """A 200 that is not an event stream carries an error (or is not what we asked)."""
    if is_event_stream(response):
        return
    ctype = response.headers.get("content-type", "")
    body = decode_json(response)  # raises the typed error when the body holds one
    raise StreamError(
        f"expected an event stream, got {ctype or 'no content type'}: {str(body)[:200]}",
        request_id=request_id(response),
        status=response.status_code,
    )


def sse_item(item: ServerSentEvent | BareLine, rid: str | None) -> ServerSentEvent:
    """Pass events through; a bare JSON line is the relay's appended error (§10)."""
    if isinstance(item, ServerSentEvent):
        return item
    try:
        body = loads(item.text)
    except ValueError:
        body = None
    if find_error_object(body) is not None:
        raise stream_error_from_object(body, rid)
    raise StreamError(
        f"unexpected non-SSE line in stream: {item.text[:200]!r}", request_id=rid, status=200
    )


class SyncTransport:
    """Sends calls on an ``httpx.Client`` with the shared retry policy."""

    def __init__(
        self,
        settings: Settings,
        http_client: httpx.Client | None = None,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.settings = settings
        self.policy = RetryPolicy(max_retries=settings.max_retries)
        self.max_line_bytes = max_line_bytes
        self.max_body_bytes = max_body_bytes
        self._owns = http_client is None
        self.http = http_client or httpx.Client(timeout=settings.timeout, limits=DEFAULT_LIMITS)

    def send(self, call: Call) -> httpx.Response:
        """Send with retries. The response is read unless ``call.stream``; status < 400."""
        request = prepare(self.http, self.settings, call)
        attempt = 0
        while True:
            _check_open(self.http)
            headers: Mapping[str, str] | None = None
            try:
                response = self.http.send(request, stream=True)
                if response.status_code < 400:
                    return response if call.stream else read_capped(response, self.max_body_bytes)
            except httpx.HTTPError as exc:
                error: APIError = translate(exc)
            except RuntimeError:  # httpx's "client has been closed", in a race with close()
                _check_open(self.http)
                raise
            else:
                try:
                    content = read_capped(response, self.max_body_bytes).content
                except (httpx.HTTPError, StreamError) as exc:
                    content = b""
                    logger.debug("could not read error body: %r", exc)
                finally:
                    response.close()
                headers = response.headers
                error = error_from_response(response.status_code, headers, content)
            delay = next_delay(error, attempt, self.policy, headers)
            _log_failure(call, error, attempt, delay)
            if delay is None:
                raise error
            time.sleep(delay)
            attempt += 1

    def events(self, response: httpx.Response, idle_timeout: float | None = None) -> EventStream:
        """The events of a stream response; the response is closed when they end or
        when ``close()`` is called, read or not. ``idle_timeout``: see ``IdleWatch``."""
        return EventStream(self._events(response, idle_timeout), response)

    def _events(
        self, response: httpx.Response, idle_timeout: float | None
    ) -> Iterator[ServerSentEvent]:
        decoder = SSEDecoder(max_line_bytes=self.max_line_bytes)
        rid = request_id(response)
        watch = IdleWatch(idle_timeout)
        try:
            if not is_event_stream(response):  # an error body, read within the cap
                check_stream_response(read_capped(response, self.max_body_bytes))
            for chunk in response.iter_bytes():
                items = decoder.feed(chunk)
                watch.check(bool(items))
                for item in items:
                    yield sse_item(item, rid)
            for item in decoder.flush():
                yield sse_item(item, rid)
        except httpx.HTTPError as exc:
            raise translate(exc) from None
        finally:
            response.close()

    def close(self) -> None:
        """Close the HTTP client if we created it."""
        if self._owns:
            self.http.close()

    def __del__(self) -> None:
        # Like the openai SDK: a forgotten client must not leak pooled sockets.
        if getattr(self, "_owns", False) and not self.http.is_closed:
            with contextlib.suppress(Exception):
                self.http.close()


class AsyncTransport:
    """Sends calls on ``httpx.AsyncClient``s with the shared retry policy.

    httpcore 1.0.9's pool re-scans its connections, and for each idle one counts the whole
    pool again, at every request start and end (encode/httpcore#1035): O(pool²) CPU per
    request. On a 100-connection pool a burst of 1,000 calls cost ~15 CPU-seconds (bench
    scenario d). So the pool we own is *sharded*: ``max_in_flight`` connections (100 by
    default) split over small standard httpx clients of ``SHARD_SIZE`` connections each,
    one shared TLS context. A semaphore bounds requests in flight to the total, so httpcore
    never queues, and each request goes to the least busy shard: the pool's bookkeeping
    works on 10 connections, never more. A caller-supplied client is used as one shard.
    A stream holds its place until it is closed.
    """

    def __init__(
        self,
        settings: Settings,
        http_client: httpx.AsyncClient | None = None,
        *,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_in_flight: int | None = None,
    ) -> None:
        self.settings = settings
        self.policy = RetryPolicy(max_retries=settings.max_retries)
        self.max_line_bytes = max_line_bytes
        self.max_body_bytes = max_body_bytes
        self._owns = http_client is None
        total = max_in_flight or DEFAULT_MAX_CONNECTIONS
        if http_client is not None:
            self._shards = [http_client]
            self._capacity = [total]
        else:
            sizes = [SHARD_SIZE] * (total // SHARD_SIZE) + (
                [total % SHARD_SIZE] if total % SHARD_SIZE else []
            )
            tls = httpx.create_ssl_context()  # one context: building one costs ~10 ms
            self._shards = [
                httpx.AsyncClient(
                    timeout=settings.timeout,
                    verify=tls,
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
                )
                for n in sizes
            ]
            self._capacity = sizes
        self._busy = [0] * len(self._shards)
        self._total = total
        self._gate = asyncio.Semaphore(total)

    @property
    def http(self) -> httpx.AsyncClient:
        """The (first) underlying httpx client."""
        return self._shards[0]

    def _take(self) -> int:
        # The gate guarantees a shard below capacity; pick the least busy one.
        shard = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[shard] += 1
        return shard

    def _release(self, shard: int) -> None:
        self._busy[shard] -= 1
        self._gate.release()

    async def _enter(self, call: Call) -> None:
        """Take an in-flight place, waiting at most the pool timeout for one to free up.

        httpx bounds its own pool wait the same way; without this, places held by streams
        nobody closes would make every later call wait forever.
        """
        if not self._gate.locked():
            await self._gate.acquire()  # the common case: no timer to arm
            return
        wait = (call.timeout or self.settings.timeout).pool
        try:
            await asyncio.wait_for(self._gate.acquire(), wait)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            raise APITimeoutError(
                f"request timed out (pool): all {self._total} in-flight places stayed taken "
                f"for {wait} s; close streams you stop reading"
            ) from None

    async def _finish(self, response: httpx.Response) -> None:
        """Close a stream response and give its in-flight place back; idempotent."""
        shard = response.extensions.pop(SHARD_KEY, None)
        try:
            await response.aclose()
        finally:
            if shard is not None:
                self._release(shard)

    async def send(self, call: Call) -> httpx.Response:
        """Send with retries. The response is read unless ``call.stream``; status < 400.

        A stream response keeps its in-flight place until ``events`` ends or is closed.
        """
        await self._enter(call)
        shard = self._take()
        try:
            response = await self._send(call, self._shards[shard])
        except BaseException:
            self._release(shard)
            raise
        if call.stream:
            response.extensions[SHARD_KEY] = shard
        else:
            self._release(shard)
        return response

    async def _send(self, call: Call, http: httpx.AsyncClient) -> httpx.Response:
        request = prepare(http, self.settings, call)
        attempt = 0
        while True:
            _check_open(http)
            headers: Mapping[str, str] | None = None
            try:
                response = await http.send(request, stream=True)
                if response.status_code < 400:
                    if call.stream:
                        return response
                    return await aread_capped(response, self.max_body_bytes)
            except httpx.HTTPError as exc:
                error: APIError = translate(exc)
            except RuntimeError:  # httpx's "client has been closed", in a race with close()
                _check_open(http)
                raise
            else:
                try:
                    content = (await aread_capped(response, self.max_body_bytes)).content
                except (httpx.HTTPError, StreamError) as exc:
                    content = b""
                    logger.debug("could not read error body: %r", exc)
                finally:
                    await response.aclose()
                headers = response.headers
                error = error_from_response(response.status_code, headers, content)
            delay = next_delay(error, attempt, self.policy, headers)
            _log_failure(call, error, attempt, delay)
            if delay is None:
                raise error
            await asyncio.sleep(delay)
            attempt += 1

    def events(
        self, response: httpx.Response, idle_timeout: float | None = None
    ) -> AsyncEventStream:
        """The events of a stream response from ``send``; the response is closed (and
        its in-flight place freed) when they end or when ``aclose()`` is called.
        ``idle_timeout``: see ``IdleWatch``."""
        return AsyncEventStream(self._events(response, idle_timeout), self._finish, response)

    async def _events(
        self, response: httpx.Response, idle_timeout: float | None
    ) -> AsyncIterator[ServerSentEvent]:
        decoder = SSEDecoder(max_line_bytes=self.max_line_bytes)
        rid = request_id(response)
        watch = IdleWatch(idle_timeout)
        try:
            if not is_event_stream(response):  # an error body, read within the cap
                check_stream_response(await aread_capped(response, self.max_body_bytes))
            async for chunk in response.aiter_bytes():
                items = decoder.feed(chunk)
                watch.check(bool(items))
                for item in items:
                    yield sse_item(item, rid)
            for item in decoder.flush():
                yield sse_item(item, rid)
        except httpx.HTTPError as exc:
            raise translate(exc) from None
        finally:
            await self._finish(response)

    async def aclose(self) -> None:
        """Close the HTTP clients if we created them."""
        if self._owns:
            for shard in self._shards:
                await shard.aclose()


def _log_failure(call: Call, error: APIError, attempt: int, delay: float | None) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    status = error.status if isinstance(error, APIStatusError) else None
    action = "giving up" if delay is None else f"retrying in {delay:.2f}s"
    logger.debug(
        "%s %s failed (attempt %d, status %s, %s): %s",
        call.method,
        call.path,
        attempt + 1,
        status,
        action,
        type(error).__name__,
    )
