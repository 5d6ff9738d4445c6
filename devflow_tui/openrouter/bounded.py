"""Upper bounds on what a server may make us hold in memory.

A broken or hostile server can send a gzip bomb (a few KB that decompress to gigabytes), a
line that never ends, or an SSE event made of endless `data:` lines. Each would be buffered
whole before parsing, so the client reads bodies and streams through these bounds and fails
with `ResponseTooLarge` (turned into an invalid-response error) instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

# Far above anything OpenRouter sends (a streamed chunk is a few KB, the models list a few MB).
MAX_BODY_BYTES = 64 * 1024 * 1024  # a whole JSON body, after decompression
MAX_STREAM_CHARS = 256 * 1024 * 1024  # a whole SSE stream, after decompression
MAX_LINE_CHARS = 8 * 1024 * 1024  # one SSE line
MAX_EVENT_CHARS = 16 * 1024 * 1024  # one SSE event (its lines up to the blank line)


class ResponseTooLarge(Exception):
    """The server sent more than a bound allows; `what` says which one."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


async def read_capped(response: httpx.Response, limit: int | None = None) -> bytes:
    """The decompressed body, or ResponseTooLarge once it passes `limit` bytes."""
    return await read_capped_parts(response.aiter_bytes(), limit)


async def read_capped_parts(body: AsyncIterator[bytes], limit: int | None = None) -> bytes:
    """A body from its decompressed parts, or ResponseTooLarge once it passes `limit` bytes."""
    limit = MAX_BODY_BYTES if limit is None else limit
    parts: list[bytes] = []
    size = 0
    async for part in body:
        size += len(part)
        if size > limit:
            raise ResponseTooLarge(f"the body is larger than {limit:,} bytes once decompressed")
        parts.append(part)
    return b"".join(parts)


class BoundedEventStream:
    """Stands in for the response given to httpx-sse's `EventSource`: the same headers and
    text, counted as it passes, so no line, event or stream outgrows its bound."""

    def __init__(
        self,
        response: httpx.Response,
        *,
        max_line: int | None = None,
        max_event: int | None = None,
        max_total: int | None = None,
    ) -> None:
        self._response = response
        self._max_line = MAX_LINE_CHARS if max_line is None else max_line
        self._max_event = MAX_EVENT_CHARS if max_event is None else max_event
        self._max_total = MAX_STREAM_CHARS if max_total is None else max_total
        self._line = self._event = self._total = 0
        self._last = ""  # the last character seen (an event ends at two newlines in a row)

    @property
    def headers(self) -> httpx.Headers:
        return self._response.headers

    async def aiter_text(self) -> AsyncIterator[str]:
        async for text in self._response.aiter_text():
            self._count(text)
            yield text

    def _count(self, text: str) -> None:
        self._total += len(text)
        if self._total > self._max_total:
            raise ResponseTooLarge(f"the stream is longer than {self._max_total:,} characters")
        flat = text.replace("\r\n", "\n").replace("\r", "\n")
        size = len(flat)
        last_newline = flat.rfind("\n")
        if last_newline < 0:
            self._line += size
            self._event += size
        else:
            self._line = size - last_newline - 1
            blank = flat.rfind("\n\n")
            if blank >= 0:
                self._event = size - blank - 2
            elif flat.startswith("\n") and self._last == "\n":  # the blank line straddles
                self._event = size - 1
            else:
                self._event += size
        if flat:
            self._last = flat[-1]
        if self._line > self._max_line:
            raise ResponseTooLarge(f"a line is longer than {self._max_line:,} characters")
        if self._event > self._max_event:
            raise ResponseTooLarge(f"an event is longer than {self._max_event:,} characters")
