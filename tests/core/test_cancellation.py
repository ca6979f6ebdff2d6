"""Cancellation and concurrency: closing a stream closes the connection at once, an
interrupted call leaves the client usable, and one client serves many callers."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from juhe_core import AsyncJuheClient, JuheClient
from juhe_core._transport import AsyncTransport, Call
from juhe_core.errors import APITimeoutError
from juhe_core.messages import ChatRequest, Message, TextDelta
from juhe_core.settings import Settings
from juhe_core.testing import Emulator, Reply, StreamFault

CHAT = "/v1/chat/completions"


def ask(text: str) -> ChatRequest:
    return ChatRequest("gpt-4o-mini", [Message.text("user", text)])


def client(emu: Emulator) -> JuheClient:
    return JuheClient(api_key=emu.api_key, base_url=emu.base_url, max_retries=0)


def test_closing_a_sync_stream_closes_the_connection(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(StreamFault("stall", after=2, seconds=5.0), path=CHAT)
    with client(juhe_emulator) as c:
        stream = c.chat_stream(ask("hello there"))
        first = next(d for d in stream if isinstance(d, TextDelta))
        assert first.text
        started = time.monotonic()
        stream.close()
        assert juhe_emulator.wait_hangup()
        assert time.monotonic() - started < 2.0  # not after the 5 s stall


def test_breaking_out_of_a_for_loop_closes_the_connection(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(StreamFault("stall", after=2, seconds=5.0), path=CHAT)
    with client(juhe_emulator) as c:
        for delta in c.chat_stream(ask("hello there")):
            if isinstance(delta, TextDelta):
                break  # the stream object is dropped here, which closes it
        assert juhe_emulator.wait_hangup()


def test_cancelling_an_async_stream_task_closes_the_connection(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(StreamFault("stall", after=2, seconds=5.0), path=CHAT)

    async def main() -> None:
        seen = asyncio.Event()

        async def consume() -> None:
            async with AsyncJuheClient(
                api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url
            ) as c:
                async for delta in await c.chat_stream(ask("hello there")):
                    if isinstance(delta, TextDelta):
                        seen.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(seen.wait(), 3.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert juhe_emulator.wait_hangup()


def test_keyboard_interrupt_leaves_the_client_usable(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(Reply(text="slow", delay=2.0), path=CHAT)
    with client(juhe_emulator) as c:
        timer = threading.Timer(0.3, _thread.interrupt_main)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            c.chat(ask("first"))
        timer.join()
        assert "second" in c.chat(ask("second")).text


def test_one_client_from_32_threads(juhe_emulator: Emulator) -> None:
    with client(juhe_emulator) as c, ThreadPoolExecutor(32) as pool:
        prompts = [f"question number {i} about rivers" for i in range(96)]
        answers = list(pool.map(lambda p: c.chat(ask(p)).text, prompts))
    assert all(p in a for p, a in zip(prompts, answers, strict=True))


def test_one_async_client_from_1000_tasks(juhe_emulator: Emulator) -> None:
    async def main() -> list[tuple[str, str]]:
        async with AsyncJuheClient(
            api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url
        ) as c:
            prompts = [f"question number {i} about lakes" for i in range(1000)]
            transport = c._transport
            assert sum(transport._capacity) == 100 and max(transport._capacity) == 10

            async def one(p: str) -> tuple[str, str]:
                return p, (await c.chat(ask(p))).text

            results = await asyncio.gather(*(one(p) for p in prompts))
            # every in-flight place was given back, and no shard went over its size
            assert transport._busy == [0] * len(transport._busy)
            assert transport._gate._value == 100
            return results

    results = asyncio.run(main())
    assert len(results) == 1000
    assert all(p in a for p, a in results)


def wait_all_closed(emu: Emulator, count: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    closed = 0
    while time.monotonic() < deadline:
        closed = sum(r.closed_early for r in emu.requests)
        if closed >= count:
            break
        time.sleep(0.05)
    return closed


UNREAD = 150  # more than the 100 pooled connections / in-flight places


def test_sync_streams_closed_unread_give_their_connections_back(
    juhe_emulator: Emulator,
) -> None:
    juhe_emulator.enqueue(*[StreamFault("stall", after=1, seconds=5.0)] * UNREAD, path=CHAT)
    timeout = httpx.Timeout(10.0, pool=2.0)  # a leak shows as a pool timeout, not a hang
    with JuheClient(
        api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url, timeout=timeout
    ) as c:
        for i in range(UNREAD):
            stream = c.chat_stream(ask(f"unread {i}"))
            if i % 2:
                stream.close()
            else:
                with stream:
                    pass
        assert "after all" in c.chat(ask("after all")).text
    assert wait_all_closed(juhe_emulator, UNREAD) == UNREAD


def test_async_streams_closed_unread_free_their_places(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(*[StreamFault("stall", after=1, seconds=5.0)] * UNREAD, path=CHAT)

    async def main() -> str:
        async with AsyncJuheClient(
            api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url
        ) as c:
            for i in range(UNREAD):
                stream = await c.chat_stream(ask(f"unread {i}"))
                if i % 2:
                    await stream.aclose()
                else:
                    async with stream:
                        pass
            transport = c._transport
            assert transport._busy == [0] * len(transport._busy)
            assert transport._gate._value == 100
            return (await c.chat(ask("after all"))).text

    assert "after all" in asyncio.run(asyncio.wait_for(main(), 20.0))
    assert wait_all_closed(juhe_emulator, UNREAD) == UNREAD


def test_waiting_for_an_in_flight_place_is_bounded_by_the_pool_timeout(
    juhe_emulator: Emulator,
) -> None:
    juhe_emulator.enqueue(*[StreamFault("stall", after=1, seconds=5.0)] * 2, path=CHAT)
    settings = Settings.resolve(
        api_key=juhe_emulator.api_key,
        base_url=juhe_emulator.base_url,
        timeout=httpx.Timeout(10.0, pool=0.3),
    )
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    call = Call("POST", CHAT, body=body, stream=True)

    async def main() -> None:
        transport = AsyncTransport(settings, max_in_flight=2)
        try:
            held = [transport.events(await transport.send(call)) for _ in range(2)]
            started = time.monotonic()
            with pytest.raises(APITimeoutError, match="pool"):
                await transport.send(call)
            assert time.monotonic() - started < 2.0
            await held[0].aclose()
            await held[0].aclose()  # idempotent: the place is given back once
            assert transport._gate._value == 1
            events = transport.events(await transport.send(call))
            await events.aclose()
            await held[1].aclose()
            assert transport._gate._value == 2
        finally:
            await transport.aclose()

    asyncio.run(asyncio.wait_for(main(), 10.0))


def test_async_streams_dropped_unread_free_their_places(juhe_emulator: Emulator) -> None:
    juhe_emulator.enqueue(*[StreamFault("stall", after=1, seconds=5.0)] * UNREAD, path=CHAT)

    async def main() -> str:
        async with AsyncJuheClient(
            api_key=juhe_emulator.api_key, base_url=juhe_emulator.base_url, timeout=10.0
        ) as c:
            for i in range(UNREAD):
                stream = await c.chat_stream(ask(f"dropped {i}"))
                del stream  # never read, never closed
            return (await c.chat(ask("after all"))).text

    assert "after all" in asyncio.run(asyncio.wait_for(main(), 20.0))
    assert wait_all_closed(juhe_emulator, UNREAD) == UNREAD
