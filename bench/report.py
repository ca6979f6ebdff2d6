"""Turn samples into the Markdown report: machine info, one table per scenario, targets.

Every figure is a median over repeats. "÷ raw" and "÷ peer" are this row's median
divided by the raw-httpx row's (same job, same wire) and by the peer's; "spread" is
(max − min) / median over the repeats, the noise indicator. Errors are summed over all
repeats and the first message of each erring row is listed under its table.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from clients import Row
from scenarios import Sample

PACKAGES = (
    "httpx",
    "httpcore",
    "h11",
    "pydantic",
    "langchain-core",
    "langchain-openai",
    "langchain-anthropic",
    "openai",
    "anthropic",
    "llama-index-core",
    "llama-index-llms-openai-like",
    "llama-index-embeddings-openai",
    "juhe-integrations",
)


@dataclass
class Summary:
    """The repeats of one row folded into medians."""

    value: float | None
    spread: float | None
    errors: int
    first_error: str | None
    repeats: int
    samples: list[Sample]

    def median_of(self, get: Callable[[Sample], float | None]) -> float | None:
        """The median of a per-sample figure, ignoring missing ones."""
        values = [v for v in map(get, self.samples) if v is not None]
        return statistics.median(values) if values else None

    def max_of(self, get: Callable[[Sample], float | None]) -> float | None:
        """The largest per-sample figure."""
        values = [v for v in map(get, self.samples) if v is not None]
        return max(values) if values else None


def summarise(samples: list[Sample]) -> Summary:
    """Median, spread and error totals of one row's samples."""
    values = [s.value for s in samples if s.value is not None]
    median = statistics.median(values) if values else None
    spread = (max(values) - min(values)) / median if median and len(values) > 1 else None
    first = next((s.first_error for s in samples if s.first_error), None)
    return Summary(median, spread, sum(s.errors for s in samples), first, len(samples), samples)


def machine_info(mode: str, sizes: dict[str, Any], load: Sequence[str]) -> list[str]:
    """Lines describing the machine, the software and the run."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu
            )
    except OSError:
        pass
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (absent)")
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = (
        " + uncommitted changes" if _git("status", "--porcelain", "--untracked-files=no") else ""
    )
    return [
        f"- Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({sys.implementation.name})",
        f"- Packages: {', '.join(versions)}",
        f"- Code: commit {commit}{dirty}",
        f"- Mode: {mode}; " + ", ".join(f"{k} {v}" for k, v in sizes.items()),
        f"- Load average (1/5/15 min) at start: {load[0]}; at end: {load[1]}",
    ]


def _git(*args: str) -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    done = subprocess.run(["git", *args], cwd=here, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def fmt(value: float | None, digits: int = 0) -> str:
    """A number for a table cell ('—' when missing)."""
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def ratio(value: float | None, base: float | None) -> str:
    """``value / base`` as '0.42×' ('—' when either is missing)."""
    if value is None or not base:
        return "—"
    return f"{value / base:.2f}×"


def pct(value: float | None) -> str:
    """A fraction as a percentage cell."""
    return "—" if value is None else f"{value * 100:.0f}%"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def error_notes(summaries: dict[str, Summary]) -> list[str]:
    """One line per row that had errors, with its first message."""
    return [
        f"- **{name}**: {s.errors} error(s); first: `{s.first_error}`"
        for name, s in summaries.items()
        if s.errors
    ]


def client_table(
    rows: Sequence[Row],
    summaries: dict[str, Summary],
    columns: Sequence[tuple[str, Callable[[Row, Summary], str]]],
    digits: int = 0,
) -> list[str]:
    """The usual table: client, figure, ÷ raw, ÷ peer, spread, errors, then ``columns``."""
    out = []
    for row in rows:
        s = summaries[row.name]
        raw = summaries[row.raw].value if row.raw else None
        peer = summaries[row.peer].value if row.peer else None
        name = f"**{row.name}**" if row.ours else row.name
        cells = [name, fmt(s.value, digits), ratio(s.value, raw), ratio(s.value, peer)]
        cells += [pct(s.spread), str(s.errors)]
        cells += [get(row, s) for _, get in columns]
        out.append(cells)
    header = ["client", "figure", "÷ raw httpx", "÷ peer", "spread", "errors"]
    lines = table(header + [title for title, _ in columns], out)
    return [*lines, "", noise_line([summaries[row.name] for row in rows])]


def noise_line(summaries: Sequence[Summary]) -> str:
    """How noisy a table is: the median and the largest spread of its rows."""
    spreads = [s.spread for s in summaries if s.spread is not None]
    if not spreads:
        return "Spread: one repeat only, no noise estimate."
    median = statistics.median(spreads)
    return f"Spread over repeats: median {median * 100:.0f}%, largest {max(spreads) * 100:.0f}%."


@dataclass
class Target:
    """One target of the issue, checked."""

    label: str
    rule: str
    measured: str
    passed: bool | None  # None: could not be measured

    def line(self) -> str:
        """The target as a list item with PASS / MISS / N/A."""
        verdict = {True: "PASS", False: "MISS", None: "N/A"}[self.passed]
        return f"- **{verdict}** {self.label}: {self.rule} — measured {self.measured}"
