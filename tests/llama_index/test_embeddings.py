"""``JuheEmbedding``: names, batching, order, dimensions and concurrency, sync and async."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from typing import ClassVar

import httpx
import pytest

from juhe_core.errors import APITimeoutError, ConfigurationError, InternalServerError
from juhe_core.testing import Emulator, Fault, Reply
from llama_index_juhe import JuheEmbedding

from .conftest import Both

EMBED = "/v1/embeddings"


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


@pytest.fixture(params=["sync", "async"])
def eboth(request: pytest.FixtureRequest, embed_model: JuheEmbedding) -> Both:
    return Both(request.param, embed_model)


def test_defaults_and_class_name() -> None:
    embed = JuheEmbedding()
    assert (embed.model_name, embed.embed_batch_size) == ("text-embedding-3-small", 100)
    assert JuheEmbedding.class_name() == "JuheEmbedding"


@pytest.mark.parametrize("name", ["bge-m3", "my-org/custom-embedder-v2", "text-embedding-3-large"])
def test_any_model_name_is_accepted_and_sent_unchanged(
    emu: Emulator, make_embed: Callable[..., JuheEmbedding], name: str
) -> None:
    """Pitfall: OpenAIEmbedding rejects names outside its enum."""
    embed = make_embed(model=name)
    assert embed.model_name == name
    assert len(embed.get_query_embedding("hello")) > 0
    assert emu.requests[-1].json["model"] == name


def test_model_and_model_name_must_agree() -> None:
    assert JuheEmbedding(model_name="bge-m3", model="bge-m3").model_name == "bge-m3"
    with pytest.raises(ValueError, match="disagree"):
        JuheEmbedding(model_name="a", model="b")


def test_missing_key_fails_at_the_first_request(emu: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="JUHE_API_KEY"):
        JuheEmbedding(api_base=emu.base_url).get_text_embedding("x")


def test_query_and_text_embeddings(eboth: Both) -> None:
    query = eboth.call("get_query_embedding", "Which city is the capital of France?")
    near = eboth.call("get_text_embedding", "Paris is the capital of France.")
    far = eboth.call("get_text_embedding", "Bananas are yellow fruit.")
    assert cosine(query, near) > cosine(query, far)


def test_batches_keep_input_order(eboth: Both, emu: Emulator) -> None:
    eboth.model.embed_batch_size = 3
    texts = [f"text number {i} about topic {i % 4}" for i in range(10)]
    batched = eboth.call("get_text_embedding_batch", texts)
    assert len(batched) == 10
    one_by_one = [eboth.model.get_text_embedding(t) for t in texts]
    assert batched == one_by_one
    sizes = [len(r.json["input"]) for r in emu.requests if r.path == EMBED][:4]
    assert sorted(sizes, reverse=True) == [3, 3, 3, 1]


def test_dimensions_reach_the_wire(eboth: Both, emu: Emulator) -> None:
    eboth.model.dimensions = 256
    vector = eboth.call("get_text_embedding", "short vectors")
    assert len(vector) == 256
    assert emu.requests[-1].json["dimensions"] == 256


def test_num_workers_bounds_concurrent_async_batches() -> None:
    """``num_workers`` is how many batch requests run at once in async batch calls."""
    in_flight = peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        texts = json.loads(request.content)["input"]
        data = [{"index": i, "embedding": [float(len(t)), 1.0]} for i, t in enumerate(texts)]
        return httpx.Response(200, json={"data": data, "model": "m", "usage": {}})

    async def run(workers: int) -> list[list[float]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            embed = JuheEmbedding(
                api_key="sk-test",
                api_base="http://127.0.0.1:9",
                embed_batch_size=1,
                num_workers=workers,
                async_http_client=http,
            )
            return await embed.aget_text_embedding_batch(["a", "bb", "ccc", "dddd", "eeeee"])

    vectors = asyncio.run(run(2))
    assert [v[0] for v in vectors] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert peak == 2
    peak = 0
    asyncio.run(run(4))
    assert peak == 4


def test_max_retries_retries_a_server_error_and_zero_surfaces_it_typed(
    eboth: Both, emu: Emulator, make_embed: Callable[..., JuheEmbedding]
) -> None:
    eboth.model = eboth.owner = make_embed(max_retries=1)
    emu.enqueue(Fault(500), path=EMBED)
    vector = eboth.call("get_query_embedding", "retry me")
    assert len(vector) > 0
    assert [r.json["input"] for r in emu.requests] == [["retry me"]] * 2
    emu.clear()
    eboth.model = eboth.owner = make_embed(max_retries=0)
    emu.enqueue(Fault(500), path=EMBED)
    with pytest.raises(InternalServerError):
        eboth.call("get_query_embedding", "retry me")
    assert len(emu.requests) == 1


def test_timeout_fires_typed_and_in_time(
    eboth: Both, emu: Emulator, make_embed: Callable[..., JuheEmbedding]
) -> None:
    eboth.model = eboth.owner = make_embed(timeout=0.3, max_retries=0)
    emu.enqueue(Reply(delay=2.0), path=EMBED)
    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        eboth.call("get_query_embedding", "slow")
    assert time.monotonic() - started < 1.5
    assert len(emu.requests) == 1


def test_http_client_is_used(emu: Emulator) -> None:
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(r.url.path)]}) as http:
        embed = JuheEmbedding(api_key=emu.api_key, api_base=emu.base_url, http_client=http)
        embed.get_text_embedding("x")
    assert seen == [EMBED]


class FakeBar:
    """Stands in for ``tqdm.auto.tqdm``; records the bars made and their updates."""

    made: ClassVar[list[FakeBar]] = []

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.n, self.updates = total, desc, 0, []
        FakeBar.made.append(self)

    def update(self, n: int) -> None:
        self.n += n
        self.updates.append(n)

    def __enter__(self) -> FakeBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_show_progress_advances_as_each_request_comes_back(
    kind: str, make_embed: Callable[..., JuheEmbedding], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tqdm.auto

    monkeypatch.setattr(tqdm.auto, "tqdm", FakeBar)
    FakeBar.made = []
    embed = make_embed(embed_batch_size=2, num_workers=2)
    texts = ["a", "b", "c", "d", "e"]
    vectors = Both(kind, embed).run(
        lambda: embed.get_text_embedding_batch(texts, show_progress=True),
        lambda: embed.aget_text_embedding_batch(texts, show_progress=True),
    )
    assert len(vectors) == 5
    (bar,) = FakeBar.made  # one bar: LlamaIndex's own is switched off
    assert (bar.total, bar.desc, bar.n) == (5, "Generating embeddings", 5)
    assert sorted(bar.updates) == [1, 2, 2]  # one update per request, counted in texts
    Both(kind, embed).run(
        lambda: embed.get_text_embedding_batch(texts),
        lambda: embed.aget_text_embedding_batch(texts),
    )
    assert len(FakeBar.made) == 1  # no bar unless asked


def test_show_progress_prints_a_bar(
    embed_model: JuheEmbedding, capsys: pytest.CaptureFixture[str]
) -> None:
    embed_model.get_text_embedding_batch(["one", "two", "three"], show_progress=True)
    err = capsys.readouterr().err
    assert "Generating embeddings" in err and "3/3" in err
