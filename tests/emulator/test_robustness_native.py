"""Arbitrary bodies on the native, media and Midjourney routes never crash the emulator.

Property tests calling the handlers directly (no sockets): every body gets an answer or a
relay-shaped error, never an exception (which the app would turn into a 500
``emulator_internal_error``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from juhe_core.testing import EMULATOR_API_KEY
from juhe_core.testing._media_handlers import generate_images, moderations, speech_route
from juhe_core.testing._midjourney import mj_route
from juhe_core.testing._native import gemini_generate, messages, responses
from juhe_core.testing._script import RecordedRequest
from juhe_core.testing._state import State, Static, Streamed

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STATE = State(
    api_keys=[EMULATOR_API_KEY],
    models=None,
    serve_unlisted=True,
    faults=None,
    seed=0,
    record=False,
    mj_step_seconds=0.0,
)


def request(body: Any, path: str, query: dict[str, str] | None = None) -> RecordedRequest:
    raw = json.dumps(body).encode()
    return RecordedRequest("POST", path, query or {}, {"host": "127.0.0.1"}, raw, body, "1")


def assert_answered(response: Static | Streamed) -> None:
    if isinstance(response, Static):
        assert b"emulator_internal_error" not in response.body
        assert response.status < 500 or response.status in (500, 503)
    else:
        assert response.frames


def bodies(required: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional={k: json_values for k in keys})


block = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "x"])},
    optional={"text": json_values, "content": json_values, "id": json_values, "input": json_values},
)
anthropic = bodies(
    {
        "model": st.just("claude-x"),
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "assistant"])},
                optional={"content": st.lists(block, max_size=3) | json_values},
            ),
            max_size=3,
        )
        | json_values,
    },
    ["max_tokens", "system", "tools", "tool_choice", "thinking", "stop_sequences", "stream",
     "temperature"],
)  # fmt: skip


@pytest.mark.timeout(60)
@SETTINGS
@given(body=anthropic)
def test_messages(body: dict[str, Any]) -> None:
    assert_answered(messages(STATE, request(body, "/v1/messages")))


part = st.fixed_dictionaries(
    {},
    optional={
        "text": json_values,
        "thought": json_values,
        "inlineData": json_values,
        "functionCall": json_values,
        "functionResponse": json_values,
    },
)
gemini = bodies(
    {
        "contents": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "model", "x"])},
                optional={"parts": st.lists(part, max_size=3) | json_values},
            ),
            max_size=3,
        )
        | json_values
    },
    ["systemInstruction", "tools", "toolConfig", "generationConfig"],
)


@pytest.mark.timeout(60)
@SETTINGS
@given(body=gemini, stream=st.booleans())
def test_gemini(body: dict[str, Any], stream: bool) -> None:
    query = {"alt": "sse"} if stream else {}
    path = "/v1beta/models/gemini-2.5-flash:generateContent"
    assert_answered(gemini_generate(STATE, request(body, path, query)))


item = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "function_call", "function_call_output", "reasoning"])},
    optional={"role": json_values, "content": json_values, "call_id": json_values,
              "output": json_values, "name": json_values},
)  # fmt: skip
responses_bodies = bodies(
    {"model": st.just("o3-pro"), "input": st.lists(item, max_size=3) | json_values},
    ["instructions", "tools", "tool_choice", "reasoning", "text", "max_output_tokens", "stream"],
)


@pytest.mark.timeout(60)
@SETTINGS
@given(body=responses_bodies)
def test_responses(body: dict[str, Any]) -> None:
    assert_answered(responses(STATE, request(body, "/v1/responses")))


@pytest.mark.timeout(60)
@SETTINGS
@given(
    images=bodies({}, ["model", "prompt", "n", "size", "response_format"]),
    speech=bodies({}, ["model", "input", "voice", "response_format"]),
    moderation=bodies({}, ["model", "input"]),
)
def test_media(images: dict[str, Any], speech: dict[str, Any], moderation: dict[str, Any]) -> None:
    assert_answered(generate_images(STATE, request(images, "/v1/images/generations")))
    assert_answered(speech_route(STATE, request(speech, "/v1/audio/speech")))
    assert_answered(moderations(STATE, request(moderation, "/v1/moderations")))


@pytest.mark.timeout(60)
@SETTINGS
@given(
    action=st.sampled_from(["imagine", "action", "describe", "blend", "modal"]),
    body=bodies({}, ["prompt", "taskId", "customId", "base64", "base64Array", "state", "botType"])
    | json_values,
)
def test_midjourney_submit(action: str, body: Any) -> None:
    path = f"/mj/submit/{action}"
    handler = mj_route("POST", path)
    assert handler is not None
    assert_answered(handler(STATE, request(body, path)))
    lister = mj_route("POST", "/mj/task/list-by-condition")
    assert lister is not None
    assert_answered(lister(STATE, request(body, "/mj/task/list-by-condition")))
