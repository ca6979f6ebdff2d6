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


SHELL_BLOCKS = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)


def test_the_shell_commands_name_real_targets_and_extras() -> None:
    """The bash blocks are checked, not run (they install from PyPI): every ``make``
    target exists, every extra is declared, and CI runs the README's test command."""
    tomllib = pytest.importorskip("tomllib")  # 3.11+

    root = README.parent
    text = "\n".join(SHELL_BLOCKS)
    targets = set(re.findall(r"^make (\w+)", text, flags=re.M))
    assert targets == {"demo", "test"}
    makefile = (root / "Makefile").read_text()
    assert all(re.search(rf"^{t}:", makefile, flags=re.M) for t in targets)
    extras = set(re.findall(r'pip install "juhe-integrations\[([\w-]+)\]"', text))
    assert extras == {"langchain", "llama-index", "all"}
    declared = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert extras <= set(declared["optional-dependencies"])
    assert declared["name"] == "juhe-integrations"
    ci = (root / ".ci" / "run").read_text()
    assert re.search(r"^\s*(exec )?make test\b", ci, flags=re.M), "CI must run `make test`"
