"""Cut a streamed Markdown answer into segments that each stay cheap to re-parse.

Rendering Markdown re-parses at least the whole last block, so one very long paragraph or code
block makes streaming quadratic. The conversation therefore draws a long answer as several
parts, only the last of which is drawn again as text arrives (compare mode's columns use one
Textual Markdown widget per segment the same way). A segment ends at a blank line outside a
code fence once it holds `soft_limit` characters; a paragraph or code block that runs past
`hard_limit` is cut at a newline, and an open code fence is closed at the end of one segment
and reopened at the start of the next, so both halves still render as code. The answer's own
text is never changed: those extra fence lines exist only on screen, and `synthetic_chars`
says how many there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.widgets import Markdown

SOFT_LIMIT = 2_000  # a segment ends at the next blank line after this many characters
HARD_LIMIT = 8_000  # ... or at any newline after this many (a long paragraph or code block)
LINE_MEMORY = 200  # how much of an unfinished line is kept to recognise a fence when it ends
LONG_LINE = "\x00"  # stands for a line cut in the middle: never a fence

# A fence opens with 3+ backticks or tildes (an info string may follow a tilde fence; a
# backtick fence's info string has no backticks) and closes with at least as many of the same
# character and nothing else. Indentation is accepted freely: fences inside list items are
# indented, and treating a line as a fence only ever makes us split less.
_OPEN = re.compile(r"^[ \t]*(`{3,}(?=[^`]*$)|~{3,})")
_CLOSE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*$")


class SegmentSplitter:
    """Split streamed fragments into per-segment text; see the module docstring."""

    def __init__(self, soft_limit: int = SOFT_LIMIT, hard_limit: int = HARD_LIMIT) -> None:
        self.soft_limit = soft_limit
        self.hard_limit = max(hard_limit, soft_limit)
        self.synthetic_chars = 0  # fence lines added for display, not part of the answer
        self._size = 0  # characters in the current segment
        self._line = ""  # the end of the unfinished last line (enough to recognise a fence)
        self._line_length = 0  # characters of the unfinished last line
        self._fence: str | None = None  # the open fence's marker (``` or ~~~~), if any
        self._fence_line = ""  # the line that opened it, to reopen it in the next segment

    @property
    def in_fence(self) -> bool:
        """Whether the text so far ends inside a fenced code block."""
        return self._fence is not None

    def feed(self, fragment: str) -> list[str]:
        """Text for the current segment, then for each new segment to start, in order."""
        out = [""]
        pos = 0
        while pos < len(fragment):
            newline = fragment.find("\n", pos)
            if newline == -1:
                # An unfinished line is shown at once. Segments end at a newline, except in a
                # line that runs past `hard_limit` (a 10 MB answer on one line): it is cut where
                # it stands, so no widget ever re-parses more than that much text.
                piece = fragment[pos:]
                while self._line_length + len(piece) > self.hard_limit:
                    room = self.hard_limit - self._line_length
                    out[-1] += piece[:room]
                    piece = piece[room:]
                    self._cut_mid_line(out)
                self._line = (self._line + piece)[-LINE_MEMORY:]
                self._line_length += len(piece)
                out[-1] += piece
                self._size += len(piece)
                break
            piece = fragment[pos : newline + 1]
            pos = newline + 1
            out[-1] += piece
            self._size += len(piece)
            line, self._line = self._line + piece[:-1], ""
            self._line_length = 0
            opened = self._track_fence(line)
            if self._fence is None and not line.strip() and self._size >= self.soft_limit:
                out.append("")
                self._size = 0
            elif self._size >= self.hard_limit and not opened:
                self._end_segment(out, after_newline=True)
        return out

    def _end_segment(self, out: list[str], *, after_newline: bool) -> None:
        """Start a new segment, closing an open code fence in this one and reopening it."""
        if self._fence is not None:
            close = ("" if after_newline else "\n") + self._fence + "\n"
            reopen = self._fence_line + "\n"
            out[-1] += close
            out.append(reopen)
            self.synthetic_chars += len(close) + len(reopen)
            self._size = len(reopen)
        else:
            out.append("")
            self._size = 0

    def _cut_mid_line(self, out: list[str]) -> None:
        """End the segment inside a line (closing and reopening an open code fence)."""
        self._end_segment(out, after_newline=False)
        self._line = LONG_LINE  # whatever ends this line, it is no fence
        self._line_length = 0

    def _track_fence(self, line: str) -> bool:
        """Follow fences opening and closing; True when `line` opened one."""
        if self._fence is None:
            match = _OPEN.match(line)
            if match is None:
                return False
            self._fence = match.group(1)
            self._fence_line = line
            return True
        match = _CLOSE.match(line)
        marker = match.group(1) if match else ""
        if marker[:1] == self._fence[0] and len(marker) >= len(self._fence):
            self._fence = None
        return False


class ThrottledStream:
    """Append streamed text to one Markdown widget at most every `interval` seconds.

    Textual's MarkdownStream appends as soon as the previous append finished; with small
    segments that is many times per frame, and every `Markdown.append` builds throwaway block
    widgets whose reference cycles fill the garbage collector's oldest generation (its full
    collections then stall the event loop for 100-200 ms). Appending once per interval shows
    the same frames with a fraction of the garbage. `write` never awaits, so a synchronous
    event callback can feed it; `stop` flushes what is left, without cancelling an append half
    way (a cancelled append would leave Markdown's parse position out of step).
    """

    def __init__(self, markdown: Markdown, interval: float = 1 / 30) -> None:
        self.markdown = markdown
        self.interval = interval
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    def write(self, fragment: str) -> None:
        """Queue `fragment` for the next append."""
        if self._closing.is_set():
            raise RuntimeError("Can't write to the stream after it has stopped.")
        if fragment:
            self._pending.append(fragment)
            self._wake.set()

    async def stop(self) -> None:
        """Append whatever is queued and end the stream."""
        self._closing.set()
        self._wake.set()
        await self._task

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._pending:
                text = "".join(self._pending)
                self._pending.clear()
                if not self.markdown.is_attached:
                    return  # the answer was removed from the screen mid-stream
                await self.markdown.append(text)
            if self._closing.is_set():
                if not self._pending:
                    return
                continue
            # Wait out the interval, but end it early when the stream is stopped.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.interval)
