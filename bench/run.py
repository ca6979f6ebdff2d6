"""Benchmark ChatJuhe / Juhe / the embedders against their peers and raw httpx (issue 7).

    bench/.venv/bin/python bench/run.py --quick     # about 1.5 minutes
    bench/.venv/bin/python bench/run.py             # the full run for the README table
    bench/.venv/bin/python bench/run.py --only b,c  # some scenarios

Starts the fake upstream (``fake_upstream.py``) in its own process, runs the scenarios
with the clients interleaved (the order rotates every repeat, so slow drifts in machine
load hit every client alike), prints the Markdown report and writes it to
``bench/results/latest.md``. Scenarios: (a) cold import, (b) sequential sync calls,
(c) one long stream, (d) a burst of concurrent async calls at 100 ms latency,
(e) embeddings sync and async, (f) peak RSS after import and one call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import clients
import scenarios
from clients import ANSWER, Row
from report import (
    Summary,
    Target,
    client_table,
    error_notes,
    fmt,
    machine_info,
    noise_line,
    pct,
    summarise,
)
from report import table as md_table
from scenarios import Fake, Sample

HERE = os.path.dirname(os.path.abspath(__file__))
FULL = {
    "import_repeats": 7,
    "rss_repeats": 3,
    "calls": 1000,
    "call_repeats": 5,
    "chunks": 20_000,
    "stream_repeats": 5,
    "burst": 1000,
    "burst_repeats": 3,
    "texts": 20_000,
    "embed_repeats": 5,
    "quick": False,
}
QUICK = {
    "import_repeats": 1,
    "rss_repeats": 1,
    "calls": 100,
    "call_repeats": 2,
    "chunks": 3_000,
    "stream_repeats": 1,
    "burst": 1000,
    "burst_repeats": 1,
    "texts": 3_000,
    "embed_repeats": 1,
    "quick": True,
}
LATENCY_MS = 100
BURST_TARGET_S = 2.0
IMPORTS = (
    # (label, statement, framework it adds to, peer)
    ("httpx", "import httpx", None, None),
    ("juhe_core", "import juhe_core", None, None),
    ("juhe_core.client", "import juhe_core.client", None, None),
    ("langchain_core.language_models", "import langchain_core.language_models", None, None),
    (
        "BaseChatModel",
        "from langchain_core.language_models import BaseChatModel",
        "langchain_core.language_models",
        None,
    ),
    ("langchain_openai", "import langchain_openai", "langchain_core.language_models", None),
    ("langchain_anthropic", "import langchain_anthropic", "langchain_core.language_models", None),
    (
        "langchain_juhe",
        "import langchain_juhe",
        "langchain_core.language_models",
        "langchain_openai",
    ),
    (
        "ChatJuhe",
        "from langchain_juhe import ChatJuhe",
        "langchain_core.language_models",
        "langchain_openai",
    ),
    ("llama_index.core.llms", "import llama_index.core.llms", None, None),
    (
        "llama_index.llms.openai_like",
        "import llama_index.llms.openai_like",
        "llama_index.core.llms",
        None,
    ),
    (
        "llama_index.embeddings.openai",
        "import llama_index.embeddings.openai",
        "llama_index.core.llms",
        None,
    ),
    (
        "llama_index_juhe",
        "import llama_index_juhe",
        "llama_index.core.llms",
        "llama_index.llms.openai_like",
    ),
)
Section = tuple[list[str], list[Target]]


def log(message: str) -> None:
    """Progress on stderr (the report goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def interleaved(
    names: Sequence[str], repeats: int, measure: Callable[[str], Sample], what: str
) -> dict[str, list[Sample]]:
    """Measure every name ``repeats`` times, the order rotating each repeat."""
    samples: dict[str, list[Sample]] = {name: [] for name in names}
    for rep in range(repeats):
        shift = rep % len(names)
        for name in [*names[shift:], *names[:shift]]:
            sample = measure(name)
            samples[name].append(sample)
            flag = f" ({sample.errors} errors)" if sample.errors else ""
            log(f"  {what} {rep + 1}/{repeats} {name}: {fmt(sample.value, 1)}{flag}")
    return samples


def summaries_of(samples: dict[str, list[Sample]]) -> dict[str, Summary]:
    """Each row's samples folded."""
    return {name: summarise(s) for name, s in samples.items()}


def value(summaries: dict[str, Summary], name: str) -> float | None:
    """A row's median figure."""
    return summaries[name].value


def ratio_target(
    label: str, ours: float | None, peer: float | None, limit: float, *, higher: bool
) -> Target:
    """``ours / peer`` ≥ ``limit`` (throughput) or ≤ ``limit`` (time)."""
    if ours is None or not peer:
        return Target(label, f"{'≥' if higher else '≤'} {limit}× peer", "no figure", None)
    r = ours / peer
    passed = r >= limit if higher else r <= limit
    return Target(label, f"{'≥' if higher else '≤'} {limit}× peer", f"{r:.2f}×", passed)


# --- (a) cold import ---


def section_imports(cfg: dict[str, Any]) -> Section:
    """(a): each import statement in fresh interpreters."""
    log("(a) cold imports")
    statements = {label: stmt for label, stmt, _, _ in IMPORTS}
    if not cfg["quick"]:
        for stmt in statements.values():  # compile .pyc files and warm the page cache
            scenarios.cold_import(stmt)
    samples = interleaved(
        list(statements),
        cfg["import_repeats"],
        lambda label: scenarios.cold_import(statements[label]),
        "import",
    )
    s = summaries_of(samples)
    rows = []
    for label, _, framework, peer in IMPORTS:
        ms = s[label].value
        base = value(s, framework) if framework else None
        added = fmt(ms - base, 0) if ms is not None and base is not None else "—"
        modules = s[label].median_of(lambda x: x.extra.get("modules"))
        statement = f"`{statements[label]}`"
        cells = [statement, fmt(ms, 0), f"+{added}" if framework else "—"]
        cells += [_ratio(ms, value(s, "httpx")), _ratio(ms, value(s, peer) if peer else None)]
        cells += [pct(s[label].spread), str(s[label].errors), fmt(modules)]
        rows.append(cells)
    header = ["import", "ms", "over its framework", "÷ `import httpx`", "÷ peer"]
    lines = md_table([*header, "spread", "errors", "modules loaded"], rows)
    lines += ["", noise_line(list(s.values()))]
    targets = [
        # What users pay: the package itself is lazy, so the class is the honest figure.
        _over_target(
            "(a) `from langchain_juhe import ChatJuhe`",
            s,
            "ChatJuhe",
            "langchain_core.language_models",
        ),
        _over_target(
            "(a) `import llama_index_juhe`", s, "llama_index_juhe", "llama_index.core.llms"
        ),
    ]
    floor = _over_target(
        "(a, beyond the issue) `from langchain_juhe import ChatJuhe`",
        s,
        "ChatJuhe",
        "BaseChatModel",
    )
    floor.rule = "≤ `from langchain_core.language_models import BaseChatModel` + 150 ms"
    targets.append(floor)
    core = value(s, "juhe_core")
    targets.append(
        Target(
            "(a) `import juhe_core`",
            "≤ 250 ms",
            f"{fmt(core, 0)} ms",
            None if core is None else core <= 250,
        )
    )
    return lines + error_notes(s), targets


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}×"


def _over_target(label: str, s: dict[str, Summary], ours: str, framework: str) -> Target:
    a, b = value(s, ours), value(s, framework)
    if a is None or b is None:
        return Target(label, f"≤ `import {framework}` + 150 ms", "no figure", None)
    return Target(
        label,
        f"≤ `import {framework}` + 150 ms",
        f"{a:.0f} ms = {b:.0f} + {a - b:.0f} ms",
        a - b <= 150,
    )


# --- (f) peak RSS ---


def section_rss(cfg: dict[str, Any], fake: Fake) -> Section:
    """(f): import + one call in fresh processes; peak RSS."""
    log("(f) peak RSS")
    rows = {row.name: row for row in clients.RSS_ROWS}
    samples = interleaved(
        list(rows), cfg["rss_repeats"], lambda n: scenarios.peak_rss(rows[n], fake.url), "rss"
    )
    s = summaries_of(samples)

    def over(row: Row, summary: Summary) -> str:
        bare = value(s, row.peer) if row.peer else None
        if summary.value is None or bare is None:
            return "—"
        return f"+{summary.value - bare:.1f}"

    def modules(row: Row, summary: Summary) -> str:
        return fmt(summary.median_of(lambda x: x.extra.get("modules")))

    extra = [("MiB over bare framework", over), ("modules loaded", modules)]
    lines = client_table(clients.RSS_ROWS, s, extra, digits=1)
    targets = []
    for row in clients.RSS_ROWS:
        if row.ours and row.peer:
            a, b = value(s, row.name), value(s, row.peer)
            ok: bool | None = None
            got = "no figure"
            if a is not None and b is not None:
                ok = a <= b + 15
                got = f"{a:.1f} MiB = {b:.1f} + {a - b:.1f} MiB"
            targets.append(Target(f"(f) {row.name} peak RSS", f"≤ {row.peer} + 15 MiB", got, ok))
    return lines + error_notes(s), targets


# --- (b) sequential calls and (c) one long stream ---


def section_calls(cfg: dict[str, Any], fake: Fake) -> Section:
    """(b): sequential sync non-stream calls on long-lived clients."""
    log("(b) sequential sync calls")
    adapters = {row.name: row.make(fake.url, "bench") for row in clients.CHAT_ROWS}
    for name, adapter in adapters.items():  # first-call costs (lazy imports, clients) out
        for _ in range(20):
            if adapter.invoke() != ANSWER:
                raise RuntimeError(f"{name} answered wrongly while warming up")
    samples = interleaved(
        list(adapters),
        cfg["call_repeats"],
        lambda n: scenarios.sequential(adapters[n], cfg["calls"], fake),
        "calls",
    )
    s = summaries_of(samples)

    def cpu(row: Row, summary: Summary) -> str:
        return fmt(summary.median_of(lambda x: x.extra.get("cpu_us_per_call")))

    def conns(row: Row, summary: Summary) -> str:
        return fmt(summary.max_of(lambda x: x.connections))

    def busy(row: Row, summary: Summary) -> str:
        return pct(summary.max_of(lambda x: x.fake_busy))

    extra = [("client CPU µs/call", cpu), ("connections", conns), ("fake busy", busy)]
    lines = client_table(clients.CHAT_ROWS, s, extra)
    raw = s[clients.RAW_O]
    fake_share = raw.max_of(lambda x: x.fake_busy)
    client_share = raw.median_of(lambda x: x.extra.get("cpu_us_per_call"))
    if fake_share is not None and client_share is not None and raw.value:
        lines.append(
            f"Fake check: during the raw httpx loop the fake was busy {fake_share:.0%} of the "
            f"wall time at most, the client {client_share / raw.value:.0%}: the client, not "
            "the fake, sets the pace."
        )
    targets = [
        ratio_target(
            "(b) ChatJuhe [openai] µs/call",
            value(s, "ChatJuhe [openai]"),
            value(s, "ChatOpenAI"),
            0.6,
            higher=False,
        ),
        ratio_target(
            "(b) Juhe [openai] µs/call vs OpenAILike",
            value(s, "Juhe [openai]"),
            value(s, "OpenAILike"),
            0.6,
            higher=False,
        ),
        ratio_target(
            "(b, beyond the issue) ChatJuhe [anthropic] µs/call vs ChatAnthropic",
            value(s, "ChatJuhe [anthropic]"),
            value(s, "ChatAnthropic"),
            0.6,
            higher=False,
        ),
    ]
    return lines + error_notes(s), targets


def section_stream(cfg: dict[str, Any], fake: Fake) -> Section:
    """(c): one streamed answer of many chunks, per client."""
    log("(c) one long stream")
    model = f"bench-stream-{cfg['chunks']}"
    fake.warm(model)
    adapters = {row.name: row.make(fake.url, model) for row in clients.CHAT_ROWS}
    samples = interleaved(
        list(adapters),
        cfg["stream_repeats"],
        lambda n: scenarios.stream(adapters[n], cfg["chunks"], fake),
        "stream",
    )
    s = summaries_of(samples)

    def pieces(row: Row, summary: Summary) -> str:
        return fmt(summary.median_of(lambda x: x.extra.get("pieces")))

    def busy(row: Row, summary: Summary) -> str:
        return pct(summary.max_of(lambda x: x.fake_busy))

    def per_chunk(row: Row, summary: Summary) -> str:
        return fmt(1e6 / summary.value, 1) if summary.value else "—"

    extra = [("µs/chunk", per_chunk), ("items yielded", pieces), ("fake busy", busy)]
    lines = client_table(clients.CHAT_ROWS, s, extra)
    targets = [
        ratio_target(
            "(c) ChatJuhe [openai] chunks/s vs ChatOpenAI",
            value(s, "ChatJuhe [openai]"),
            value(s, "ChatOpenAI"),
            3.0,
            higher=True,
        ),
        ratio_target(
            "(c) ChatJuhe [anthropic] chunks/s vs ChatAnthropic",
            value(s, "ChatJuhe [anthropic]"),
            value(s, "ChatAnthropic"),
            1.3,
            higher=True,
        ),
        ratio_target(
            "(c) Juhe [openai] stream_chat chunks/s vs OpenAILike",
            value(s, "Juhe [openai]"),
            value(s, "OpenAILike"),
            3.0,
            higher=True,
        ),
    ]
    return lines + error_notes(s), targets


# --- (d) a burst of concurrent async calls ---


def section_burst(cfg: dict[str, Any], fake: Fake, loop: asyncio.AbstractEventLoop) -> Section:
    """(d): many concurrent async calls on a fresh client, with server latency."""
    log(f"(d) {cfg['burst']} concurrent calls at {LATENCY_MS} ms")
    rows = {row.name: row for row in clients.BURST_ROWS if row.quick or not cfg["quick"]}
    samples = interleaved(
        list(rows),
        cfg["burst_repeats"],
        lambda n: scenarios.burst(rows[n], fake, loop, cfg["burst"], LATENCY_MS),
        "burst",
    )
    s = summaries_of(samples)

    def cpu(row: Row, summary: Summary) -> str:
        return fmt(summary.median_of(lambda x: x.client_cpu), 2)

    def conns(row: Row, summary: Summary) -> str:
        return fmt(summary.max_of(lambda x: x.connections))

    def most_open(row: Row, summary: Summary) -> str:
        return fmt(summary.max_of(lambda x: x.max_open))

    extra = [("client CPU s", cpu), ("connections opened", conns), ("most open", most_open)]
    lines = client_table([r for r in clients.BURST_ROWS if r.name in rows], s, extra, digits=2)
    pool = _pool_size()
    targets = []
    for row in (r for r in clients.BURST_ROWS if r.name in rows):
        if not row.ours or row.name.startswith("juhe_core"):
            continue
        summary = s[row.name]
        wall = summary.max_of(lambda x: x.value)
        opened = summary.max_of(lambda x: x.connections)
        ok = (
            wall is not None
            and wall <= BURST_TARGET_S
            and summary.errors == 0
            and opened is not None
            and opened <= pool
        )
        got = f"worst {fmt(wall, 2)} s, {summary.errors} errors, {fmt(opened)} connections"
        rule = f"≤ {BURST_TARGET_S} s, 0 errors, ≤ {pool} connections (the pool size)"
        label = f"(d) {row.name}, 1,000 concurrent"
        targets.append(Target(label, rule, got, ok))
    return lines + error_notes(s), targets


def _pool_size() -> int:
    from juhe_core._transport import DEFAULT_LIMITS

    return int(DEFAULT_LIMITS.max_connections or 0)


# --- (e) embeddings ---


def section_embed(cfg: dict[str, Any], fake: Fake, loop: asyncio.AbstractEventLoop) -> Section:
    """(e): many texts embedded, sync then async, on long-lived embedders."""
    texts = scenarios.texts_for(cfg["texts"])
    adapters = {row.name: row.make(fake.url, clients.EMBED_MODEL) for row in clients.EMBED_ROWS}
    for adapter in adapters.values():
        adapter.embed(texts[:10])
        loop.run_until_complete(adapter.aembed(texts[:10]))
    lines, targets = [], []
    for mode, run_loop in (("sync", None), ("async", loop)):
        log(f"(e) embeddings, {mode}")

        def measure(n: str, rl: asyncio.AbstractEventLoop | None = run_loop) -> Sample:
            return scenarios.embed(adapters[n], texts, fake, rl)

        samples = interleaved(list(adapters), cfg["embed_repeats"], measure, f"embed {mode}")
        s = summaries_of(samples)

        def requests(row: Row, summary: Summary) -> str:
            return fmt(summary.max_of(lambda x: x.requests))

        def conns(row: Row, summary: Summary) -> str:
            return fmt(summary.max_of(lambda x: x.connections))

        def busy(row: Row, summary: Summary) -> str:
            return pct(summary.max_of(lambda x: x.fake_busy))

        extra = [("requests", requests), ("connections", conns), ("fake busy", busy)]
        lines += [f"**{mode}**", "", *client_table(clients.EMBED_ROWS, s, extra), ""]
        lines += error_notes(s)
        for ours, peer in (
            ("JuheEmbeddings", "OpenAIEmbeddings †"),
            (clients.JUHE_EMBEDDINGS_1000, "OpenAIEmbeddings †"),
            ("JuheEmbedding", "OpenAIEmbedding (llama-index)"),
        ):
            targets.append(_embed_target(mode, s, ours, peer))
    return lines, targets


def _embed_target(mode: str, s: dict[str, Summary], ours: str, peer: str) -> Target:
    beyond = {"JuheEmbeddings": "", "JuheEmbedding": "beyond the issue: "}.get(ours, "proposal: ")
    label = f"(e, {beyond}{mode}) {ours} texts/s vs {peer}"
    target = ratio_target(label, value(s, ours), value(s, peer), 2.0, higher=True)
    ours_requests = s[ours].max_of(lambda x: x.requests)
    peer_requests = s[peer].max_of(lambda x: x.requests)
    target.rule += ", requests ≤ peer's"
    target.measured += f", {fmt(ours_requests)} vs {fmt(peer_requests)} requests"
    if target.passed is not None and ours_requests is not None and peer_requests is not None:
        target.passed = target.passed and ours_requests <= peer_requests
    return target


# --- the run ---

SECTIONS = {
    "a": "(a) Cold import, fresh process (ms)",
    "f": "(f) Peak RSS after import + one call, fresh process (MiB)",
    "b": "(b) Sequential sync non-stream calls (µs per call, wall)",
    "c": "(c) One streamed answer (content chunks per second)",
    "d": "(d) Concurrent async calls at 100 ms server latency (wall seconds)",
    "e": "(e) Embeddings (texts per second)",
}
NOTES = {
    "b": "Long-lived client objects, 20 warm-up calls each. ÷ < 1 is faster.",
    "c": "One stream per repeat. ÷ > 1 is faster. The fake sends one HTTP chunk per SSE "
    "event, as a server flushing every token does.",
    "d": "A fresh client object per repeat, all calls started at once on one event loop. "
    "Connections = TCP connections the fake accepted during the burst. The baseline is "
    "raw httpx on `bench/bounded_pool.py` (a pool without httpcore 1.0.9's O(pool²) "
    "bookkeeping per request; `--quick` skips the pool variants).",
    "e": "† `OpenAIEmbeddings(check_embedding_ctx_length=False)` so that it sends strings; "
    "by default it tokenizes with tiktoken and sends token arrays. Each class with its "
    "default batch size; the raw row sends 1,000 texts per request, 4 in flight when async. "
    "÷ > 1 is faster.",
    "f": "`ru_maxrss` of a child that imports the client, builds it and makes one call.",
    "a": "`time.perf_counter()` around the statement, first thing in a fresh interpreter "
    "(warm .pyc and page cache).",
}


def main() -> None:
    """Parse arguments, run the scenarios, print and save the report."""
    parser = argparse.ArgumentParser(description="Benchmark the Juhe integrations (issue 7).")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, ~1.5 minutes")
    parser.add_argument("--only", default="abcdef", help="scenarios to run, e.g. b,c")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "latest.md"))
    args = parser.parse_args()
    cfg = QUICK if args.quick else FULL
    wanted = [k for k in SECTIONS if k in args.only]
    warnings.simplefilter("ignore")
    load_start = _loadavg()
    started = time.perf_counter()
    fake = Fake()
    loop = asyncio.new_event_loop()
    try:
        fake.warm("bench")
        runners: dict[str, Callable[[], Section]] = {
            "a": lambda: section_imports(cfg),
            "f": lambda: section_rss(cfg, fake),
            "b": lambda: section_calls(cfg, fake),
            "c": lambda: section_stream(cfg, fake),
            "d": lambda: section_burst(cfg, fake, loop),
            "e": lambda: section_embed(cfg, fake, loop),
        }
        results = {}
        for key in wanted:
            began = time.perf_counter()
            results[key] = runners[key]()
            log(f"({key}) took {time.perf_counter() - began:.0f} s")
    finally:
        loop.close()
        fake.stop()
    elapsed = time.perf_counter() - started
    mode = "quick" if args.quick else "full"
    info = machine_info(mode, cfg, (load_start, _loadavg()))
    text = render(results, info, elapsed)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"written to {args.out}")


def render(results: dict[str, Section], info: list[str], elapsed: float) -> str:
    """The whole report."""
    lines = ["# Benchmark results", "", *info, f"- Took {elapsed:.0f} s", ""]
    targets = [t for _, ts in results.values() for t in ts]
    lines += ["## Targets (issue 7)", "", *(t.line() for t in targets), ""]
    lines += [
        "Figures are medians over the repeats; `÷ raw httpx` and `÷ peer` divide this row's "
        "median by that row's; `spread` is (max − min) / median over the repeats; errors "
        "are summed over every repeat. **Bold** rows are this project's. `fake busy` is the "
        "fake's CPU time over the wall time (far below 100%: the fake was not the limit).",
        "",
    ]
    for key, (table_lines, _) in results.items():
        lines += [f"## {SECTIONS[key]}", "", NOTES[key], "", *table_lines, ""]
    return "\n".join(lines)


def _loadavg() -> str:
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


if __name__ == "__main__":
    main()
