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


def test_balance(juhe_emulator: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args(juhe_emulator, "balance")) == 0
    out = capsys.readouterr().out
    assert "limit $100.00" in out and "remaining $" in out


def _env(emu: Emulator) -> dict[str, str]:
    import os

    return {**os.environ, "JUHE_API_KEY": emu.api_key, "JUHE_BASE_URL": emu.base_url}


@pytest.mark.parametrize("entry", ["module", "console script"])
def test_the_command_runs_as_a_real_process(juhe_emulator: Emulator, entry: str) -> None:
    """``python -m juhe_core`` and the installed ``juhe`` script, key from the environment."""
    import subprocess
    import sys
    from pathlib import Path

    if entry == "module":
        command = [sys.executable, "-m", "juhe_core", "models"]
    else:
        script = Path(sys.executable).parent / "juhe"
        assert script.exists(), "the juhe console script is not installed"
        command = [str(script), "models"]
    done = subprocess.run(
        command, env=_env(juhe_emulator), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "gpt-4o-mini" in done.stdout
    assert juhe_emulator.api_key not in done.stdout + done.stderr


def test_emulator_command_serves_on_the_port_it_is_given() -> None:
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "juhe_core", "emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the emulator did not start in 30 s"
                time.sleep(0.1)
        assert response.status_code == 401  # it speaks the relay: no key, no models
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
