"""The LlamaIndex README examples run as written, offline against the emulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from juhe_core.testing import Emulator

README = Path(__file__).parents[2] / "llama_index_juhe" / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(
    code: str,
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    llama_settings: None,  # restores LlamaIndex's global Settings the examples change
) -> None:
    monkeypatch.setenv("JUHE_API_KEY", emu.api_key)
    monkeypatch.setenv("JUHE_BASE_URL", emu.base_url)
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert out.strip()
    assert emu.requests  # it talked to the (emulated) service
