"""``Emulator``: the emulator app served by uvicorn on 127.0.0.1, in a daemon thread.

The listening socket is bound in the caller's thread (so the port is known and connections
queue at once); uvicorn then serves it on its own event loop in a daemon thread. uvicorn and
httptools are imported only here, when a server starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from ._app import EmulatorApp
from ._script import FaultProfile, RecordedRequest, ScriptItem
from ._state import State

__all__ = ["EMULATOR_API_KEY", "Emulator"]

EMULATOR_API_KEY = "sk-JuheEmulatorLocalTestKey000000000000000000000000"
"""The key an ``Emulator`` accepts by default: ``sk-`` + 48 letters and digits, no ``-``.

A ``-`` after ``sk-`` would read as a channel pin and be refused with 403 (relay-behavior.md §2).
"""

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


def _http_impl() -> str:
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "h11"
    return "httptools"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only then,
    # and without it every split response waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class Emulator:
    """A local HTTP server that answers like the Juhe relay; a scripted stand-in, not a model.

    Usable as ``with Emulator() as emu:`` or ``async with Emulator() as emu:``. See the
    package docstring of ``juhe_core.testing`` for the arguments and the scripting API.
    """

    def __init__(
        self,
        *,
        models: Iterable[str | Mapping[str, Any]] | None = None,
        serve_unlisted: bool = True,
        api_keys: Iterable[str] = (EMULATOR_API_KEY,),
        port: int = 0,
        host: str = "127.0.0.1",
        seed: int = 0,
        faults: FaultProfile | None = None,
        record: bool = True,
        quota_usd: float = 100.0,
        mj_step_seconds: float = 0.05,
    ) -> None:
        """Configure; nothing starts until ``start()`` or ``with``."""
        if host not in _LOOPBACK:
            raise ValueError(f"the emulator binds loopback only, not {host!r}")
        keys = tuple(api_keys)
        if not keys:
            raise ValueError("api_keys must name at least one key")
        for key in keys:
            if "-" in key.removeprefix("sk-"):
                # The relay reads text after a '-' as a channel pin (relay-behavior.md §2).
                raise ValueError(f"an API key may not contain '-' after 'sk-': {key[:6]}…")
        self.api_key = keys[0]
        """The first accepted key (``EMULATOR_API_KEY`` by default)."""
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self._state = State(
            api_keys=keys,
            models=models,
            serve_unlisted=serve_unlisted,
            faults=faults,
            seed=seed,
            record=record,
            quota_usd=quota_usd,
            mj_step_seconds=mj_step_seconds,
        )
        self._app = EmulatorApp(self._state)
        self._sock: socket.socket | None = None
        self._bound_port: int | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._stop_requested = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The bound port (once started; still known after ``stop()``)."""
        if self._bound_port is None:
            raise RuntimeError("the emulator is not started")
        return self._bound_port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no ``/v1``)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> Emulator:
        """Start serving and wait until the server accepts requests."""
        self._begin()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._started():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start in time")
            time.sleep(0.001)
        return self

    async def astart(self) -> Emulator:
        """``start()`` without blocking the running event loop."""
        self._begin()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._started():
            if time.monotonic() > deadline:
                await self.astop()
                raise RuntimeError("the emulator did not start in time")
            await asyncio.sleep(0.002)
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and close the socket. Idempotent."""
        self._signal_stop()
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT)
        self._cleanup()

    async def astop(self) -> None:
        """``stop()`` without blocking the running event loop."""
        self._signal_stop()
        deadline = time.monotonic() + _STOP_TIMEOUT
        while self._thread is not None and self._thread.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._cleanup()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Emulator:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()

    # -- scripting and records -------------------------------------------------------------

    def enqueue(self, *items: ScriptItem, path: str | None = None) -> None:
        """Queue items (FIFO); each is used by the next request whose path matches.

        ``path=None``: any generation route (chat in every format, embeddings, images,
        speech, moderations); an explicit path also reaches other routes such as
        ``/v1/models``, the billing routes and Midjourney.
        """
        self._state.enqueue(items, path)

    @property
    def pending(self) -> int:
        """Number of queued items not consumed yet."""
        return self._state.pending()

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far (a copy), oldest first."""
        return self._state.records()

    def wait_hangup(self, timeout: float = 3.0) -> bool:
        """Whether the client of the latest request hung up before its answer ended
        (``RecordedRequest.closed_early``), waiting up to ``timeout`` seconds for it.

        For tests that leaving a stream early (``break``, ``close()``, a cancelled task)
        really closes the connection. Call it from a thread other than the event loop
        of the client under test (``asyncio.to_thread``) when that loop must stay alive.
        """
        deadline = time.monotonic() + timeout
        while True:
            records = self._state.records()
            if records and records[-1].closed_early:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def clear(self) -> None:
        """Drop queued items and recorded requests, and start the billing ledger, the
        Midjourney tasks, the generated files and the prompt cache afresh."""
        self._state.clear()

    # -- internals -------------------------------------------------------------------------

    def _begin(self) -> None:
        """Bind the socket and start the thread; uvicorn is imported there, off this thread."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        self._sock = _bind(self._host, self._port)
        self._bound_port = int(self._sock.getsockname()[1])
        self._stop_requested.clear()
        self._thread = threading.Thread(target=self._run, name="juhe-emulator", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve(self) -> None:
        import uvicorn

        from ._protocol import protocol_class

        config = uvicorn.Config(
            self._app,
            http=protocol_class(_http_impl()),
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        self._app.bind()
        self._server = server
        if self._stop_requested.is_set():  # stop() came before the server existed
            server.should_exit = True
        assert self._sock is not None
        await server.serve(sockets=[self._sock])

    def _started(self) -> bool:
        if self._error is not None:
            raise RuntimeError("the emulator failed to start") from self._error
        if self._thread is None or not self._thread.is_alive():
            raise RuntimeError("the emulator thread ended during startup")
        return self._server is not None and bool(self._server.started)

    def _signal_stop(self) -> None:
        self._stop_requested.set()
        if self._server is not None:
            self._server.should_exit = True
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(self._app.stop)

    def _cleanup(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._thread = None
        self._server = None
        self._loop = None
