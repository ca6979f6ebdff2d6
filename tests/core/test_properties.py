"""Property-based tests: decoders fed any bytes or JSON raise only typed errors."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from juhe_core._json import parse_tool_arguments
from juhe_core._sse import BareLine, ServerSentEvent, SSEDecoder
from juhe_core._validate import check_schema
from juhe_core.errors import JuheError, UnsupportedFeatureError
from juhe_core.wire import anthropic, embeddings, gemini, models, openai, responses

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# objects shaped a little like the real thing, so decoders get past their first checks
keys = st.sampled_from(
    [
        "output_index",
        "item",
        "call_id",
        "stop_reason",
        "partial_json",
        "signature",
        "finishReason",
        "promptFeedback",
        "blockReason",
        "choices",
        "delta",
        "message",
        "content",
        "tool_calls",
        "usage",
        "finish_reason",
        "index",
        "function",
        "arguments",
        "name",
        "id",
        "type",
        "candidates",
        "parts",
        "text",
        "functionCall",
        "output",
        "data",
        "embedding",
        "error",
        "delta",
        "content_block",
        "response",
        "status",
        "usageMetadata",
        "inlineData",
        "thought",
    ]
)
shaped = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.text(max_size=6)
    | st.sampled_from(
        [
            "text_delta",
            "tool_use",
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
            "error",
            "input_json_delta",
            "signature_delta",
            "thinking",
            "server_tool_use",
            "stop",
            "STOP",
            "completed",
            "incomplete",
            "failed",
            "function_call",
            "reasoning",
            "message",
            "response.created",
            "response.output_item.added",
            "response.output_item.done",
            "response.output_text.delta",
            "response.function_call_arguments.delta",
            "response.completed",
            "response.failed",
            "[DONE]",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)

line_ending = st.sampled_from(["\n", "\r", "\r\n"])
field_value = st.text(
    alphabet=st.characters(blacklist_characters="\r\n\x00", blacklist_categories=["Cs"]),
    max_size=12,
)


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    events = draw(st.lists(st.lists(field_value, min_size=1, max_size=3), max_size=5))
    raw, expected = "", []

    def end() -> str:
        # A "\r" followed by "\n" is one CRLF line ending (WHATWG), not two.
        ending = draw(line_ending)
        return "\r" if raw.endswith("\r") and ending.startswith("\n") else ending

    for lines in events:
        for line in lines:
            raw += f"data: {line}"
            raw += end()
        if draw(st.booleans()):
            raw += ": comment"
            raw += end()
        raw += end()
        expected.append("\n".join(lines))
    return raw.encode(), expected


@FAST
@given(sse_streams(), st.lists(st.integers(0, 10_000), max_size=6))
def test_sse_any_split_any_line_ending(stream: tuple[bytes, list[str]], cuts: list[int]) -> None:
    raw, expected = stream
    points = sorted({c % (len(raw) + 1) for c in cuts})
    decoder, out = SSEDecoder(), []
    start = 0
    for point in [*points, len(raw)]:
        out.extend(decoder.feed(raw[start:point]))
        start = point
    out.extend(decoder.flush())
    assert [e.data for e in out if isinstance(e, ServerSentEvent)] == expected


@FAST
@given(st.binary(max_size=300), st.integers(1, 64))
def test_sse_never_crashes_on_garbage(raw: bytes, step: int) -> None:
    decoder = SSEDecoder(max_line_bytes=128)
    try:
        for i in range(0, len(raw), step):
            for item in decoder.feed(raw[i : i + step]):
                assert isinstance(item, (ServerSentEvent, BareLine))
        decoder.flush()
    except JuheError:
        pass


def _only_typed(fn: Any, *args: Any, **kwargs: Any) -> None:
    with contextlib.suppress(JuheError):
        fn(*args, **kwargs)


@FAST
@given(st.one_of(json_values, shaped))
def test_response_decoders_raise_only_typed_errors(body: Any) -> None:
    for module in (openai, anthropic, gemini, responses):
        _only_typed(module.decode_chat_response, body)
    _only_typed(embeddings.decode_embeddings_response, body, expected=1)
    _only_typed(models.decode_model_list, body)


@FAST
@given(st.lists(st.one_of(json_values, shaped), max_size=6))
def test_stream_accumulators_raise_only_typed_errors(chunks: list[Any]) -> None:
    for module in (openai, anthropic, gemini, responses):
        acc = module.new_accumulator()
        try:
            for chunk in chunks:
                acc.feed(ServerSentEvent(json.dumps(chunk)))
            acc.finish()
        except JuheError:
            pass


@pytest.mark.parametrize(
    ("text", "match"), [("{not json", "not JSON"), ("[1]", "must be a JSON object, got list")]
)
def test_bad_tool_arguments_are_typed(text: str, match: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=match):
        parse_tool_arguments(text)


@FAST
@given(st.text(max_size=40))
def test_tool_arguments_raise_only_typed_errors(text: str) -> None:
    with contextlib.suppress(UnsupportedFeatureError):
        assert isinstance(parse_tool_arguments(text), dict)


schema_keys = st.sampled_from(
    [
        *("type", "properties", "items", "required", "additionalProperties"),
        *("anyOf", "oneOf", "allOf", "enum", "string", "object", "array", "a"),
    ]
)
schema_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(["string", "object", "array", "null", "strng", "a"])
)
schemas = st.recursive(
    schema_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(schema_keys, inner, max_size=4),
    max_leaves=25,
)


@FAST
@given(st.one_of(json_values, schemas))
def test_check_schema_raises_only_its_typed_error(schema: Any) -> None:
    with contextlib.suppress(UnsupportedFeatureError):
        check_schema(schema, "tool 'f' parameters")


WEIRD_EVENTS = [
    ("anthropic", {"type": []}),
    ("anthropic", {"type": "content_block_start", "index": 0, "content_block": {"type": 5}}),
    (
        "anthropic",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": [1]}},
    ),
    ("anthropic", {"type": "content_block_stop", "index": [1]}),
    ("anthropic", {"type": "message_start", "message": {"id": 3, "model": []}}),
    ("responses", {"type": "response.created", "response": [1]}),
    ("responses", {"type": "response.output_item.added", "item": "x"}),
    ("responses", {"type": "response.completed", "response": [1]}),
    ("responses", {"type": "response.failed", "response": 7}),
    ("gemini", {"modelVersion": 1, "candidates": [{"content": {"parts": [{"text": 1}]}}]}),
    ("gemini", {"candidates": [{"content": {"parts": [{"functionCall": {"name": []}}]}}]}),
    ("openai", {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": "0"}]}}]}),
    ("openai", {"choices": [{"delta": {"content": ["x"], "reasoning": {}}}], "usage": []}),
]


def test_weird_events_raise_only_typed_errors() -> None:
    modules = {"openai": openai, "anthropic": anthropic, "gemini": gemini, "responses": responses}
    for name, event in WEIRD_EVENTS:
        acc = modules[name].new_accumulator()
        try:
            acc.feed(ServerSentEvent(json.dumps(event)))
            acc.finish()
        except JuheError:
            pass
