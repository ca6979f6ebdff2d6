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

A UTF-8 byte order mark at the very start of the stream is dropped, as the spec says
(otherwise the first field name would be ``\ufeffdata`` and the first event lost).

Lines longer than ``max_line_bytes`` raise StreamError, and so does an event whose data
lines add up to more than that, so a broken or hostile server cannot make us buffer
without bound. Each byte is scanned once: an unfinished line is kept as a list of pieces
and only a new chunk is searched for line endings, so a long line arriving in small
chunks costs linear, not quadratic, time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from juhe_core.errors import StreamError

__all__ = ["DEFAULT_MAX_LINE_BYTES", "BareLine", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024
_BOM: Final = b"\xef\xbb\xbf"


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

    __slots__ = (
        "_data",
        "_data_size",
        "_event",
        "_head",
        "_last_id",
        "_max",
        "_parts",
        "_parts_size",
        "_pending_cr",
        "_retry",
    )

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._head: bytes | None = b""  # the stream's first bytes, until a BOM is ruled out
        self._parts: list[bytes] = []  # pieces of a line whose ending has not arrived
        self._parts_size = 0
        self._pending_cr = False
        self._data: list[str] = []
        self._data_size = 0
        self._event = ""
        self._last_id: str | None = None
        self._retry: int | None = None
        self._max = max_line_bytes

    def feed(self, chunk: bytes) -> list[ServerSentEvent | BareLine]:
        """Decode ``chunk`` and return the events it completed."""
        if self._head is not None:
            chunk = self._strip_bom(chunk)
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]  # the LF of a CRLF split across chunks
        if not chunk:
            return []
        # bytes.splitlines splits on \n, \r and \r\n only (unlike str.splitlines).
        lines = chunk.splitlines(keepends=True)
        tail = lines[-1]
        if tail.endswith((b"\n", b"\r")):
            self._pending_cr = tail[-1] == 13  # a CR: an LF may start the next chunk
            tail = b""
        else:
            lines.pop()  # the chunk ends inside a line
        out: list[ServerSentEvent | BareLine] = []
        if lines:
            if self._parts:
                self._parts.append(lines[0])
                lines[0] = b"".join(self._parts)
                self._parts, self._parts_size = [], 0
            limit = self._max + 2
            for raw in lines:
                if len(raw) > limit:
                    raise StreamError(f"stream line longer than {self._max} bytes (max_line_bytes)")
                self._line(raw.rstrip(b"\r\n"), out)
        if tail:
            self._parts.append(tail)
            self._parts_size += len(tail)
            if self._parts_size > self._max:
                raise StreamError(f"stream line longer than {self._max} bytes (max_line_bytes)")
        return out

    def flush(self) -> list[ServerSentEvent | BareLine]:
        """End of body: decode a last unterminated line; an unfinished event is dropped.

        Per the spec, an event is only dispatched by a blank line, so data without one at
        end of body is discarded; we return a BareLine for a trailing JSON line instead.
        """
        out: list[ServerSentEvent | BareLine] = []
        if self._head:  # fewer bytes than a BOM ever arrived: they are a line
            self._parts.append(self._head)
        self._head = None
        if self._parts:
            line = b"".join(self._parts)
            self._parts, self._parts_size = [], 0
            self._line(line, out)
        self._data, self._data_size, self._event = [], 0, ""
        return out

    def _strip_bom(self, chunk: bytes) -> bytes:
        # WHATWG: one leading U+FEFF is dropped. It may arrive split over chunks, so the
        # first bytes are held until they are known to be a BOM or not.
        head = self._head + chunk if self._head else chunk
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._head = head
            return b""
        self._head = None
        return head[len(_BOM) :] if head.startswith(_BOM) else head

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
            self._data_size += len(raw)
            if self._data_size > self._max:
                raise StreamError(
                    f"stream event data larger than {self._max} bytes (max_line_bytes)"
                )
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
        self._data, self._data_size, self._event, self._retry = [], 0, "", None
