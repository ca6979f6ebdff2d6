"""The demo runs offline from start to finish and saves its images."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

DEMO = Path(__file__).parent.parent / "examples" / "demo.py"


@pytest.mark.timeout(120)
def test_demo_runs_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(DEMO), run_name="__main__")
    out = capsys.readouterr().out
    assert "offline emulator" in out and out.rstrip().endswith("Done.")
    for heading in (
        "juhe_core: streaming",
        "LangChain: a tool-calling agent",
        "LlamaIndex: RAG query",
        "Midjourney: imagine",
    ):
        assert heading in out
    assert "top source: Paris is the capital of France." in out
    assert (tmp_path / "demo-output" / "fox.png").read_bytes().startswith(b"\x89PNG")
    assert len(list((tmp_path / "demo-output").glob("midjourney-*.png"))) == 1
