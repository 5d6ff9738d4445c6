"""User-named files: what a path is when it is not a plain file, said in words a user
understands, and the one bounded read of the text a user points devflow at.

Reading a FIFO blocks until someone writes to it, and a device such as /dev/zero never ends,
so every place that reads a user-named file asks `not_a_file` first (`stat` never blocks).
The config file, a prompt on stdin (`-`) and `eval-routing`'s labelled prompts are read by
`read_user_text`: at most a limit of bytes (one more tells that there was more), so a runaway
file cannot fill the memory, and bytes that are not UTF-8 are refused, not guessed at. Each
caller has its own limit and words each `UnreadableText` for its own fix.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path
from typing import IO, Any, Literal


def not_a_file(path: Path) -> str | None:
    """ "a directory", "a named pipe (FIFO)", ... for a path that exists but is not a regular
    file (symbolic links followed); None for a regular file or a path that does not exist."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        return None  # missing or unreadable: the read itself reports it, with its reason
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"  # pragma: no cover - no other kinds on the platforms we run on


# Why `read_user_text` could not read a text: each caller says it in its own words.
Problem = Literal["not a file", "missing", "unreadable", "too large", "not UTF-8"]


class UnreadableText(Exception):
    """Why the text could not be read. `detail` is what the problem needs to be told: the
    kind of path ("a directory") for "not a file", the system's reason for "unreadable", the
    offset of the first bad byte for "not UTF-8"."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{problem}: {detail}" if detail else problem)
        self.problem = problem
        self.detail = detail


def read_user_text(source: Path | IO[Any], limit: int, *, encoding: str = "utf-8") -> str:
    """The text of the file at `source`, or of an open stream (stdin), at most `limit` bytes;
    raises `UnreadableText`. `encoding` is UTF-8 ("utf-8-sig" also drops a byte-order mark)."""
    if isinstance(source, Path):
        kind = not_a_file(source)
        if kind is not None:
            raise UnreadableText("not a file", kind)
        try:
            with source.open("rb") as handle:
                raw: bytes | str = handle.read(limit + 1)
        except FileNotFoundError:
            raise UnreadableText("missing") from None
        except OSError as exc:
            raise UnreadableText("unreadable", exc.strerror or str(exc)) from None
    else:
        raw = source.read(limit + 1)
    if len(raw) > limit:
        raise UnreadableText("too large")
    if isinstance(raw, str):
        return raw  # a text stream without a byte buffer: already decoded
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnreadableText("not UTF-8", str(exc.start)) from None
