"""The error raised when context cannot be found, read or fitted."""

from __future__ import annotations

from devflow_tui.errors import DevflowError, ErrorCategory


class ContextError(DevflowError):
    """Context could not be found or read; the message says which source and what to do."""

    category = ErrorCategory.CONFIG
    retryable = False


class ContextWindowError(ContextError):
    """The prompt itself cannot fit the model's window: the request is rejected."""

    category = ErrorCategory.USER
