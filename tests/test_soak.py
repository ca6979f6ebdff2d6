"""A small fault soak (bench/soak.py has the full one): ChatJuhe and Juhe, half streaming,
against an emulator injecting 429s, 5xx, cut streams, mid-stream errors and latency."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SOAK = Path(__file__).parent.parent / "bench" / "soak.py"


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(240)
def test_small_fault_soak() -> None:
    soak = load_soak()
    report = soak.run_soak(calls=400, texts=5_000, rss_requests=0, concurrency=50)
    assert report.outcomes["wrong"] == 0, report
    assert report.outcomes["hang"] == 0, report
    assert report.outcomes["untyped"] == 0, report
    assert report.outcomes["ok"] >= 300, report  # faults are rare enough that most succeed
    assert report.outcomes["typed error"] > 0, report  # and the soak did inject some
    assert report.outcomes["embed ok"] + report.outcomes["embed typed error"] == 1, report
    assert report.open_connections == 0, report
    assert report.unclosed_warnings == 0, report
