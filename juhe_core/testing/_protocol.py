"""uvicorn's HTTP protocol, with each response step written in one ``send`` call.

uvicorn writes the status line and headers and then the body with two ``transport.write``
calls. With ``TCP_NODELAY`` that is two segments, two system calls, and usually two wake-ups
of the client, for every small JSON answer. Here the transport is wrapped so that writes made
in the same event-loop step go out together at the end of the step. Streams still flush once
per frame: the app yields to the loop between frames. Imported only with uvicorn.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["protocol_class"]


class _OneWriteTransport:
    """Delegates to a transport but joins the writes of one loop step."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self._flush)
        else:
            self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def protocol_class(http: str) -> type[asyncio.Protocol]:
    """A subclass of uvicorn's ``httptools`` or ``h11`` protocol using one write per step."""
    base: Any
    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class OneWriteProtocol(base):  # type: ignore[misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            loop = asyncio.get_running_loop()
            super().connection_made(_OneWriteTransport(transport, loop))

    return OneWriteProtocol
