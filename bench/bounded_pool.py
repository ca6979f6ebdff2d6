"""A prototype connection pool with O(1) bookkeeping per request, for scenario (d).

httpcore 1.0.9's ``AsyncConnectionPool._assign_requests_to_connections`` runs on every
request start and end, and walks every connection (probing idle sockets with
``select`` through anyio's attribute dicts) and, for each idle one, counts the whole
pool again (``len([c.is_idle() for c in self._connections])``, which is also why surplus
connections are dropped and reopened): O(pool²) per event. A burst of 1,000 calls on a
100-connection pool then costs 10–25 CPU-seconds (encode/httpcore#1035).

This pool keeps the same httpcore connection objects but takes a slot from a semaphore
(so at most ``max_connections`` exist, and waiting requests queue in the semaphore, not
in a list that is rescanned) and reuses idle connections from a LIFO stack. It is what
``juhe_core._transport`` could install in its ``httpx.AsyncHTTPTransport``; the
benchmark measures it as a raw-httpx row to show the effect before anyone changes
juhe_core. One origin per pool is assumed (an idle connection to another origin is
closed, not reused), which is juhe_core's case: one base URL per client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpcore
import httpx


class _ReleasingStream:
    """A response body that gives its connection back when closed."""

    def __init__(self, stream: Any, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class BoundedPool:
    """At most ``max_connections`` HTTP/1.1 connections; constant work per request."""

    def __init__(self, max_connections: int, keepalive_expiry: float = 5.0) -> None:
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[httpcore.AsyncHTTPConnection] = []
        self._keepalive_expiry = keepalive_expiry

    async def _connection(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        while self._idle:
            connection = self._idle.pop()
            if connection.can_handle_request(origin) and not connection.has_expired():
                return connection
            await connection.aclose()
        return httpcore.AsyncHTTPConnection(origin, keepalive_expiry=self._keepalive_expiry)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send ``request`` on an idle or new connection, waiting for a free slot."""
        await self._slots.acquire()
        try:
            connection = await self._connection(request.url.origin)
            response = await connection.handle_async_request(request)
        except BaseException:
            self._slots.release()
            raise

        def release() -> None:
            if connection.is_idle():
                self._idle.append(connection)
            self._slots.release()

        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_ReleasingStream(response.stream, release),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        """Close the idle connections."""
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.aclose()


def bounded_transport(max_connections: int) -> httpx.AsyncHTTPTransport:
    """An ``httpx.AsyncHTTPTransport`` whose pool is a ``BoundedPool``."""
    transport = httpx.AsyncHTTPTransport()
    transport._pool = BoundedPool(max_connections)  # type: ignore[assignment]
    return transport
