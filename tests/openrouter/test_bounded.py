"""Bounds on what a server can make the client hold: gzip bombs, endless lines and events.

The bounds are lowered for the test (they are module constants read at call time), so a few
hundred KB exercise the same code a multi-GB attack would."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import cast

import httpx
import pytest

from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter import bounded
from tests.openrouter.conftest import chat_request
from tests.openrouter.raw_server import END, chunk, raw_server, sse_head
from tests.openrouter.test_wire_edge_cases import client_for, run_stream

LIMIT = 64 * 1024


@pytest.fixture(autouse=True)
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded, "MAX_BODY_BYTES", LIMIT)
    monkeypatch.setattr(bounded, "MAX_LINE_CHARS", LIMIT)
    monkeypatch.setattr(bounded, "MAX_EVENT_CHARS", 2 * LIMIT)
    monkeypatch.setattr(bounded, "MAX_STREAM_CHARS", 4 * LIMIT)


def gzip_response(body: bytes, content_type: str) -> bytes:
    packed = gzip.compress(body)
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(packed)}\r\n\r\n"
    ).encode() + packed


async def test_gzip_bomb_json_body_is_refused(settings: Settings, fake_key: str) -> None:
    bomb = json.dumps({"data": [], "pad": "0" * (LIMIT * 4)}).encode()
    assert len(gzip.compress(bomb)) < LIMIT // 50  # small on the wire
    async with (
        raw_server([[gzip_response(bomb, "application/json")]] * 2) as server,
        client_for(server, settings, fake_key) as client,
    ):
        with pytest.raises(OpenRouterError) as models:
            await client.list_models()
        with pytest.raises(OpenRouterError) as chat:
            await client.chat(chat_request())
    for error in (models.value, chat.value):
        assert error.category is ErrorCategory.INVALID_RESPONSE
        assert "larger than" in error.message and "decompressed" in error.message


async def test_gzip_bomb_stream_is_refused(settings: Settings, fake_key: str) -> None:
    events = b"".join(b": keep-alive " + b"0" * 1000 + b"\n\n" for _ in range(LIMIT // 200))
    async with (
        raw_server([[gzip_response(events, "text/event-stream")]]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        items, error = await run_stream(client)
    assert items == [] and error is not None
    assert error.category is ErrorCategory.INVALID_RESPONSE
    assert "the stream is longer than" in error.message


ENDLESS_LINE = [chunk(b"data: " + b"x" * 8192)] * (LIMIT // 4096)
ENDLESS_EVENT = [chunk((b"data: " + b"y" * 1000 + b"\n") * 8)] * (3 * LIMIT // 8000)


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [(ENDLESS_LINE, "a line is longer than"), (ENDLESS_EVENT, "an event is longer than")],
)
async def test_endless_line_or_event_is_refused(
    settings: Settings, fake_key: str, pieces: list[bytes], expected: str
) -> None:
    async with (
        raw_server([[sse_head(), *pieces, 30.0]]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        _, error = await run_stream(client)
    assert error is not None and error.category is ErrorCategory.INVALID_RESPONSE
    assert expected in error.message


async def test_normal_stream_passes_the_bounds(settings: Settings, fake_key: str) -> None:
    piece = {"id": "gen-1", "choices": [{"index": 0, "delta": {"content": "ab"}}]}
    event = b"data: " + json.dumps(piece).encode() + b"\n\n"
    done = b'data: {"id":"gen-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    # More than LIMIT characters in all would trip the total, so stay under it.
    script = [sse_head(), *([chunk(event)] * 200), chunk(done), chunk(b"data: [DONE]\n\n"), END]
    async with (
        raw_server([script]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        items, error = await run_stream(client)
    assert error is None and len(items) == 201


class _Pieces:
    """A response stand-in that yields the given pieces of text."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces
        self.headers = httpx.Headers({"content-type": "text/event-stream"})

    async def aiter_text(self) -> AsyncIterator[str]:
        for piece in self.pieces:
            yield piece


async def test_event_bound_resets_at_a_blank_line_split_across_pieces() -> None:
    half = "data: " + "z" * (LIMIT - 10)
    # Two events, each under the event bound, the blank line between them split in two.
    pieces = [half + "\n", "\r\n" + half + "\r\n", "\n"]
    stream = bounded.BoundedEventStream(
        cast(httpx.Response, _Pieces(pieces)), max_event=LIMIT + 100
    )
    assert [len(p) async for p in stream.aiter_text()] == [len(p) for p in pieces]
    glued = bounded.BoundedEventStream(
        cast(httpx.Response, _Pieces([half + "\n", half + "\n"])), max_event=LIMIT + 100
    )
    with pytest.raises(bounded.ResponseTooLarge, match="an event"):
        _ = [p async for p in glued.aiter_text()]
