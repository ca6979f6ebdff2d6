"""The OpenAI embeddings wire format (``POST /v1/embeddings``), sans-IO.

We always send plain strings (never token arrays: many upstreams behind the relay do not
take them) and ask for base64 vectors, which decode several times faster than float JSON.
Whichever form comes back is decoded, so upstreams that ignore ``encoding_format`` and
answer floats still work. Vectors are returned in ``index`` order, and a count that does
not match the inputs is an error, never a silent gap.
"""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from juhe_core.errors import APIError, UnsupportedFeatureError

__all__ = [
    "EMBEDDINGS_PATH",
    "EmbeddingResult",
    "check_texts",
    "decode_embeddings_response",
    "decode_vector",
    "encode_embeddings_request",
]

EMBEDDINGS_PATH: Final = "/v1/embeddings"
_SWAP: Final = sys.byteorder != "little"


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    """Vectors for a batch of texts, in input order."""

    vectors: list[list[float]]
    """One vector per input text."""
    model: str | None = None
    """The model that answered."""
    prompt_tokens: int = 0
    """Tokens counted for the inputs."""


def check_texts(texts: Sequence[str]) -> None:
    """UnsupportedFeatureError naming the first input (by its position) that is not a str."""
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise UnsupportedFeatureError(
                f"embedding input {i} is a {type(text).__name__}, not a str; "
                "only text can be embedded"
            )


def encode_embeddings_request(
    texts: Sequence[str],
    *,
    model: str,
    dimensions: int | None = None,
    encoding_format: Literal["base64", "float"] = "base64",
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body for embedding ``texts``; UnsupportedFeatureError for non-strings."""
    check_texts(texts)
    body: dict[str, Any] = {
        "model": model,
        "input": list(texts),
        "encoding_format": encoding_format,
    }
    if dimensions is not None:
        body["dimensions"] = dimensions
    if extra_body:
        body.update(extra_body)
    return body


def decode_vector(value: Any) -> list[float]:
    """A vector given as a float list or as base64 little-endian float32 bytes."""
    if isinstance(value, str):
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raise APIError("malformed embedding: invalid base64") from None
        if len(raw) % 4:
            raise APIError("malformed embedding: base64 length is not a multiple of 4 bytes")
        floats = array("f")
        floats.frombytes(raw)
        if _SWAP:
            floats.byteswap()
        return floats.tolist()
    if isinstance(value, list):
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
            raise APIError("malformed embedding: a vector holds a non-number")
        return [float(x) for x in value]
    raise APIError(
        f"malformed embedding: expected a list or base64 text, got {type(value).__name__}"
    )


def decode_embeddings_response(body: Any, *, expected: int) -> EmbeddingResult:
    """Vectors ordered by ``index``; APIError if the body is malformed or counts differ."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list):
        raise APIError("malformed embeddings response: no data list")
    by_index: dict[int, list[float]] = {}
    for position, item in enumerate(data):
        if not isinstance(item, Mapping):
            raise APIError("malformed embeddings response: an item is not an object")
        index = item.get("index", position)
        if not isinstance(index, int) or index in by_index:
            raise APIError(f"malformed embeddings response: bad or repeated index {index!r}")
        by_index[index] = decode_vector(item.get("embedding"))
    if sorted(by_index) != list(range(expected)):
        raise APIError(f"embeddings response has {len(by_index)} vectors for {expected} inputs")
    usage = body.get("usage")
    tokens = usage.get("prompt_tokens") if isinstance(usage, Mapping) else 0
    model = body.get("model")
    return EmbeddingResult(
        vectors=[by_index[i] for i in range(expected)],
        model=model if isinstance(model, str) else None,
        prompt_tokens=tokens if isinstance(tokens, int) else 0,
    )
