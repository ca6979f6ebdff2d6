"""``JuheEmbeddings`` against the emulator, sync and async."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import httpx
import pytest

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.testing import Emulator, Reply
from langchain_juhe import JuheEmbeddings

from .conftest import Both

EMBED = "/v1/embeddings"
TEXTS = ["the cat sat", "a dog ran", "rivers flow", "cats and dogs", "stone bridges"]


def embed(both: Both, model: JuheEmbeddings, texts: Any) -> list[list[float]]:
    return both.run(
        model, lambda: model.embed_documents(texts), lambda: model.aembed_documents(texts)
    )


def test_plain_strings_base64_and_order_across_batches(both: Both, emu: Emulator) -> None:
    """Complaint: token arrays sent instead of strings. Vectors keep input order."""
    model = JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key, chunk_size=2)
    vectors = embed(both, model, TEXTS)
    bodies = [r.json for r in emu.requests]
    # async batches run concurrently, so they may arrive in any order; vectors may not
    assert sorted(b["input"] for b in bodies) == sorted([TEXTS[0:2], TEXTS[2:4], TEXTS[4:5]])
    assert all(b["encoding_format"] == "base64" for b in bodies)
    assert all(b["model"] == "text-embedding-3-small" for b in bodies)
    singles = [embed(both, model, [t])[0] for t in TEXTS]
    assert vectors == singles
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-4) for v in vectors)
    assert vectors[0] != vectors[1]


def test_query_and_dimensions(both: Both, emu: Emulator) -> None:
    model = JuheEmbeddings(
        base_url=emu.base_url, api_key=emu.api_key, model="text-embedding-3-large", dimensions=64
    )
    vector = both.run(
        model, lambda: model.embed_query("hello"), lambda: model.aembed_query("hello")
    )
    assert len(vector) == 64
    assert emu.requests[-1].json["dimensions"] == 64
    assert emu.requests[-1].json["input"] == ["hello"]


def test_float_answers_are_decoded_too(both: Both, emu: Emulator) -> None:
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.0, 1.0]},
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]},
        ],
        "model": "bge-m3",
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    emu.enqueue(Reply(body=body), path=EMBED)
    model = JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key, model="bge-m3")
    assert embed(both, model, ["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]]


def test_empty_and_bad_inputs(both: Both, emu: Emulator) -> None:
    model = JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key)
    assert embed(both, model, []) == []
    with pytest.raises(UnsupportedFeatureError, match="embed_query"):
        embed(both, model, "a lone string")
    with pytest.raises(UnsupportedFeatureError, match="not a str"):
        embed(both, model, ["ok", 42])
    with pytest.raises(UnsupportedFeatureError, match="takes a str"):
        model.embed_query(["x"])  # type: ignore[arg-type]
    small = JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key, chunk_size=2)
    with pytest.raises(UnsupportedFeatureError, match="input 3 is a int"):
        embed(both, small, ["a", "b", "c", 5])  # in the second batch: found before the first
    assert emu.requests == []


def test_concurrent_batches_in_async(emu: Emulator) -> None:
    model = JuheEmbeddings(
        base_url=emu.base_url, api_key=emu.api_key, chunk_size=1, max_concurrency=3
    )

    async def main() -> list[list[float]]:
        try:
            return await model.aembed_documents(TEXTS)
        finally:
            await model.aclose()

    vectors = asyncio.run(main())
    assert len(vectors) == len(TEXTS) == len(emu.requests)
    assert sorted(r.json["input"][0] for r in emu.requests) == sorted(TEXTS)
    assert vectors == JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key).embed_documents(
        TEXTS
    )


def test_show_progress_bar(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    model = JuheEmbeddings(
        base_url=emu.base_url, api_key=emu.api_key, chunk_size=2, show_progress_bar=True
    )
    assert len(model.embed_documents(TEXTS)) == len(TEXTS)
    assert "5/5" in capsys.readouterr().err
    assert len(asyncio.run(model.aembed_documents(TEXTS))) == len(TEXTS)
    assert "5/5" in capsys.readouterr().err
    quiet = JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key)
    quiet.embed_documents(TEXTS)
    assert "Embedding" not in capsys.readouterr().err


def test_openai_embeddings_spellings_and_per_call_chunk_size(emu: Emulator) -> None:
    model = JuheEmbeddings(
        openai_api_key=emu.api_key,
        openai_api_base=emu.base_url,
        request_timeout=9,
        check_embedding_ctx_length=False,  # what relay users of OpenAIEmbeddings set
    )
    assert model.timeout == 9
    assert len(model.embed_documents(["a", "b", "c"], chunk_size=1)) == 3
    assert [len(r.json["input"]) for r in emu.requests] == [1, 1, 1]
    assert len(asyncio.run(model.aembed_documents(["a", "b", "c"], chunk_size=2))) == 3
    assert sorted(len(r.json["input"]) for r in emu.requests[3:]) == [1, 2]  # concurrent
    assert emu.api_key not in repr(model)
    with pytest.raises(UnsupportedFeatureError, match="chunk_size must be an int >= 1"):
        model.embed_documents(["a"], chunk_size=0)
    with pytest.raises(ValueError, match="check_embedding_ctx_length=True is not supported"):
        JuheEmbeddings(api_key=emu.api_key, check_embedding_ctx_length=True)
    with pytest.raises(ValueError, match="no parameter 'azure_api_key'") as caught:
        JuheEmbeddings(azure_api_key="sk-secret-123")
    assert "sk-secret-123" not in str(caught.value)


@pytest.mark.parametrize(
    "timeout", [0.3, httpx.Timeout(0.3), (5.0, 0.3)], ids=["seconds", "httpx", "tuple"]
)
def test_timeout_in_every_spelling_fires_and_retries_are_honoured(
    emu: Emulator, timeout: Any
) -> None:
    from juhe_core.errors import APITimeoutError
    from juhe_core.testing import Fault, Reply

    model = JuheEmbeddings(
        base_url=emu.base_url, api_key=emu.api_key, timeout=timeout, max_retries=0
    )
    emu.enqueue(Reply(delay=2.0))
    with pytest.raises(APITimeoutError):
        model.embed_query("slow")
    retrying = JuheEmbeddings(base_url=emu.base_url, api_key=emu.api_key, max_retries=1)
    emu.enqueue(Fault(500))
    assert len(retrying.embed_query("once more")) > 0  # the 500 was retried
    assert sum(r.json["input"] == ["once more"] for r in emu.requests) == 2


def test_default_headers_and_your_own_http_client_are_used(emu: Emulator) -> None:
    seen: list[httpx.Request] = []
    client = httpx.Client(event_hooks={"request": [seen.append]})
    model = JuheEmbeddings(
        base_url=emu.base_url,
        api_key=emu.api_key,
        default_headers={"X-Trace": "t-1"},
        http_client=client,
    )
    model.embed_query("hello")
    assert len(seen) == 1 and seen[0].headers["x-trace"] == "t-1"
    assert emu.requests[-1].headers["x-trace"] == "t-1"
    client.close()
