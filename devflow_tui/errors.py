"""One typed exception hierarchy for everything that can go wrong talking to a model.

Each error has a `category` (what kind of failure), `retryable` (may the same request be
sent again), and a message that says what happened and what to do. Messages never contain
the API key (`redact` runs in `__init__`) nor OpenRouter's `user_id`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from devflow_tui.redaction import redact


class ErrorCategory(StrEnum):
    USER = "user"  # invalid request, bad parameters, context too long
    AUTH = "auth"
    CREDITS = "credits"
    MODERATION = "moderation"
    RATE_LIMIT = "rate_limit"
    PROVIDER = "provider"
    NETWORK = "network"
    # No connection to the API host at all (DNS failure, connection refused): the local network
    # or the base URL is at fault, never the model, so no other model is tried.
    NETWORK_DOWN = "network_down"
    TIMEOUT = "timeout"
    INVALID_RESPONSE = "invalid_response"
    BUDGET = "budget"
    CONFIG = "config"
    CANCELLED = "cancelled"


class DevflowError(Exception):
    """Base of every error a user may see. `hint` says what to do about it."""

    category: ErrorCategory = ErrorCategory.PROVIDER
    retryable: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        message = self.message.rstrip()
        if not message.endswith((".", "!", "?", ":")):
            message += "."
        return f"{message} {self.hint}"


class ConfigError(DevflowError):
    """A setting, flag or file is wrong; the message names it."""

    category = ErrorCategory.CONFIG


class BudgetExceededError(DevflowError):
    """A request was refused before sending because it could exceed a budget."""

    category = ErrorCategory.BUDGET


class CancelledByUser(DevflowError):  # no "Error" suffix: reads better at call sites
    category = ErrorCategory.CANCELLED


class OpenRouterError(DevflowError):
    """An error from (or on the way to) OpenRouter.

    `status` is the HTTP status (or the code of a mid-stream error), `error_type` the
    `error.metadata.error_type` when OpenRouter sent one, `retry_after_s` a server-given wait,
    `mid_stream` True when tokens had already reached the caller (never retried silently),
    `raw` the provider's own error text, kept for the log only. `partial_text` is the answer
    received before the failure and `generation_id` the `gen-` id when one was assigned. The
    HTTP attempts made reach the caller through the client's `on_attempt`, not the error.
    """

    def __init__(
        self,
        message: str,
        *,
        category: ErrorCategory,
        retryable: bool,
        status: int | None = None,
        error_type: str | None = None,
        retry_after_s: float | None = None,
        mid_stream: bool = False,
        raw: str | None = None,
        model: str | None = None,
        hint: str | None = None,
        metadata: dict[str, Any] | None = None,
        partial_text: str = "",
        generation_id: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.category = category
        self.retryable = retryable and not mid_stream
        self.status = status
        self.error_type = error_type
        self.retry_after_s = retry_after_s
        self.mid_stream = mid_stream
        self.raw = redact(raw) if raw else None
        self.model = model
        self.metadata = {k: v for k, v in (metadata or {}).items() if k != "user_id"}
        self.partial_text = partial_text
        self.generation_id = generation_id

    def __repr__(self) -> str:
        return (
            f"OpenRouterError(category={self.category.value!r}, status={self.status!r}, "
            f"retryable={self.retryable!r}, message={self.message!r})"
        )

    @property
    def is_context_length(self) -> bool:
        """True when the prompt did not fit the model's window (a larger model may take it)."""
        if self.error_type in {
            "context_length_exceeded",
            "token_limit_exceeded",
            "string_too_long",
        }:
            return True
        text = self.message.lower()
        return "context length" in text or "context window" in text or "too many tokens" in text
