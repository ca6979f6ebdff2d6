"""Throughput of the emulator under concurrent connections (a script, not a test).

Starts ``python -m juhe_core.testing --port N`` and sends small non-stream chat requests
from C concurrent workers, with three clients, to tell the server's behaviour from the
client's:

- ``raw``: asyncio streams speaking HTTP/1.1 keep-alive, one connection per worker;
- ``httpx``: one shared ``httpx.AsyncClient`` (default limits), the usual way to measure;
- ``httpx-per-worker``: one ``httpx.AsyncClient`` per worker (one connection each), so
  httpcore's connection-pool bookkeeping, which grows with the pool size, stays small.

Prints requests/second, latency percentiles, and the CPU seconds spent by the server and
by the client (Linux ``/proc``) per run.

    .venv/bin/python tests/emulator/concurrency.py [--requests 1000] [--concurrency 1 10 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

KEY = "sk-JuheEmulatorLocalTestKey000000000000000000000000"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}]}
RAW_BODY = json.dumps(BODY).encode()
RAW_REQUEST = (
    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    + f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n".encode()
    + f"Content-Length: {len(RAW_BODY)}\r\n\r\n".encode()
    + RAW_BODY
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Worker = Callable[[int, list[float]], Awaitable[None]]


def raw_workers(port: int) -> Callable[[int], list[Worker]]:
    async def worker(count: int, latencies: list[float]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            start = time.perf_counter()
            writer.write(RAW_REQUEST)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
        writer.close()

    return lambda n: [worker] * n


async def measure(client: str, port: int, concurrency: int, total: int, server: int) -> str:
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {KEY}"}
    latencies: list[float] = []
    clients: list[httpx.AsyncClient] = []
    if client == "httpx":
        shared = httpx.AsyncClient(base_url=base, headers=headers, timeout=60)
        clients = [shared] * concurrency
    elif client == "httpx-per-worker":
        clients = [
            httpx.AsyncClient(base_url=base, headers=headers, timeout=60)
            for _ in range(concurrency)
        ]

    async def httpx_worker(c: httpx.AsyncClient, count: int) -> None:
        for _ in range(count):
            start = time.perf_counter()
            (await c.post("/v1/chat/completions", json=BODY)).raise_for_status()
            latencies.append(time.perf_counter() - start)

    per = total // concurrency
    if client == "raw":
        jobs = [w(per, latencies) for w in raw_workers(port)(concurrency)]
    else:
        jobs = [httpx_worker(c, per) for c in clients]
    cpu0, own0, t0 = cpu_seconds(server), time.process_time(), time.perf_counter()
    await asyncio.gather(*jobs)
    elapsed = time.perf_counter() - t0
    server_cpu, own_cpu = cpu_seconds(server) - cpu0, time.process_time() - own0
    for c in set(clients):
        await c.aclose()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return (
        f"{client:17s} c={concurrency:4d}: {len(latencies) / elapsed:6.0f} req/s  "
        f"p50 {pct(0.5):7.1f} ms  p99 {pct(0.99):7.1f} ms  max {latencies[-1] * 1000:7.1f} ms  "
        f"server CPU {server_cpu / len(latencies) * 1e6:4.0f} us/req  "
        f"client CPU {own_cpu / len(latencies) * 1e6:5.0f} us/req"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--clients", nargs="+", default=["raw", "httpx", "httpx-per-worker"])
    args = parser.parse_args()
    port = free_port()
    cmd = [sys.executable, "-m", "juhe_core.testing", "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        server.stdout.readline()
        for client in args.clients:
            asyncio.run(measure(client, port, 10, 200, server.pid))  # warm-up
            for concurrency in args.concurrency:
                line = asyncio.run(measure(client, port, concurrency, args.requests, server.pid))
                print(line, flush=True)
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
