"""Arbitrary request bodies and schemas never crash the emulator (property tests, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from juhe_core.testing import EMULATOR_API_KEY
from juhe_core.testing._handlers import chat_completions, embeddings
from juhe_core.testing._schema import Values, instance
from juhe_core.testing._script import RecordedRequest
from juhe_core.testing._state import State, Static, Streamed

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
CHAT_KEYS = [
    "messages", "tools", "tool_choice", "functions", "response_format", "stop", "max_tokens",
    "max_completion_tokens", "stream", "stream_options", "logprobs", "top_logprobs", "n",
    "reasoning_effort", "parallel_tool_calls",
]  # fmt: skip
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "tool", "system", "x"])},
    optional={"content": json_values, "tool_calls": json_values, "tool_call_id": json_values},
)
chat_bodies = st.fixed_dictionaries(
    {
        "model": st.just("gpt-4o"),
        "messages": st.lists(message, min_size=1, max_size=3) | json_values,
    },
    optional={key: json_values for key in CHAT_KEYS if key != "messages"},
)


def state() -> State:
    return State(
        api_keys=[EMULATOR_API_KEY],
        models=None,
        serve_unlisted=True,
        faults=None,
        seed=0,
        record=False,
    )


def request(body: Any, path: str) -> RecordedRequest:
    raw = json.dumps(body).encode()
    return RecordedRequest("POST", path, {}, {}, raw, body, request_id="1")


def assert_answered(response: Static | Streamed) -> None:
    if isinstance(response, Static):
        assert response.status != 500 or b"emulator_internal_error" not in response.body
        if response.body:
            json.loads(response.body)
    else:
        assert response.frames


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=chat_bodies)
def test_any_chat_body_gets_an_answer_or_a_relay_error(body: dict[str, Any]) -> None:
    assert_answered(chat_completions(state(), request(body, "/v1/chat/completions")))


@pytest.mark.timeout(60)
@settings(max_examples=200, deadline=None)
@given(
    body=st.fixed_dictionaries(
        {"model": st.just("m")},
        optional={"input": json_values, "dimensions": json_values, "encoding_format": json_values},
    )
)
def test_any_embeddings_body_gets_an_answer_or_a_relay_error(body: dict[str, Any]) -> None:
    assert_answered(embeddings(state(), request(body, "/v1/embeddings")))


schema_keys = st.sampled_from(
    ["type", "properties", "required", "items", "enum", "const", "anyOf", "allOf", "oneOf",
     "$ref", "minItems", "maxItems", "minimum", "maximum", "format", "prefixItems", "$defs"]
)  # fmt: skip


@pytest.mark.timeout(60)
@settings(max_examples=300, deadline=None)
@given(schema=st.dictionaries(schema_keys, json_values, max_size=5), text=st.text(max_size=40))
def test_instance_never_raises_on_odd_schemas(schema: dict[str, Any], text: str) -> None:
    json.dumps(instance(schema, Values(text)))
