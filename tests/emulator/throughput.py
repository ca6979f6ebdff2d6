"""Throughput of the emulator as a separate process (a script, not a test).

Starts ``python -m juhe_core.testing --port N`` and sends small non-stream chat requests
from one sequential ``httpx.Client``, in several rounds; prints requests/second per round
and the server's CPU time per request (Linux ``/proc``). The target is >= 2,000 req/s.

    .venv/bin/python tests/emulator/throughput.py [--requests 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx

KEY = "sk-JuheEmulatorLocalTestKey000000000000000000000000"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hello."}]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    cmd = [sys.executable, "-m", "juhe_core.testing", "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        server.stdout.readline()
        headers = {"Authorization": f"Bearer {KEY}"}
        rates = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for _ in range(300):
                client.post("/v1/chat/completions", json=BODY).raise_for_status()
            for i in range(args.rounds):
                cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
                for _ in range(args.requests):
                    client.post("/v1/chat/completions", json=BODY).json()
                elapsed = time.perf_counter() - t0
                cpu = (cpu_seconds(server.pid) - cpu0) / args.requests * 1e6
                rates.append(args.requests / elapsed)
                print(f"round {i + 1}: {rates[-1]:6.0f} req/s, server CPU {cpu:4.0f} us/request")
        print(f"median {statistics.median(rates):.0f} req/s, best {max(rates):.0f} req/s")
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
