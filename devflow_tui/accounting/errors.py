"""Errors of the analytics store."""

from __future__ import annotations

from devflow_tui.errors import DevflowError, ErrorCategory


class StoreError(DevflowError):
    """The analytics database cannot be opened or written; the file is left untouched."""

    # There is no storage category yet; the fix is always on the user's machine (file, disk,
    # another process), which is closest to a configuration problem.
    category = ErrorCategory.CONFIG
    locked = False  # another process held the database's lock for the whole wait
