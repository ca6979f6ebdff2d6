"""Fixtures for the emulator tests: the session emulator and plain httpx clients for it.

These tests talk to the emulator with bare httpx over real sockets on 127.0.0.1, never with
the project's own client, because the emulator is the oracle that client is tested against.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from juhe_core.testing import Emulator

TIMEOUT = httpx.Timeout(10.0)


@pytest.fixture
def emu(juhe_emulator: Emulator) -> Emulator:
    """The session emulator, cleared (from the package's pytest plugin)."""
    return juhe_emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    """An httpx client with the emulator's key as a Bearer token."""
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    with httpx.Client(base_url=emu.base_url, headers=headers, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
def bare(emu: Emulator) -> Iterator[httpx.Client]:
    """An httpx client without credentials."""
    with httpx.Client(base_url=emu.base_url, timeout=TIMEOUT) as c:
        yield c


@pytest.fixture
async def aclient(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    """An async httpx client with the emulator's key."""
    headers = {"Authorization": f"Bearer {emu.api_key}"}
    async with httpx.AsyncClient(base_url=emu.base_url, headers=headers, timeout=TIMEOUT) as c:
        yield c
