"""Fixtures for the LangChain tests: models on the emulator, local media, sync/async runs.

``langchain_tests`` downloads an image, a PDF and a WAV file from the internet in some
integration tests (``httpx.get`` in ``langchain_tests.integration_tests.chat_models``).
``serve_media_locally`` replaces that module's ``httpx`` with a stub that answers those
exact URLs with tiny valid files built here, and refuses any other URL.
"""

from __future__ import annotations

import asyncio
import io
import struct
import wave
import zlib
from collections.abc import Awaitable, Callable, Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from juhe_core.testing import Emulator
from langchain_juhe import ChatJuhe, JuheEmbeddings

IMAGE_URL = (
    "https://raw.githubusercontent.com/langchain-ai/docs/4d11d08b6b0e210bd456943f7a22febbd168b543"
    "/src/images/agentic-rag-output.png"
)
PDF_URL = "https://www.w3.org/WAI/ER/tests/xhtml/testfiles/resources/pdf/dummy.pdf"
AUDIO_URL = "https://upload.wikimedia.org/wikipedia/commons/6/6a/Northern_Flicker_202280456.wav"


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A valid RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf_bytes(text: str = "Dummy PDF file") -> bytes:
    """A valid one-page PDF showing ``text`` (with a correct xref table)."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def wav_bytes(frames: int = 800) -> bytes:
    """A valid 8 kHz mono 16-bit WAV of silence (0.1 s)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(b"\x00\x00" * frames)
    return buffer.getvalue()


MEDIA: dict[str, bytes] = {IMAGE_URL: png_bytes(), PDF_URL: pdf_bytes(), AUDIO_URL: wav_bytes()}


def _local_get(url: str, **_: Any) -> httpx.Response:
    if url not in MEDIA:
        raise AssertionError(f"the standard tests asked for an unexpected download: {url}")
    return httpx.Response(200, content=MEDIA[url], request=httpx.Request("GET", url))


@pytest.fixture
def serve_media_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answer the standard suite's media downloads from the local copies above."""
    from langchain_tests.integration_tests import chat_models

    monkeypatch.setattr(chat_models, "httpx", SimpleNamespace(get=_local_get))
    # Only read to label the (now local) wikimedia download; set to silence its warning.
    monkeypatch.setenv("LANGCHAIN_TESTS_USER_AGENT", "juhe-integrations-tests (local copies)")


@pytest.fixture
def emu(juhe_emulator: Emulator) -> Emulator:
    """The session's emulator, cleared for this test."""
    return juhe_emulator


@pytest.fixture
def emulator_env(
    _offline_and_clean_env: None, juhe_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> Emulator:
    """``JUHE_BASE_URL`` / ``JUHE_API_KEY`` pointing at the emulator (after the env guard)."""
    monkeypatch.setenv("JUHE_BASE_URL", juhe_emulator.base_url + "/v1")
    monkeypatch.setenv("JUHE_API_KEY", juhe_emulator.api_key)
    return juhe_emulator


@pytest.fixture
def llm(emu: Emulator) -> Iterator[ChatJuhe]:
    """A ``ChatJuhe`` on the emulator."""
    model = ChatJuhe(model="gpt-4o-mini", base_url=emu.base_url, api_key=emu.api_key)
    yield model
    model.close()


@pytest.fixture
def embeddings(emu: Emulator) -> Iterator[JuheEmbeddings]:
    """A ``JuheEmbeddings`` on the emulator."""
    model = JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key)
    yield model
    model.close()


# One request per route family the emulator may not serve yet: (method, path, JSON body).
_PROBES: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "anthropic": (
        "POST",
        "/v1/messages",
        {
            "model": "claude-sonnet-4-5",
            "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}],
        },
    ),
    "gemini": (
        "POST",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    ),
    "responses": ("POST", "/v1/responses", {"model": "o3-pro", "input": "hi"}),
    "images": ("POST", "/v1/images/generations", {"model": "dall-e-3", "prompt": "a dot"}),
    "midjourney": ("GET", "/mj/task/probe/fetch", None),
    "billing": ("GET", "/v1/dashboard/billing/subscription", None),
}
_served: dict[str, bool] = {}


def serves(emulator: Emulator, route: str) -> bool:
    """Whether the emulator serves a route family (probed once per session).

    Not served: the 501 ``not_emulated`` stub, or the relay's 404 for an unknown path.
    """
    if route not in _served:
        method, path, body = _PROBES[route]
        response = httpx.request(
            method,
            emulator.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {emulator.api_key}"},
        )
        emulator.clear()
        stub = response.status_code == 501 and "not_emulated" in response.text
        _served[route] = not stub and response.status_code != 404
    return _served[route]


def require_route(emulator: Emulator, route: str) -> None:
    """Skip, saying why, unless the emulator serves ``route``."""
    if not serves(emulator, route):
        pytest.skip(f"the emulator does not serve the {route} route(s) yet")


class Both:
    """Runs an operation through the sync or the async API of a model object.

    Async runs use a fresh event loop and close the owner's async client before it ends,
    so no connection outlives its loop.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def run(self, owner: Any, sync: Callable[[], Any], aio: Callable[[], Awaitable[Any]]) -> Any:
        """``sync()``, or ``await aio()`` on a fresh loop."""
        if self.kind == "sync":
            return sync()

        async def main() -> Any:
            try:
                return await aio()
            finally:
                await owner.aclose()

        return asyncio.run(main())


@pytest.fixture(params=["sync", "async"])
def both(request: pytest.FixtureRequest) -> Both:
    """Each test body once through the sync API and once through the async API."""
    return Both(request.param)
