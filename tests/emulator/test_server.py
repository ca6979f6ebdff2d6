"""Emulator lifecycle: light import, fast start, clean stop, async use, CLI, pytest fixture."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from juhe_core.testing import Emulator, Reply

pytestmark = pytest.mark.timeout(30)

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


def run_python(code: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_importing_the_package_and_plugin_stays_light() -> None:
    code = (
        "import sys, juhe_core.testing, juhe_core.testing.pytest_plugin\n"
        "heavy = [m for m in ('uvicorn', 'starlette', 'httptools', 'httpx') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_start_is_fast_and_stop_leaves_nothing_behind() -> None:
    code = """
import socket, threading, time, gc, httpx
from juhe_core.testing import Emulator
import uvicorn, httptools  # imported once per process; startup is measured after it
started = time.perf_counter()
emu = Emulator().start()
elapsed = time.perf_counter() - started
body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
auth = {"Authorization": "Bearer " + emu.api_key}
with httpx.Client(base_url=emu.base_url, headers=auth) as c:
    assert c.post("/v1/chat/completions", json=body).status_code == 200
    with c.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
        next(r.iter_lines())
port = emu.port
emu.stop()
assert emu.port == port
gc.collect()
assert not [t for t in threading.enumerate() if t.name == "juhe-emulator"], threading.enumerate()
s = socket.socket()
try:
    s.connect(("127.0.0.1", port))
    raise SystemExit("still listening")
except ConnectionRefusedError:
    pass
finally:
    s.close()
print(f"{elapsed:.3f}")
"""
    out = run_python(code, "-X", "dev", "-W", "error")
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # no ResourceWarning, no "unclosed", no log noise
    assert float(out.stdout) < 0.5


def test_stop_is_idempotent_and_ends_a_stalled_stream_quickly() -> None:
    emu = Emulator().start()
    from juhe_core.testing import StreamFault

    emu.enqueue(StreamFault("stall", after=1, seconds=20))
    client = httpx.Client(
        base_url=emu.base_url, headers={"Authorization": f"Bearer {emu.api_key}"}, timeout=10
    )
    stream_cm = client.stream("POST", CHAT, json={**BODY, "stream": True})
    response = stream_cm.__enter__()
    next(response.iter_lines())
    started = time.monotonic()
    emu.stop()
    emu.stop()
    assert time.monotonic() - started < 5
    assert not emu.running
    stream_cm.__exit__(None, None, None)
    client.close()


async def test_async_context_manager() -> None:
    async with Emulator() as emu:
        emu.enqueue(Reply(text="async"))
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        async with httpx.AsyncClient(base_url=emu.base_url, headers=headers, timeout=10) as c:
            r = await c.post(CHAT, json=BODY)
        assert r.json()["choices"][0]["message"]["content"] == "async"
        assert emu.running
    assert not emu.running


async def test_async_start_and_stop_keep_the_loop_responsive() -> None:
    gaps: list[float] = []
    running = True

    async def ticker() -> None:
        last = time.monotonic()
        while running:
            await asyncio.sleep(0.001)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.ensure_future(ticker())
    async with Emulator() as emu:
        assert emu.running
    running = False
    await task
    assert len(gaps) > 5 and max(gaps) < 0.1


def test_h11_fallback_serves_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    from juhe_core.testing import StreamFault, _server

    monkeypatch.setattr(_server, "_http_impl", lambda: "h11")
    with Emulator() as emu:
        headers = {"Authorization": f"Bearer {emu.api_key}"}
        with httpx.Client(base_url=emu.base_url, headers=headers, timeout=10) as c:
            assert c.post(CHAT, json=BODY).json()["object"] == "chat.completion"
            assert c.post(CHAT, json={**BODY, "stream": True}).text.endswith("data: [DONE]\n\n")
            emu.enqueue(StreamFault("stall", after=1, seconds=5))
            with c.stream("POST", CHAT, json={**BODY, "stream": True}) as r:
                next(r.iter_lines())
        deadline = time.monotonic() + 3
        while not emu.requests[-1].closed_early and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emu.requests[-1].closed_early


def test_explicit_port_and_loopback_only() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with Emulator(port=port) as emu:
        assert emu.base_url == f"http://127.0.0.1:{port}"
    for host in ("0.0.0.0", "example.com", "192.168.1.2"):
        with pytest.raises(ValueError):
            Emulator(host=host)
    with pytest.raises(RuntimeError):
        _ = Emulator().base_url


def test_cli_serves_in_the_foreground_and_refuses_other_hosts() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "juhe_core.testing", "--port", "0", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 2 and "loopback" in refused.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "juhe_core.testing", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        base = lines[0].split()[-1]
        key = lines[2].split()[-1]
        assert base.startswith("http://127.0.0.1:") and lines[1].split()[-1] == base + "/v1"
        r = httpx.get(base + "/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert r.status_code == 200 and r.json()["success"] is True
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_a_handler_bug_is_answered_in_json_and_logged(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from juhe_core.testing import _app

    def broken(*_: object) -> None:
        raise KeyError("oops")

    monkeypatch.setitem(_app._ROUTES, ("POST", CHAT), broken)
    r = client.post(CHAT, json=BODY)
    assert r.status_code == 500 and r.json()["error"]["code"] == "emulator_internal_error"
    assert "oops" in r.json()["error"]["message"]
    assert any("emulator bug" in rec.getMessage() for rec in caplog.records)


def test_recording_is_thread_safe(client: httpx.Client, emu: Emulator) -> None:
    def work(_: int) -> str:
        with httpx.Client(base_url=emu.base_url, headers=client.headers, timeout=10) as c:
            return c.post(CHAT, json=BODY).headers["x-oneapi-request-id"]

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(work, range(80)))
    assert len(set(ids)) == 80
    assert sorted(r.request_id for r in emu.requests) == sorted(ids)


def test_fixture_gives_a_cleared_emulator_part_1(
    juhe_emulator: Emulator, client: httpx.Client
) -> None:
    juhe_emulator.enqueue(Reply(text="left over"))
    client.get("/v1/models")
    assert juhe_emulator.pending == 1 and len(juhe_emulator.requests) == 1


def test_fixture_gives_a_cleared_emulator_part_2(juhe_emulator: Emulator) -> None:
    assert juhe_emulator.pending == 0 and juhe_emulator.requests == []
    assert juhe_emulator.running and threading.active_count() >= 2
