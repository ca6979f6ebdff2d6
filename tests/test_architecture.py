"""Imports go one way: juhe_core imports no framework; codecs import no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
FRAMEWORKS = ("langchain", "langchain_core", "llama_index", "langchain_juhe", "llama_index_juhe")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", files("juhe_core"), ids=str)
def test_core_imports_no_framework(path: Path) -> None:
    bad = {n for n in imports_of(path) if n.split(".")[0] in FRAMEWORKS}
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", files("juhe_core/wire"), ids=str)
def test_codecs_import_no_io(path: Path) -> None:
    bad = {
        n
        for n in imports_of(path)
        if n.split(".")[0] in ("httpx", "socket", "asyncio")
        or n in ("juhe_core._transport", "juhe_core.client")
    }
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize(
    ("package", "other"), [("langchain_juhe", "llama_index"), ("llama_index_juhe", "langchain")]
)
def test_frameworks_do_not_import_each_other(package: str, other: str) -> None:
    for path in files(package):
        bad = {n for n in imports_of(path) if n.split(".")[0].startswith(other)}
        assert not bad, f"{path} imports {bad}"


def test_emulator_is_an_independent_oracle() -> None:
    for path in files("juhe_core/testing"):
        bad = {
            n
            for n in imports_of(path)
            if n.startswith(
                ("juhe_core.wire", "juhe_core.client", "juhe_core._transport", "juhe_core._sse")
            )
        }
        assert not bad, f"{path} imports {bad}: the emulator must not reuse the client's codecs"
