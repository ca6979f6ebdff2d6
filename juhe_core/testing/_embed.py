"""Deterministic embeddings of the built-in model: hashed bag of words, L2-normalised.

Each stemmed content word (and, at half weight, each pair of neighbouring words) is hashed
with BLAKE2b to a dimension and a sign. Texts sharing words get a higher cosine similarity
than unrelated texts, so retrieval over a small corpus picks the document that shares the
query's words. The vectors are identical across processes (no use of ``hash()``) and are
rounded to float32, so the ``float`` and ``base64`` encodings carry the same numbers.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

from ._text import STOPWORDS, words

__all__ = ["default_dimensions", "embed_text", "embed_token_ids", "to_base64"]


def default_dimensions(model: str) -> int:
    """Vector size when the request gives no ``dimensions``: 3072 for ``*-large``, else 1536."""
    return 3072 if model.endswith("-large") else 1536


@lru_cache(maxsize=65536)
def _feature_hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def _features(text: str) -> list[tuple[str, float]]:
    all_words = words(text)
    content = [w for w in all_words if w not in STOPWORDS] or all_words
    if not content:
        return [("\x00" + text.strip(), 1.0)]
    pairs = [(f"{a} {b}", 0.5) for a, b in pairwise(content)]
    return [(w, 1.0) for w in content] + pairs


def _vector(features: Sequence[tuple[str, float]], dimensions: int) -> list[float]:
    vec = [0.0] * dimensions
    for feature, weight in features:
        h = _feature_hash(feature)
        vec[h % dimensions] += weight if (h >> 63) & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:
        vec[_feature_hash("\x01") % dimensions] = 1.0
        norm = 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in vec))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embed_text(text: str, dimensions: int) -> list[float]:
    """The unit vector of ``text`` with ``dimensions`` float32-exact components."""
    return _vector(_features(text), dimensions)


def embed_token_ids(ids: Sequence[int], dimensions: int) -> list[float]:
    """The unit vector of a list of token ids (each id is treated as one word)."""
    return _vector([(f"\x02{i}", 1.0) for i in ids] or [("\x02", 1.0)], dimensions)


def to_base64(vector: Sequence[float]) -> str:
    """``vector`` as little-endian float32 bytes, base64-encoded (``encoding_format=base64``)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
