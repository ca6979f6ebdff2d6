"""Embeddings of the built-in model: unit length, deterministic, similar texts closer."""

from __future__ import annotations

import base64
import math
import struct
import subprocess
import sys

from juhe_core.testing._embed import default_dimensions, embed_text, embed_token_ids, to_base64


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_vectors_are_unit_length_with_the_requested_size() -> None:
    for text in ["cats", "", "the of and", "你好世界"]:
        vec = embed_text(text, 64)
        assert len(vec) == 64
        assert math.isclose(math.sqrt(sum(v * v for v in vec)), 1.0, rel_tol=1e-5)
    assert default_dimensions("text-embedding-3-large") == 3072
    assert default_dimensions("text-embedding-3-small") == 1536


def test_similar_texts_score_higher_than_unrelated_ones() -> None:
    query = embed_text("How do cats sleep?", 1536)
    close = embed_text("Cats sleep for sixteen hours a day.", 1536)
    far = embed_text("The stock market fell on Tuesday.", 1536)
    assert cosine(query, close) > cosine(query, far) + 0.2


def test_retrieval_over_a_small_corpus_picks_the_right_document() -> None:
    corpus = [
        "Paris is the capital of France and sits on the Seine.",
        "Photosynthesis turns sunlight, water and carbon dioxide into sugar.",
        "The Python language was created by Guido van Rossum.",
        "Whales are mammals that breathe air through a blowhole.",
    ]
    vectors = [embed_text(doc, 256) for doc in corpus]
    questions = {
        "Which river flows through the capital of France?": 0,
        "How do plants use sunlight?": 1,
        "Who created Python?": 2,
        "Do whales breathe air?": 3,
    }
    for question, expected in questions.items():
        q = embed_text(question, 256)
        best = max(range(len(corpus)), key=lambda i: cosine(q, vectors[i]))
        assert best == expected, question


def test_float_and_base64_carry_the_same_float32_numbers() -> None:
    vec = embed_text("exact numbers", 32)
    decoded = list(struct.unpack("<32f", base64.b64decode(to_base64(vec))))
    assert decoded == vec


def test_token_ids_embed_deterministically() -> None:
    assert embed_token_ids([1, 2, 3], 16) == embed_token_ids([1, 2, 3], 16)
    assert embed_token_ids([1, 2, 3], 16) != embed_token_ids([4, 5], 16)


def test_vectors_are_identical_across_processes() -> None:
    code = (
        "from juhe_core.testing._embed import embed_text\n"
        "print(embed_text('stable across runs', 8))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    )
    assert out.stdout.strip() == str(embed_text("stable across runs", 8))
