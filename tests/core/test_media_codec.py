"""The image request encoders, pure: exact bodies and forms per model family.

OpenAI's Images API (which the relay passes through, relay-behavior.md §7) rejects
``response_format`` for gpt-image models, which always answer ``b64_json``; each model
family takes its own sizes.
"""

from __future__ import annotations

import pytest

from juhe_core.errors import UnsupportedFeatureError
from juhe_core.testing._media import png
from juhe_core.wire.media import (
    IMAGE_SIZES,
    encode_image_edit,
    encode_image_request,
    image_sizes,
    is_gpt_image,
)


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"])
def test_gpt_image_generation_sends_no_response_format(model: str) -> None:
    body = encode_image_request(
        "a fox", model=model, size="1536x1024", quality="high", response_format="b64_json"
    )
    assert body == {"model": model, "prompt": "a fox", "size": "1536x1024", "quality": "high"}


def test_dall_e_generation_keeps_response_format() -> None:
    body = encode_image_request("a fox", model="dall-e-3", response_format="b64_json")
    assert body == {"model": "dall-e-3", "prompt": "a fox", "response_format": "b64_json"}
    url = encode_image_request("a fox", model="dall-e-2", response_format="url")
    assert url["response_format"] == "url"


def test_gpt_image_edit_form_has_no_response_format() -> None:
    form, files = encode_image_edit(
        "add a hat", [png("a")], model="gpt-image-1", size="auto", response_format="b64_json"
    )
    assert form == {"model": "gpt-image-1", "prompt": "add a hat", "size": "auto"}
    assert [name for name, _ in files] == ["image"]
    dalle, _ = encode_image_edit("x", [png("a")], model="dall-e-2", response_format="b64_json")
    assert dalle["response_format"] == "b64_json"


def test_a_url_from_a_gpt_image_model_is_refused_not_rewritten() -> None:
    with pytest.raises(UnsupportedFeatureError, match="b64_json"):
        encode_image_request("a fox", model="gpt-image-1", response_format="url")
    with pytest.raises(UnsupportedFeatureError, match="b64_json"):
        encode_image_edit("x", [png("a")], model="gpt-image-1", response_format="url")


@pytest.mark.parametrize(
    ("model", "sizes"),
    [
        ("dall-e-3", ("1024x1024", "1792x1024", "1024x1792")),
        ("dall-e-2", ("256x256", "512x512", "1024x1024")),
        ("dall-e", ("256x256", "512x512", "1024x1024")),
        ("gpt-image-1", ("1024x1024", "1536x1024", "1024x1536", "auto")),
        ("gpt-image-1-mini", ("1024x1024", "1536x1024", "1024x1536", "auto")),
        ("gpt-image-2", None),  # free WIDTHxHEIGHT sizes
        ("flux-pro", None),
    ],
)
def test_sizes_per_model_family(model: str, sizes: tuple[str, ...] | None) -> None:
    assert image_sizes(model) == sizes
    assert sizes is None or sizes in IMAGE_SIZES.values()


def test_which_models_are_gpt_image() -> None:
    assert is_gpt_image("gpt-image-1") and is_gpt_image("gpt-image-2")
    assert not is_gpt_image("dall-e-3") and not is_gpt_image("gpt-4o")
