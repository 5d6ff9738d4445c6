"""Whole SSE events cut from a byte stream, for the relay that sends them on as they came.

A pass-through stream is forwarded, not rebuilt: each event goes on as the bytes it arrived
as, and the events that arrived together go on together. Only what the meter needs is read
from each event (its name and data); no text decoding of the stream, no re-encoding. Parsing
follows the SSE spec (events end at a blank line; `\\r\\n`, `\\r` and `\\n` end lines; a
`data` field is the rest of its line after one optional space; several `data` lines join with
newlines; lines starting with `:` are comments), within the bounds of `bounded.py`: no line,
event or stream outgrows its limit however the server cuts its bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from devflow_tui.openrouter import bounded
from devflow_tui.openrouter.bounded import ResponseTooLarge


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One event: its bytes as sent on (blank line included), its name and its data."""

    raw: bytes
    event: str
    data: str


class EventSplitter:
    """Feed it the stream's bytes as they come; it returns the events completed so far.
    Blocks without a `data` line (comments, keep-alives) are dropped: there is nothing in
    them to hand on."""

    def __init__(self) -> None:
        # Read at creation, so tests can lower the module's bounds.
        self._max_line = bounded.MAX_LINE_CHARS
        self._max_event = bounded.MAX_EVENT_CHARS
        self._max_total = bounded.MAX_STREAM_CHARS
        self._buffer = b""  # the start of an event not complete yet
        self._total = 0
        self._after_cr = False  # the last chunk ended in "\r"

    def feed(self, chunk: bytes) -> list[RawEvent]:
        """The events this chunk completes, in order; ResponseTooLarge past a bound."""
        self._total += len(chunk)
        if self._total > self._max_total:
            raise ResponseTooLarge(f"the stream is longer than {self._max_total:,} characters")
        if self._after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the second half of a "\r\n" cut between two chunks
        self._after_cr = chunk[-1:] == b"\r"
        if b"\r" in chunk:  # one line ending from here on: a blank line is always b"\n\n"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        # The part already searched holds no blank line: search from its last byte on.
        scan = max(len(self._buffer) - 1, 0)
        buffer = self._buffer + chunk if self._buffer else chunk
        events: list[RawEvent] = []
        start = 0
        while True:
            end = buffer.find(b"\n\n", max(start, scan))
            if end < 0:
                break
            if end + 2 - start > self._max_event:
                raise ResponseTooLarge(f"an event is longer than {self._max_event:,} characters")
            event = _parse(buffer[start : end + 2])
            if event is not None:
                events.append(event)
            start = end + 2
        rest = buffer[start:]
        if len(rest) > self._max_event:
            raise ResponseTooLarge(f"an event is longer than {self._max_event:,} characters")
        if len(rest) - rest.rfind(b"\n") - 1 > self._max_line:
            raise ResponseTooLarge(f"a line is longer than {self._max_line:,} characters")
        self._buffer = rest
        return events


def _parse(raw: bytes) -> RawEvent | None:
    """One block of lines (ending in a blank line) as an event, or None without data."""
    name = b""
    data: list[bytes] = []
    for line in raw[:-2].split(b"\n"):
        if not line or line[0] == 58:  # an empty line, or a ":" comment
            continue
        field, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value
    if not data:
        return None
    text = b"\n".join(data).decode("utf-8", "replace")
    return RawEvent(raw, name.decode("utf-8", "replace"), text)
