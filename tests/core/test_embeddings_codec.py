"""Embeddings and model-list codecs as pure functions."""

from __future__ import annotations

import base64
import struct

import pytest

from juhe_core.errors import APIError, UnsupportedFeatureError
from juhe_core.wire.embeddings import (
    decode_embeddings_response,
    decode_vector,
    encode_embeddings_request,
)
from juhe_core.wire.models import ModelInfo, decode_model_list


def b64(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def test_encode_sends_plain_strings_and_asks_for_base64() -> None:
    assert encode_embeddings_request(["a", "b"], model="text-embedding-3-small", dimensions=8) == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "encoding_format": "base64",
        "dimensions": 8,
    }


@pytest.mark.parametrize("bad", [[1, 2], [["a"]], [None], [b"x"]])
def test_non_string_input_is_refused(bad: list[object]) -> None:
    with pytest.raises(UnsupportedFeatureError, match="embedding input 0"):
        encode_embeddings_request(bad, model="m")  # type: ignore[arg-type]


def test_base64_and_float_decode_equal() -> None:
    values = [0.5, -0.25, 1.0, 0.0]
    assert decode_vector(b64(values)) == values
    assert decode_vector(values) == values
    assert decode_vector([1, 2]) == [1.0, 2.0]


@pytest.mark.parametrize(
    "bad", ["!!!", base64.b64encode(b"abc").decode(), {"x": 1}, [True], ["0.1"]]
)
def test_malformed_vectors(bad: object) -> None:
    with pytest.raises(APIError, match="malformed embedding"):
        decode_vector(bad)


def test_decode_orders_by_index() -> None:
    body = {
        "object": "list",
        "model": "m",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
        "data": [
            {"object": "embedding", "index": 1, "embedding": b64([2.0])},
            {"object": "embedding", "index": 0, "embedding": [1.0]},
        ],
    }
    result = decode_embeddings_response(body, expected=2)
    assert result.vectors == [[1.0], [2.0]]
    assert (result.model, result.prompt_tokens) == ("m", 3)


@pytest.mark.parametrize(
    "data",
    [
        [{"index": 0, "embedding": [1.0]}],  # one missing
        [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}],  # repeated
        [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [1.0]}],
    ],  # out of range
)
def test_count_mismatch_is_an_error_never_a_gap(data: list[object]) -> None:
    with pytest.raises(APIError):
        decode_embeddings_response({"data": data}, expected=2)


def test_model_list_with_and_without_object_field() -> None:
    body = {
        "success": True,
        "data": [
            {
                "id": "gpt-4o",
                "object": "model",
                "created": 1626777600,
                "owned_by": "openai",
                "supported_endpoint_types": ["openai"],
            },
            {"id": "claude-x", "owned_by": "custom", "supported_endpoint_types": ["anthropic", 3]},
            {"object": "model"},
        ],
    }
    assert decode_model_list(body) == [
        ModelInfo("gpt-4o", "openai", 1626777600, ("openai",)),
        ModelInfo("claude-x", "custom", None, ("anthropic",)),
    ]
    with pytest.raises(APIError, match="model list"):
        decode_model_list({"models": []})
