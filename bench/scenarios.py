"""The scenarios, each a function measuring one client once (one repeat).

Each returns a ``Sample``: the headline figure, the errors seen (counted, with the first
message kept), and what the fake saw meanwhile (requests, TCP connections accepted, its
own CPU time as a share of the wall time). A wrong answer counts as an error, like an
exception: a fast client that drops chunks must not look good.

(a) and (f) run in fresh child processes (``child_import`` / ``child_rss`` are the
children's code); (b)–(e) run in this process, async ones on one long-lived event loop.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from clients import ANSWER, DIMENSIONS, Row
from fake_upstream import WORDS

HERE = os.path.dirname(os.path.abspath(__file__))
BURST_TIMEOUT = 120.0


@dataclass
class Sample:
    """One repeat of one client in one scenario."""

    value: float | None
    """The headline figure (None when the repeat failed outright)."""
    errors: int = 0
    """Calls that raised or answered wrongly."""
    first_error: str | None = None
    """The first error's type and message."""
    requests: int | None = None
    """Requests the fake served."""
    connections: int | None = None
    """TCP connections the fake accepted."""
    max_open: int | None = None
    """Most connections open at once at the fake."""
    fake_busy: float | None = None
    """The fake's CPU seconds over the wall seconds: near 1.0 would mean it was the limit."""
    client_cpu: float | None = None
    """This process's CPU seconds over the repeat."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Scenario-specific figures (modules imported, chunks seen ...)."""


class Fake:
    """The fake upstream in its own process, with its counters."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "fake_upstream.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.process.kill()
            raise RuntimeError(f"the fake did not start: {line!r}")
        self.url = line.removeprefix("listening on ")
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def reset(self) -> None:
        """Zero the counters."""
        self.http.post("/stats/reset").raise_for_status()

    def stats(self) -> dict[str, Any]:
        """The counters since the last reset."""
        stats: dict[str, Any] = self.http.get("/stats").json()
        return stats

    def warm(self, model: str) -> None:
        """Build the fake's cached bodies for ``model`` (both wire formats, both modes)."""
        for path in ("/v1/chat/completions", "/v1/messages"):
            for stream in (False, True):
                body: dict[str, Any] = {"model": model, "stream": stream, "messages": []}
                self.http.post(path, json=body).raise_for_status()

    def stop(self) -> None:
        """Stop the fake process."""
        self.http.close()
        self.process.terminate()
        self.process.wait(timeout=10)


class _Window:
    """Times a repeat and collects what the fake saw during it."""

    def __init__(self, fake: Fake) -> None:
        self.fake = fake

    def __enter__(self) -> _Window:
        gc.collect()  # start every repeat from the same heap, outside the timed region
        self.fake.reset()
        self.cpu = time.process_time()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.start
        self.cpu = time.process_time() - self.cpu

    def sample(self, value: float | None, errors: int, first: str | None, **extra: Any) -> Sample:
        stats = self.fake.stats()
        return Sample(
            value=value,
            errors=errors,
            first_error=first,
            requests=stats["requests"],
            connections=stats["connections"],
            max_open=stats["max_open"],
            fake_busy=stats["cpu_seconds"] / self.wall if stats["requests"] else None,
            client_cpu=self.cpu,
            extra=extra,
        )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:160]}"


# --- (b) sequential sync calls ---


def sequential(adapter: Any, calls: int, fake: Fake) -> Sample:
    """``calls`` sync non-stream calls one after another; µs per call (wall)."""
    errors, first = 0, None
    with _Window(fake) as window:
        for _ in range(calls):
            try:
                text = adapter.invoke()
            except Exception as exc:
                errors, first = errors + 1, first or _describe(exc)
                continue
            if text != ANSWER:
                errors, first = errors + 1, first or f"wrong answer: {text[:80]!r}"
    cpu_us = window.cpu / calls * 1e6
    return window.sample(window.wall / calls * 1e6, errors, first, cpu_us_per_call=cpu_us)


# --- (c) one long stream ---


def expected_text(chunks: int) -> str:
    """The text the fake streams in ``chunks`` content chunks."""
    return "".join(WORDS[i % len(WORDS)] for i in range(chunks))


def stream(adapter: Any, chunks: int, fake: Fake) -> Sample:
    """One streamed answer of ``chunks`` chunks; content chunks per second."""
    pieces: list[str] = []
    error = None
    with _Window(fake) as window:
        try:
            pieces.extend(adapter.stream())
        except Exception as exc:
            error = _describe(exc)
    if error is None and "".join(pieces) != expected_text(chunks):
        error = f"wrong text: {len(''.join(pieces))} characters, {len(pieces)} pieces"
    value = None if error else chunks / window.wall
    return window.sample(value, int(error is not None), error, pieces=len(pieces))


# --- (d) a burst of concurrent async calls ---


async def _burst(make: Callable[[str, str], Any], url: str, model: str, calls: int) -> Sample:
    adapter = make(url, model)
    cpu, start = time.process_time(), time.perf_counter()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(adapter.ainvoke() for _ in range(calls)), return_exceptions=True),
            BURST_TIMEOUT,
        )
    except asyncio.TimeoutError:
        results = [TimeoutError(f"burst not done in {BURST_TIMEOUT:.0f} s")] * calls
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    errors, first = 0, None
    for result in results:
        if isinstance(result, BaseException):
            errors, first = errors + 1, first or _describe(result)
        elif result != ANSWER:
            errors, first = errors + 1, first or f"wrong answer: {str(result)[:80]!r}"
    return Sample(value=wall, errors=errors, first_error=first, client_cpu=cpu)


def burst(
    row: Row, fake: Fake, loop: asyncio.AbstractEventLoop, calls: int, latency_ms: int
) -> Sample:
    """``calls`` concurrent async calls on a fresh client, ``latency_ms`` at the fake."""
    gc.collect()
    fake.reset()
    model = f"bench-lat-{latency_ms}"
    sample = loop.run_until_complete(_burst(row.make, fake.url, model, calls))
    stats = fake.stats()
    sample.requests, sample.connections = stats["requests"], stats["connections"]
    sample.max_open = stats["max_open"]
    if sample.value:
        sample.fake_busy = stats["cpu_seconds"] / sample.value
    gc.collect()  # drop the client and its pool before the next row
    return sample


# --- (e) embeddings ---


def texts_for(count: int) -> list[str]:
    """Distinct short texts, as chunks of a document would be."""
    return [
        f"Passage {i}: the relay forwards this text to an embedding model." for i in range(count)
    ]


def _check_vectors(vectors: list[list[float]], count: int) -> str | None:
    if len(vectors) != count:
        return f"{len(vectors)} vectors for {count} texts"
    if any(len(v) != DIMENSIONS for v in (vectors[0], vectors[-1])):
        return f"vectors of {len(vectors[0])} numbers, not {DIMENSIONS}"
    return None


def embed(
    adapter: Any, texts: list[str], fake: Fake, loop: asyncio.AbstractEventLoop | None
) -> Sample:
    """Embed ``texts`` (async on ``loop`` when given); texts per second."""
    error = None
    vectors: list[list[float]] = []
    with _Window(fake) as window:
        try:
            if loop is None:
                vectors = adapter.embed(texts)
            else:
                vectors = loop.run_until_complete(adapter.aembed(texts))
        except Exception as exc:
            error = _describe(exc)
    error = error or _check_vectors(vectors, len(texts))
    value = None if error else len(texts) / window.wall
    return window.sample(value, int(error is not None), error)


# --- (a) cold import and (f) peak RSS, in fresh processes ---

_IMPORT_CHILD = """
import sys, time, json
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "modules": len(sys.modules)}}))
"""


def cold_import(statement: str) -> Sample:
    """Run ``statement`` first thing in a fresh interpreter; milliseconds it took."""
    code = _IMPORT_CHILD.format(statement=statement)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode:
        return Sample(None, 1, done.stderr.strip().splitlines()[-1][:160])
    out = json.loads(done.stdout)
    return Sample(out["seconds"] * 1000, extra={"modules": out["modules"]})


_RSS_CHILD = """
import json, resource, sys
sys.path.insert(0, {here!r})
import clients
error = None
try:
    clients.find(clients.RSS_ROWS, {name!r}).make({url!r}, "bench").invoke()
except Exception as exc:
    error = f"{{type(exc).__name__}}: {{str(exc)[:160]}}"
mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({{"mib": mib, "error": error, "modules": len(sys.modules)}}))
"""


def peak_rss(row: Row, url: str) -> Sample:
    """Peak RSS (MiB) of a fresh process that imports ``row``'s client and calls it once.

    The child imports only ``clients`` (standard library at import time) and then what
    the row's factory imports, so the bare-framework rows carry no HTTP stack.
    """
    code = _RSS_CHILD.format(here=HERE, name=row.name, url=url)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode:
        return Sample(None, 1, (done.stderr.strip().splitlines() or ["?"])[-1][:160])
    out = json.loads(done.stdout)
    errors = int(out["error"] is not None)
    return Sample(out["mib"], errors, out["error"], extra={"modules": out["modules"]})
