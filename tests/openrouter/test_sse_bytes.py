"""The relay's SSE splitter: whole events out of bytes however they are cut, per the SSE
spec's line endings, fields and comments, and within the bounds on what a server can make
the client hold."""

from __future__ import annotations

import pytest

from devflow_tui.openrouter import bounded
from devflow_tui.openrouter.bounded import ResponseTooLarge
from devflow_tui.openrouter.sse_bytes import EventSplitter, RawEvent

STREAM = (
    b'event: message_start\ndata: {"a": 1}\n\n'
    b": keep-alive comment\n\n"
    b'event: content_block_delta\ndata: {"b":\ndata:  2}\n\n'
    b"data: [DONE]\n\n"
)
EVENTS = [
    RawEvent(b'event: message_start\ndata: {"a": 1}\n\n', "message_start", '{"a": 1}'),
    RawEvent(
        b'event: content_block_delta\ndata: {"b":\ndata:  2}\n\n',
        "content_block_delta",
        '{"b":\n 2}',
    ),
    RawEvent(b"data: [DONE]\n\n", "", "[DONE]"),
]


def split(pieces: list[bytes]) -> list[RawEvent]:
    splitter = EventSplitter()
    return [event for piece in pieces for event in splitter.feed(piece)]


def test_events_come_whole_however_the_bytes_are_cut() -> None:
    assert split([STREAM]) == EVENTS
    assert split([STREAM[i : i + 1] for i in range(len(STREAM))]) == EVENTS
    assert split([STREAM[:30], STREAM[30:31], STREAM[31:]]) == EVENTS


@pytest.mark.parametrize("ending", [b"\r\n", b"\r"])
def test_other_line_endings_are_read_as_newlines(ending: bytes) -> None:
    stream = STREAM.replace(b"\n", ending)
    cut = [stream[i : i + 7] for i in range(0, len(stream), 7)]  # some cut inside "\r\n"
    assert split(cut) == EVENTS
    assert split([stream[i : i + 1] for i in range(len(stream))]) == EVENTS


def test_a_field_without_space_or_value_and_unknown_fields() -> None:
    events = split([b"id: 7\nretry: 10\nevent:ping\ndata:x\ndata\n\n"])
    assert [(e.event, e.data) for e in events] == [("ping", "x\n")]


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded, "MAX_LINE_CHARS", 100)
    monkeypatch.setattr(bounded, "MAX_EVENT_CHARS", 300)
    monkeypatch.setattr(bounded, "MAX_STREAM_CHARS", 1000)


@pytest.mark.usefixtures("small_bounds")
def test_bounds_hold_however_the_bytes_are_cut() -> None:
    splitter = EventSplitter()
    with pytest.raises(ResponseTooLarge, match="a line is longer"):
        for _ in range(20):
            splitter.feed(b"data: " + b"x" * 10)
    splitter = EventSplitter()
    with pytest.raises(ResponseTooLarge, match="an event is longer"):
        for _ in range(20):
            splitter.feed(b"data: " + b"y" * 40 + b"\n")
    with pytest.raises(ResponseTooLarge, match="an event is longer"):
        EventSplitter().feed((b"data: " + b"z" * 90 + b"\n") * 4 + b"\n")
    splitter = EventSplitter()
    event = b"data: " + b"w" * 40 + b"\n\n"
    with pytest.raises(ResponseTooLarge, match="the stream is longer"):
        for _ in range(30):
            assert len(splitter.feed(event)) == 1
