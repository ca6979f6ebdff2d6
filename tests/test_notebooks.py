"""The notebooks in notebooks/ run top to bottom offline, and are committed without outputs.

Each notebook is executed with nbclient in a fresh IPython kernel that runs this test's own
interpreter (a kernelspec written to a temporary folder, so no user-installed ``python3``
kernel pointing at another Python is picked up), with:

- every ``JUHE_*`` variable removed from the kernel's environment, so the notebook's first
  cell starts its own emulator rather than calling the real API with a developer's key;
- an IPython startup file (in a temporary ``IPYTHONDIR``) refusing connections to anything
  but loopback inside the kernel, as ``tests/conftest.py`` does in the test process;
- the notebook's folder set to a temporary directory, where any files it writes land.

A cell that raises fails the test with the cell's traceback. A few outputs per notebook are
checked so a notebook that silently stops doing its job fails too. Each notebook runs twice:
as a newcomer without a key runs it (its own emulator), and as a user with a key runs it
(``JUHE_API_KEY`` / ``JUHE_BASE_URL`` set, here to an emulator in this process standing in
for the real service). Last, the committed files are checked to hold no outputs.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
KERNEL_NAME = "juhe-notebook-test"
CELL_TIMEOUT = 60  # seconds per cell; each notebook takes a few seconds in all

# Substrings the notebook's text outputs must contain, and MIME types its rich outputs must
# include, beyond what every notebook must show (the backend line and the final stop).
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "langchain_quickstart.ipynb": (
        ("Emulator reply to", "usage:", "total_tokens", "Joke(setup=", "I received 1 image"),
        ("image/png",),
    ),
    "langchain_agent.ipynb": (
        ("'name': 'get_weather'", "It is sunny", "[tool result]", "model -> tools -> model"),
        ("image/png",),
    ),
    "llama_index_rag.ipynb": (
        ("rivers.txt: The Nile", "source: france.md", "turns in memory: 4", "spent:"),
        (),
    ),
    "llama_index_agent.ipynb": (
        ("multiply({'a': 6, 'b': 7}) -> 42", "[calling add", "calls multiply", "user: What is my"),
        ("image/png",),
    ),
    "native_formats.ipynb": (
        ("[reasoning]", "went back as: ['thinking', 'text']", "thinking tokens:", "1 file"),
        ("image/png",),
    ),
    "images_and_midjourney.ipynb": (
        ("revised prompt:", "buttons: U1", "audio/mpeg", "IPython.lib.display.Audio", "used "),
        ("image/png", "text/html"),
    ),
}

# Runs in the kernel at startup (IPython startup file): connections and name lookups for
# anything but loopback fail, so a notebook cannot reach the internet or the real API.
_LOOPBACK_ONLY = """
def _juhe_test_loopback_only():
    import ipaddress
    import socket

    def loopback(host):
        if isinstance(host, bytes):
            host = host.decode()
        if host in (None, "", "localhost"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address[0]):
            raise ConnectionRefusedError(f"notebook tests: loopback only, not {address[0]!r}")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not loopback(host):
            raise socket.gaierror(f"notebook tests may not resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.getaddrinfo = getaddrinfo


_juhe_test_loopback_only()
del _juhe_test_loopback_only
"""


def _notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def _code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb["cells"] if cell["cell_type"] == "code"]


def _source(cell: Any) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


@pytest.fixture(scope="module")
def kernel_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A kernelspec running this interpreter, and an IPYTHONDIR with the offline guard."""
    importlib.import_module("ipykernel")
    home = tmp_path_factory.mktemp("jupyter")
    spec_dir = home / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "juhe notebook test",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    startup = home / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-loopback-only.py").write_text(_LOOPBACK_ONLY)
    yield {"kernels": home / "kernels", "ipython": home / "ipython"}


def _execute(
    nb: Any, workdir: Path, kernel_home: dict[str, Path], extra_env: dict[str, str] | None = None
) -> Any:
    """Run ``nb`` in place in a fresh kernel; raises CellExecutionError on a failing cell.

    The kernel's environment is this process's without any ``JUHE_*`` variable, plus
    ``extra_env``."""
    nbclient = importlib.import_module("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    env = {name: value for name, value in os.environ.items() if not name.startswith("JUHE_")}
    env["IPYTHONDIR"] = str(kernel_home["ipython"])
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # no debugger warning on stderr
    env.update(extra_env or {})
    specs = KernelSpecManager(kernel_dirs=[str(kernel_home["kernels"])])
    manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    client = nbclient.NotebookClient(
        nb,
        km=manager,
        timeout=CELL_TIMEOUT,
        startup_timeout=60,
        resources={"metadata": {"path": str(workdir)}},
    )
    return client.execute(env=env)


def _outputs(nb: Any) -> tuple[str, set[str]]:
    """All text the notebook printed or displayed, and the MIME types of its rich outputs."""
    texts: list[str] = []
    mimes: set[str] = set()
    for cell in _code_cells(nb):
        for output in cell["outputs"]:
            assert output["output_type"] != "error", output
            if output["output_type"] == "stream":
                texts.append(output["text"])
            elif output["output_type"] in ("display_data", "execute_result"):
                mimes.update(output["data"])
                texts.append(str(output["data"].get("text/plain", "")))
    return "".join(texts), mimes


@pytest.mark.timeout(150)
@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_offline(
    path: Path, tmp_path: Path, kernel_home: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = importlib.import_module("nbformat")
    # A key in the parent's environment must not reach the kernel (conftest cleared the real
    # ones; this one proves the kernel's environment is cleaned too).
    monkeypatch.setenv("JUHE_API_KEY", "sk-ThisKeyMustNotReachTheNotebookKernel000000000000")
    nb = nbformat.read(path, as_version=4)
    _execute(nb, tmp_path, kernel_home)

    text, mimes = _outputs(nb)
    first = _code_cells(nb)[0]
    first_text = "".join(o.get("text", "") for o in first["outputs"])
    assert "offline Juhe emulator at http://127.0.0.1:" in first_text
    assert text.rstrip().endswith("Emulator stopped.")
    needles, needed_mimes = EXPECTED.get(path.name, ((), ()))
    for needle in needles:
        assert needle in text, f"{path.name}: {needle!r} not in the outputs"
    for mime in needed_mimes:
        assert mime in mimes, f"{path.name}: no {mime} output"


@pytest.mark.timeout(150)
@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.stem)
def test_notebook_runs_with_a_key_of_its_own(
    path: Path, tmp_path: Path, kernel_home: dict[str, Path]
) -> None:
    """With JUHE_API_KEY set, a notebook starts no emulator and uses JUHE_BASE_URL: here an
    emulator accepting only another key stands in for the real service, so the branch a
    user with a key runs (no ``emulator`` object) is exercised too."""
    nbformat = importlib.import_module("nbformat")
    from juhe_core.testing import Emulator

    key = "sk-StandInForTheRealService000000000000000000000000"
    nb = nbformat.read(path, as_version=4)
    with Emulator(api_keys=(key,), mj_step_seconds=0.05) as service:
        extra = {"JUHE_API_KEY": key, "JUHE_BASE_URL": f"{service.base_url}/v1"}
        _execute(nb, tmp_path, kernel_home, extra_env=extra)
        assert len(service.requests) > 0
    text, _ = _outputs(nb)
    assert f"Backend: the real Juhe API at {service.base_url}/v1" in text
    assert "offline Juhe emulator" not in text and "Emulator stopped." not in text


def test_the_kernel_is_this_interpreter_offline_and_without_juhe_keys(
    tmp_path: Path, kernel_home: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The harness itself: the guarantees the notebook runs rely on."""
    nbformat = importlib.import_module("nbformat")
    monkeypatch.setenv("JUHE_API_KEY", "sk-ThisKeyMustNotReachTheNotebookKernel000000000000")
    monkeypatch.setenv("JUHE_BASE_URL", "https://example.invalid")
    probe = """
import os, socket, sys
print(sys.executable)
print(sorted(name for name in os.environ if name.startswith("JUHE_")))
try:
    socket.socket().connect(("192.0.2.1", 80))
except OSError as error:
    print("connect refused:", type(error).__name__)
try:
    socket.create_connection(("example.com", 80), timeout=1)
except OSError as error:
    print("lookup refused:", type(error).__name__)
print(os.getcwd())
"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
    _execute(nb, tmp_path, kernel_home)
    lines = _outputs(nb)[0].splitlines()
    assert lines[0] == sys.executable
    assert lines[1] == "[]"
    assert lines[2] == "connect refused: ConnectionRefusedError"
    assert lines[3] == "lookup refused: gaierror"
    assert Path(lines[4]).resolve() == tmp_path.resolve()


def test_the_six_notebooks_exist() -> None:
    assert sorted(p.name for p in _notebook_paths()) == sorted(EXPECTED)


@pytest.mark.parametrize("path", _notebook_paths(), ids=lambda p: p.stem)
def test_notebook_is_committed_clean(path: Path) -> None:
    """Valid nbformat 4, no stored outputs or execution counts, and the backend protocol:
    the first code cell starts the emulator unless JUHE_API_KEY is set, the last stops it."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["nbformat"] == 4
    for cell in _code_cells(raw):
        assert cell["outputs"] == [], f"{path.name}: stored outputs in {cell.get('id')}"
        assert cell["execution_count"] is None, f"{path.name}: execution count {cell.get('id')}"
    code = _code_cells(raw)
    assert "JUHE_API_KEY" in _source(code[0]) and "Emulator(" in _source(code[0])
    assert "emulator.stop()" in _source(code[-1])
    nbformat = importlib.import_module("nbformat")
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))
