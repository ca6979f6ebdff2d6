"""Fixtures for the LlamaIndex tests: a model and an embedding on the emulator, and ``Both``.

``Both`` runs one operation through the sync or the async API of ``Juhe`` /
``JuheEmbedding``, so one test body holds both to the same behaviour. Async runs use a
fresh event loop and close the model's async client before it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Settings as LlamaSettings
from llama_index.core.base.llms.types import ChatMessage, ChatResponse

from juhe_core.testing import Emulator
from llama_index_juhe import Juhe, JuheEmbedding

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def emu(juhe_emulator: Emulator) -> Emulator:
    """The session's emulator, cleared for this test."""
    return juhe_emulator


@pytest.fixture
def llm(emu: Emulator) -> Iterator[Juhe]:
    """A ``Juhe`` on the emulator."""
    model = Juhe(api_key=emu.api_key, api_base=emu.base_url)
    yield model
    model.close()


@pytest.fixture
def embed_model(emu: Emulator) -> Iterator[JuheEmbedding]:
    """A ``JuheEmbedding`` on the emulator."""
    model = JuheEmbedding(api_key=emu.api_key, api_base=emu.base_url)
    yield model
    model.close()


@pytest.fixture
def make_llm(emu: Emulator) -> Iterator[Callable[..., Juhe]]:
    """Builds ``Juhe``s on the emulator (override any argument); closes them afterwards."""
    made: list[Juhe] = []

    def make(**kwargs: Any) -> Juhe:
        made.append(Juhe(**{"api_key": emu.api_key, "api_base": emu.base_url, **kwargs}))
        return made[-1]

    yield make
    for model in made:
        model.close()


@pytest.fixture
def make_embed(emu: Emulator) -> Iterator[Callable[..., JuheEmbedding]]:
    """Builds ``JuheEmbedding``s on the emulator; closes them afterwards."""
    made: list[JuheEmbedding] = []

    def make(**kwargs: Any) -> JuheEmbedding:
        made.append(JuheEmbedding(**{"api_key": emu.api_key, "api_base": emu.base_url, **kwargs}))
        return made[-1]

    yield make
    for model in made:
        model.close()


@pytest.fixture
def llama_settings(llm: Juhe, embed_model: JuheEmbedding) -> Iterator[None]:
    """LlamaIndex's global ``Settings`` pointing at the emulator, restored afterwards."""
    # The private slots, so that "unset" is restored as unset (no default OpenAI model).
    saved = LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._prompt_helper
    LlamaSettings._prompt_helper = None  # derived from the LLM's metadata
    LlamaSettings.llm, LlamaSettings.embed_model = llm, embed_model
    yield
    LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._prompt_helper = saved


def user(text: str) -> list[ChatMessage]:
    """A one-message conversation."""
    return [ChatMessage(role="user", content=text)]


class Both:
    """Runs an operation on the sync or the async API of a model object."""

    def __init__(self, kind: str, model: Any, owner: Any = None) -> None:
        self.kind = kind
        self.model = model
        self.owner = owner or model  # the object whose async client to close

    def run(self, sync: Callable[[], Any], aio: Callable[[], Awaitable[Any]]) -> Any:
        """``sync()`` or, on a fresh loop, ``await aio()`` (then close the async client)."""
        if self.kind == "sync":
            return sync()

        async def main() -> Any:
            try:
                return await aio()
            finally:
                await self.owner.aclose()

        return asyncio.run(main())

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``model.<name>(...)`` or ``await model.a<name>(...)``."""
        return self.run(
            lambda: getattr(self.model, name)(*args, **kwargs),
            lambda: getattr(self.model, f"a{name}")(*args, **kwargs),
        )

    def stream(self, name: str, *args: Any, **kwargs: Any) -> list[Any]:
        """All chunks of ``model.stream_<name>(...)`` or of ``model.astream_<name>(...)``."""

        async def collect() -> list[Any]:
            gen: AsyncIterator[Any] = await getattr(self.model, f"astream_{name}")(*args, **kwargs)
            return [chunk async for chunk in gen]

        return self.run(
            lambda: list(getattr(self.model, f"stream_{name}")(*args, **kwargs)), collect
        )

    def chat(self, messages: list[ChatMessage], **kwargs: Any) -> ChatResponse:
        """One chat call."""
        return self.call("chat", messages, **kwargs)  # type: ignore[no-any-return]


@pytest.fixture(params=["sync", "async"])
def both(request: pytest.FixtureRequest, llm: Juhe) -> Both:
    """``Both`` on the ``llm`` fixture, once per API."""
    return Both(request.param, llm)
