"""Leaving a ``Juhe`` stream early closes its HTTP response at once.

Each stream stalls for 5 s after its first events; the emulator records a client that
hangs up before the answer is complete (``RecordedRequest.closed_early``), so a close
seen within 2 s can only come from the stream being closed, not from its end.
"""

from __future__ import annotations

import asyncio

import pytest

from juhe_core.testing import Emulator, StreamFault
from llama_index_juhe import Juhe

from .conftest import user

CHAT = "/v1/chat/completions"


@pytest.fixture
def stalled(emu: Emulator) -> Emulator:
    """The emulator, with its next stream stalling for 5 s after two events."""
    emu.enqueue(StreamFault(kind="stall", after=2, seconds=5.0), path=CHAT)
    return emu


@pytest.mark.parametrize("how", ["break", "close"])
def test_leaving_stream_chat_early_closes_the_connection(
    llm: Juhe, stalled: Emulator, how: str
) -> None:
    if how == "break":
        for chunk in llm.stream_chat(user("hello there")):
            if chunk.delta:
                break  # the generator is dropped here, which closes it
    else:
        chunks = llm.stream_chat(user("hello there"))
        assert next(chunk for chunk in chunks if chunk.delta)
        chunks.close()
    assert stalled.wait_hangup()
    assert "again" in llm.complete("again").text  # the pool is still healthy


def test_cancelling_an_astream_chat_task_closes_the_connection(
    llm: Juhe, stalled: Emulator
) -> None:
    async def main() -> bool:
        seen = asyncio.Event()

        async def consume() -> None:
            async for chunk in await llm.astream_chat(user("hello there")):
                if chunk.delta:
                    seen.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(seen.wait(), 3.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Checked while the loop (and so the async client's pool) is still alive.
        closed = await asyncio.to_thread(stalled.wait_hangup)
        assert "again" in (await llm.acomplete("again")).text
        await llm.aclose()
        return closed

    assert asyncio.run(main())
