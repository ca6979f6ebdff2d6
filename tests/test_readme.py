"""Every Python block of the top-level README runs as written against the emulator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from juhe_core.testing import Emulator

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.fixture
def restore_llama_settings() -> Iterator[None]:
    from llama_index.core import Settings

    saved = (Settings._llm, Settings._embed_model)
    yield
    Settings._llm, Settings._embed_model = saved


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(
    code: str,
    juhe_emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_llama_settings: None,
) -> None:
    monkeypatch.setenv("JUHE_API_KEY", juhe_emulator.api_key)
    monkeypatch.setenv("JUHE_BASE_URL", juhe_emulator.base_url)
    exec(compile(code, str(README), "exec"), {"__name__": "readme"})
    assert capsys.readouterr().out.strip()
    # blocks talk to the fixture's emulator, except the one that starts its own
    assert juhe_emulator.requests or "with Emulator() as emu" in code
