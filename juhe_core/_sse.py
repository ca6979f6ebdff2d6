"""An incremental, sans-IO Server-Sent Events decoder (bytes in, events out).

Follows the WHATWG event-stream rules: lines end in CR, LF or CRLF (a CR at the end of
one chunk and an LF at the start of the next are one line ending); ``data`` lines of one
event are joined with ``\\n``; lines starting with ``:`` are comments; ``event``, ``id``
and ``retry`` fields are kept; an empty line dispatches the event; a field line without
a colon is a field with an empty value; one leading space after the colon is dropped.

One deviation, on purpose: the relay can append a plain JSON error object to a stream
with no ``data:`` prefix (relay-behavior.md §10). The spec would read that line as an
unknown field and drop it silently; we surface it as a ``BareLine`` so the caller can
raise the typed error instead of losing it.

Lines longer than ``max_line_bytes`` raise StreamError, so a broken or hostile server
cannot make us buffer without bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from juhe_core.errors import StreamError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "BareLine", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event."""

    data: str
    """The data lines joined with ``\\n``."""
    event: str = "message"
    """The event type (``message`` when none was given)."""
    id: str | None = None
    """The last event id seen so far, if any."""
    retry: int | None = None
    """A reconnection time in ms, when this event carried one."""


@dataclass(frozen=True, slots=True)
class BareLine:
    """A line that is not an SSE field but looks like a JSON value (starts with ``{``)."""

    text: str
    """The whole line."""


class SSEDecoder:
    """Feed bytes with ``feed``; call ``flush`` at end of body. Both return what completed."""

    __slots__ = ("_buffer", "_data", "_event", "_last_id", "_max", "_pending_cr", "_retry")

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._buffer = b""
        self._pending_cr = False
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None
        self._max = max_line_bytes

    def feed(self, chunk: bytes) -> list[ServerSentEvent | BareLine]:
        """Decode ``chunk`` and return the events it completed."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._pending_cr = False
        if not chunk:
            return []
        data = self._buffer + chunk if self._buffer else chunk
        # bytes.splitlines splits on \n, \r and \r\n only (unlike str.splitlines).
        lines = data.splitlines(keepends=True)
        last = lines[-1]
        if last.endswith(b"\n") or last.endswith(b"\r"):
            self._buffer = b""
            self._pending_cr = last.endswith(b"\r")
        else:
            self._buffer = lines.pop()
            if len(self._buffer) > self._max:
                raise StreamError(f"stream line longer than {self._max} bytes (max_line_bytes)")
        out: list[ServerSentEvent | BareLine] = []
        for raw in lines:
            if len(raw) > self._max + 2:
                raise StreamError(f"stream line longer than {self._max} bytes (max_line_bytes)")
            self._line(raw.rstrip(b"\r\n"), out)
        return out

    def flush(self) -> list[ServerSentEvent | BareLine]:
        """End of body: decode a last unterminated line; an unfinished event is dropped.

        Per the spec, an event is only dispatched by a blank line, so data without one at
        end of body is discarded; we return a BareLine for a trailing JSON line instead.
        """
        out: list[ServerSentEvent | BareLine] = []
        if self._buffer:
            line, self._buffer = self._buffer, b""
            self._line(line, out)
        self._data, self._event = [], ""
        return out

    def _line(self, raw: bytes, out: list[ServerSentEvent | BareLine]) -> None:
        if not raw:
            self._dispatch(out)
            return
        text = raw.decode("utf-8", errors="replace")
        if text[0] == ":":
            return  # comment, e.g. the relay's ": PING" keep-alive
        name, sep, value = text.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
        elif text[0] in "{[":
            out.append(BareLine(text))
        # any other field name is ignored, as the spec says

    def _dispatch(self, out: list[ServerSentEvent | BareLine]) -> None:
        # The spec dispatches only when at least one data line was seen.
        if self._data:
            out.append(
                ServerSentEvent(
                    data="\n".join(self._data),
                    event=self._event or "message",
                    id=self._last_id,
                    retry=self._retry,
                )
            )
        self._data, self._event, self._retry = [], "", None
