"""The SSE decoder: WHATWG rules, every fixture split at every byte boundary."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from juhe_core._sse import BareLine, ServerSentEvent, SSEDecoder
from juhe_core.errors import StreamError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"


def decode(*chunks: bytes, **kwargs: int) -> list[ServerSentEvent | BareLine]:
    decoder = SSEDecoder(**kwargs)
    out: list[ServerSentEvent | BareLine] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.flush())
    return out


CASES: list[tuple[bytes, list[ServerSentEvent | BareLine]]] = [
    (b"data: hello\n\n", [ServerSentEvent("hello")]),
    (b"data: a\ndata: b\n\n", [ServerSentEvent("a\nb")]),
    (b"data:no-space\r\n\r\n", [ServerSentEvent("no-space")]),
    (b"data:  two spaces\r\r", [ServerSentEvent(" two spaces")]),
    (b": comment\ndata: x\n\n", [ServerSentEvent("x")]),
    (b"event: message_start\ndata: {}\n\n", [ServerSentEvent("{}", event="message_start")]),
    (
        b"id: 7\ndata: x\n\ndata: y\n\n",
        [ServerSentEvent("x", id="7"), ServerSentEvent("y", id="7")],
    ),
    (b"retry: 1500\ndata: x\n\n", [ServerSentEvent("x", retry=1500)]),
    (b"retry: soon\ndata: x\n\n", [ServerSentEvent("x")]),
    (b"event: ping\n\n", []),  # no data line: not dispatched
    (b"data\n\n", [ServerSentEvent("")]),  # a field with no colon has an empty value
    (b"data:\ndata:\n\n", [ServerSentEvent("\n")]),
    (b"unknown: x\ndata: y\n\n", [ServerSentEvent("y")]),
    (b"data: x\n", []),  # no blank line before end of body: dropped, per the spec
    (
        b'data: {"a":1}\n\n{"error":{"message":"boom"}}',
        [ServerSentEvent('{"a":1}'), BareLine('{"error":{"message":"boom"}}')],
    ),
    ("data: wörld ☃\n\n".encode(), [ServerSentEvent("wörld ☃")]),
    # WHATWG: one UTF-8 BOM at the start of the stream is dropped, no other
    (b"\xef\xbb\xbfdata: x\n\n", [ServerSentEvent("x")]),
    (b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n", [ServerSentEvent("y")]),
    (b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [ServerSentEvent("a")]),
    (b"\xef\xbbdata: x\n\ndata: y\n\n", [ServerSentEvent("y")]),  # not a whole BOM
    (b"\xef\xbb\xbf\n\xef\xbb", []),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_cases_at_every_split(raw: bytes, expected: list[ServerSentEvent | BareLine]) -> None:
    assert decode(raw) == expected
    for i in range(len(raw) + 1):
        assert decode(raw[:i], raw[i:]) == expected, f"split at {i}"


@pytest.mark.parametrize("raw", [b"data: x\r\n\r\n", b"data: x\r\r", b"data: x\n\n"])
def test_line_endings_byte_by_byte(raw: bytes) -> None:
    assert decode(*[raw[i : i + 1] for i in range(len(raw))]) == [ServerSentEvent("x")]


def test_cr_then_lf_in_next_chunk_is_one_line_ending() -> None:
    # "\r" ends a chunk, "\n" starts the next: one line ending, so no extra blank line
    # dispatches "a" early and "b" joins the same event.
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [ServerSentEvent("a\nb")]


@pytest.mark.parametrize("name", ["text_stream.sse", "claude_tool_stream.sse"])
def test_fixture_split_at_every_byte(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    whole = decode(raw)
    assert whole and whole[-1] == ServerSentEvent("[DONE]")
    for i in range(len(raw) + 1):
        assert decode(raw[:i], raw[i:]) == whole, f"split at {i}"


@pytest.mark.parametrize("name", ["text_stream.sse", "claude_tool_stream.sse"])
def test_fixture_three_way_splits_and_crlf(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    whole = decode(raw)
    crlf = raw.replace(b"\n", b"\r\n")
    assert decode(crlf) == whole
    step = 7
    for i in range(0, len(crlf), step):
        for j in range(i, len(crlf), step * 13):
            assert decode(crlf[:i], crlf[i:j], crlf[j:]) == whole


def test_line_cap_raises_stream_error() -> None:
    with pytest.raises(StreamError, match="max_line_bytes"):
        decode(b"data: " + b"x" * 100, max_line_bytes=64)
    with pytest.raises(StreamError, match="max_line_bytes"):
        decode(b"data: " + b"x" * 100 + b"\n\n", max_line_bytes=64)
    assert decode(b"data: " + b"x" * 50 + b"\n\n", max_line_bytes=64) == [ServerSentEvent("x" * 50)]


def test_event_data_cap_raises_stream_error() -> None:
    # Every line is under the cap; the event they make is not.
    many = b"data: " + b"x" * 20 + b"\n"
    with pytest.raises(StreamError, match="event data larger than 64 bytes"):
        decode(many * 4 + b"\n", max_line_bytes=64)
    two = ServerSentEvent("x" * 20 + "\n" + "x" * 20)
    assert decode(many * 2 + b"\n", max_line_bytes=64) == [two]
    # the count starts again with each event
    assert len(decode((many * 2 + b"\n") * 10, max_line_bytes=64)) == 10


def test_long_line_in_small_chunks_costs_linear_time() -> None:
    # Re-scanning the held line on every chunk made this quadratic (~5 s for 8 MiB).
    line = b"data: " + b"x" * (8 * 1024 * 1024) + b"\n\n"
    decoder = SSEDecoder()
    started = time.perf_counter()
    out = [e for i in range(0, len(line), 4096) for e in decoder.feed(line[i : i + 4096])]
    assert time.perf_counter() - started < 1.0
    assert out == [ServerSentEvent("x" * (8 * 1024 * 1024))]
