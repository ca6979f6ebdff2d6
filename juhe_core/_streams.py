"""The handles ``SyncTransport.events`` / ``AsyncTransport.events`` return for a stream.

They exist because a generator that never started does not run its ``finally`` when it
is closed: closing (or dropping) a stream nobody read must still close its response and,
in async, give its in-flight place back, or the pool and the transport's gate leak.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Final

import httpx

from juhe_core._sse import ServerSentEvent

__all__ = ["SHARD_KEY", "AsyncEventStream", "EventStream"]

SHARD_KEY: Final = "juhe_shard"
"""The response extension where ``AsyncTransport`` keeps a stream's in-flight place."""


class EventStream:
    """The events of one stream response; ``close()`` closes the response, read or not.

    A generator that never started does not run its ``finally`` when closed, so the
    response is closed here as well: a stream opened and dropped unread would otherwise
    keep its pooled connection checked out for good.
    """

    __slots__ = ("_events", "_response")

    def __init__(self, events: Iterator[ServerSentEvent], response: httpx.Response) -> None:
        self._events = events
        self._response = response

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> ServerSentEvent:
        return next(self._events)

    def close(self) -> None:
        """Stop and close the response; idempotent."""
        try:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
        finally:
            self._response.close()

    def __del__(self) -> None:
        # Dropped unread without close(): give the pooled connection back anyway.
        with contextlib.suppress(Exception):
            self._response.close()


class AsyncEventStream:
    """The async twin of ``EventStream``: ``aclose()`` closes the response and frees the
    stream's in-flight place, whether or not it was read."""

    __slots__ = ("_events", "_finish", "_loop", "_response")

    def __init__(
        self,
        events: AsyncIterator[ServerSentEvent],
        finish: Callable[[httpx.Response], Awaitable[None]],
        response: httpx.Response,
    ) -> None:
        self._events = events
        self._finish = finish
        self._response = response
        self._loop = asyncio.get_running_loop()

    def __aiter__(self) -> AsyncEventStream:
        return self

    async def __anext__(self) -> ServerSentEvent:
        return await anext(self._events)

    async def aclose(self) -> None:
        """Stop, close the response and free its in-flight place; idempotent."""
        try:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            await self._finish(self._response)

    def __del__(self) -> None:
        # Dropped without aclose() while still holding its place: a generator that never
        # started has no finaliser, so hand the close to the response's loop, as the
        # loop's async-generator hooks do for started ones. A closed loop has nothing left.
        if SHARD_KEY not in self._response.extensions:
            return
        loop, finish, response = self._loop, self._finish, self._response
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_spawn, loop, finish, response)


_CLOSING: set[asyncio.Task[None]] = set()  # the loop only holds tasks weakly


def _spawn(
    loop: asyncio.AbstractEventLoop,
    finish: Callable[[httpx.Response], Awaitable[None]],
    response: httpx.Response,
) -> None:
    async def run() -> None:
        await finish(response)

    task = loop.create_task(run())
    _CLOSING.add(task)
    task.add_done_callback(_CLOSING.discard)
