"""The error raised when context cannot be found, read or fitted."""

from __future__ import annotations

from devflow_tui.errors import DevflowError, ErrorCategory


class ContextError(DevflowError):
    """Context could not be gathered or fitted; the message says which source and what to do."""

    category = ErrorCategory.USER
    retryable = False
