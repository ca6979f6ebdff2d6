"""``python -m juhe_core.testing --port N [--host 127.0.0.1]``: the emulator in the foreground."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Sequence

from ._server import _LOOPBACK, Emulator


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, serve until SIGINT/SIGTERM, return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m juhe_core.testing", description=__doc__)
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (0: any free port)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--seed", type=int, default=0, help="seed of ids and chunk splits")
    parser.add_argument("--record", action="store_true", help="keep every request in memory")
    parser.add_argument(
        "--mj-step", type=float, default=0.05, help="seconds per Midjourney task stage"
    )
    parser.add_argument("--quota", type=float, default=100.0, help="key quota in dollars")
    args = parser.parse_args(argv)
    if args.host not in _LOOPBACK:
        parser.error(f"refusing to bind {args.host!r}: the emulator listens on loopback only")
    emulator = Emulator(
        port=args.port,
        host=args.host,
        seed=args.seed,
        record=args.record,
        quota_usd=args.quota,
        mj_step_seconds=args.mj_step,
    )
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    with emulator:
        gc.freeze()  # startup objects never need collecting again; keeps GC pauses short
        print(f"Juhe emulator listening on {emulator.base_url}", flush=True)
        print(f"base_url: {emulator.base_url}/v1", flush=True)
        print(f"api_key:  {emulator.api_key}", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
