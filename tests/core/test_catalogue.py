"""The one capability catalogue: families, defaults, and what users register."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from juhe_core import ChatRequest, Message
from juhe_core._adapt import CapabilityWarning, adapt_request
from juhe_core.catalogue import capabilities_for, guess_format, register, unregister


@pytest.fixture
def house() -> Iterator[str]:
    yield "gpt-5-house"
    unregister("gpt-5-house")
    unregister("acme")


def test_unknown_names_get_defaults_never_an_error() -> None:
    caps = capabilities_for("some-brand-new-model-9000")
    assert caps.known is False
    assert caps.context_window > 0
    assert guess_format("some-brand-new-model-9000") == "openai"


def test_a_registration_wins_over_the_family_and_keeps_its_other_facts(house: str) -> None:
    built_in = capabilities_for(house)
    assert built_in.temperature is False  # the gpt-5 family refuses temperature
    register(house, temperature=True, context_window=1_000_000)
    caps = capabilities_for(house + "-2026-01")
    assert (caps.temperature, caps.context_window) == (True, 1_000_000)
    assert caps.max_output_tokens == built_in.max_output_tokens
    assert capabilities_for("gpt-5").temperature is False  # the family is untouched
    unregister(house)
    assert capabilities_for(house) == built_in


def test_a_registration_teaches_an_unknown_family_its_native_format(house: str) -> None:
    register("acme", native_formats=["anthropic"], vision=True)
    assert capabilities_for("acme-large").known is True
    assert guess_format("acme-large") == "anthropic"


def test_the_request_adjustments_read_registrations(house: str) -> None:
    request = ChatRequest(house, [Message.text("user", "hi")], temperature=0.3)
    with pytest.warns(CapabilityWarning, match="temperature"):
        assert adapt_request(request, "openai").temperature is None
    register(house, temperature=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert adapt_request(request, "openai").temperature == 0.3


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"context_windw": 5}, "unknown model facts"),
        ({"vision": "yes"}, "vision must be True or False"),
        ({"context_window": 1.5}, "context_window must be an int"),
        ({"native_formats": "gemini"}, "native_formats must be a sequence"),
    ],
)
def test_bad_registrations_are_refused_by_name(
    house: str, facts: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        register(house, **facts)
    assert capabilities_for(house) == capabilities_for("gpt-5")
