"""The ``juhe`` command line against the emulator."""

from __future__ import annotations

import pytest

from juhe_core.__main__ import main
from juhe_core.testing import Emulator


def args(emu: Emulator, *rest: str) -> list[str]:
    return ["--api-key", emu.api_key, "--base-url", emu.base_url, *rest]


def test_models_table(juhe_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(juhe_emulator, "models")) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == [
        "model",
        "formats",
        "context",
        "tools",
        "vision",
        "reasoning",
    ]
    assert any(
        line.startswith("gemini-2.5-flash") and "gemini" in line for line in out.splitlines()
    )


def test_chat_streams(juhe_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(juhe_emulator, "chat", "Name three rivers")) == 0
    assert "Name three rivers" in capsys.readouterr().out
    assert juhe_emulator.requests[0].json["stream"] is True  # type: ignore[index]


def test_clear_error_without_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--base-url", "http://127.0.0.1:9", "models"]) == 1
    err = capsys.readouterr().err
    assert "ConfigurationError" in err and "JUHE_API_KEY" in err


@pytest.mark.parametrize("command", [[], ["models"], ["balance"], ["chat"], ["emulator"]])
def test_help_on_every_command(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    assert "usage: juhe" in capsys.readouterr().out
