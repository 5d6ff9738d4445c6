"""What a path is when it is not a plain file, said in words a user understands.

Reading a FIFO blocks until someone writes to it, and a device such as /dev/zero never ends,
so every place that reads a user-named file asks this first (`stat` never blocks).
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path


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
