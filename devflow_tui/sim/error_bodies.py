"""Error bodies and headers as OpenRouter sends them (spec sections 3.1 to 3.4).

Envelope: `{"error": {"code", "message", "metadata"}, "user_id"}`. `user_id` is a top-level
sibling the real service adds to most errors; clients must never show it, so the simulator
sends one to let tests prove they do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from devflow_tui.sim.config import Fault

USER_ID = "user_2SimulatedUser0000000000000"
DAY_MS = 86_400_000

# status -> (default message, default metadata.error_type, is it a provider-side error)
_DEFAULTS: dict[int, tuple[str, str, bool]] = {
    400: ("Invalid request parameters", "invalid_request", False),
    401: ("User not found.", "authentication", False),
    402: (
        "This request requires more credits, or fewer max_tokens. You requested up to 65536 "
        "tokens, but can only afford 33333. To increase, visit "
        "https://openrouter.ai/settings/credits and upgrade to a paid account",
        "payment_required",
        False,
    ),
    403: ("", "permission_denied", True),  # moderation; message built from the model
    404: ("No endpoints found that support tool use.", "not_found", False),
    408: ("Operation timed out. Please try again later.", "timeout", False),
    413: ("Payload too large", "payload_too_large", False),
    422: ("Unprocessable request", "unprocessable", False),
    429: ("Rate limit exceeded", "rate_limit_exceeded", False),
    500: ("Internal Server Error", "server", False),
    502: ("Provider returned error", "provider_unavailable", True),
    503: ("Service temporarily unavailable", "provider_overloaded", False),
    504: ("Gateway timeout", "timeout", False),
    524: ("Request timed out. Please try again later.", "timeout", False),
    529: ("Provider returned error", "provider_overloaded", True),
}

_RAW_PROVIDER_ERRORS: dict[int, str] = {
    502: '{"error":{"message":"upstream connect error or disconnect/reset before headers",'
    '"type":"server_error"}}',
    529: '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
}


@dataclass
class ErrorReply:
    """An HTTP error answer: status, JSON body and extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def default_error_type(status: int) -> str:
    """The documented `metadata.error_type` for an HTTP status."""
    if status in _DEFAULTS:
        return _DEFAULTS[status][1]
    return "server" if status >= 500 else "invalid_request"


def envelope(
    status: int | str, message: str, metadata: dict[str, Any] | None, *, user_id: bool = True
) -> dict[str, Any]:
    """The `{"error": ...}` body (with the `user_id` sibling unless told otherwise)."""
    error: dict[str, Any] = {"message": message, "code": status}
    if metadata is not None:
        error["metadata"] = metadata
    body: dict[str, Any] = {"error": error}
    if user_id:
        body["user_id"] = USER_ID
    return body


def _moderation(model: str, provider: str, prompt: str) -> tuple[str, dict[str, Any]]:
    flagged = prompt if len(prompt) <= 100 else f"{prompt[:48]}...{prompt[-49:]}"
    message = f'{model} requires moderation on {provider}. Your input was flagged for "harassment".'
    return message, {
        "reasons": ["harassment"],
        "flagged_input": flagged,
        "provider_name": provider,
        "model_slug": model,
    }


def http_error(fault: Fault, model: str, provider: str, prompt: str = "") -> ErrorReply:
    """The pre-stream error an `http_error` fault produces for `model`."""
    status = fault.status
    message, error_type, from_provider = _DEFAULTS.get(
        status, ("Provider returned error", default_error_type(status), True)
    )
    metadata: dict[str, Any] = {"provider_name": provider if from_provider else None}
    if status == 403:
        message, metadata = _moderation(model, provider, prompt)
    elif from_provider:
        metadata["raw"] = _RAW_PROVIDER_ERRORS.get(status, f"{provider} error {status}")
        metadata["is_byok"] = False
    if status == 402:
        metadata["limit_source"] = "openrouter_credits"
    metadata["error_type"] = fault.error_type or error_type
    headers: dict[str, str] = {}
    if fault.retry_after_s is not None:
        headers["Retry-After"] = _seconds_text(fault.retry_after_s)
    return ErrorReply(status, envelope(status, fault.message or message, metadata), headers)


def _seconds_text(seconds: float) -> str:
    return str(math.ceil(seconds))


def next_utc_midnight_ms(now_s: float) -> int:
    """The next UTC midnight in milliseconds since the epoch (daily limits reset then)."""
    return (int(now_s * 1000) // DAY_MS + 1) * DAY_MS


def rate_limit(fault: Fault, model: str, provider: str, now_s: float) -> ErrorReply:
    """A 429: the platform variant (X-RateLimit-* headers) or the upstream one."""
    headers: dict[str, str] = {}
    if fault.upstream:
        wait = fault.retry_after_s if fault.retry_after_s is not None else 16.0
        metadata: dict[str, Any] = {
            "raw": (
                f"{model} is temporarily rate-limited upstream. Please retry shortly, or add "
                "your own key to accumulate your rate limits: "
                "https://openrouter.ai/settings/integrations"
            ),
            "provider_name": provider,
            "is_byok": False,
            "retry_after_seconds": math.ceil(wait),
            "retry_after_seconds_raw": wait,
            "headers": {"Retry-After": _seconds_text(wait)},
            "error_type": fault.error_type or "rate_limit_exceeded",
        }
        if fault.retry_after_s is not None:
            headers["Retry-After"] = _seconds_text(wait)
        message = fault.message or "Provider returned error"
        return ErrorReply(429, envelope(429, message, metadata), headers)
    reset = fault.reset_ms if fault.reset_ms is not None else next_utc_midnight_ms(now_s)
    free = model.endswith(":free")
    limit = "50" if free else "8"
    rate_headers = {
        "X-RateLimit-Limit": limit,
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset),
    }
    if free:
        default_message = (
            "Rate limit exceeded: free-models-per-day. "
            "Add 10 credits to unlock 1000 free model requests per day"
        )
        source = "openrouter_free_tier_daily"
    else:
        default_message = (
            f"Rate limit exceeded: limit_rpm/{model}/5f0c3e52-9d4f-4f3b-8c0e-3a1d2b7c9e10. "
            f"High demand for {model} on OpenRouter - limited to 8 requests per minute. "
            "Please retry shortly."
        )
        source = "openrouter_shared_capacity"
    metadata = {
        "headers": dict(rate_headers),
        "provider_name": None,
        "limit_source": source,
        "error_type": fault.error_type or "rate_limit_exceeded",
    }
    headers.update(rate_headers)
    if fault.retry_after_s is not None:
        headers["Retry-After"] = _seconds_text(fault.retry_after_s)
    return ErrorReply(429, envelope(429, fault.message or default_message, metadata), headers)


def unauthorized(missing: bool) -> ErrorReply:
    """401 for a missing header or an unknown key (real bodies carry no metadata)."""
    message = "No cookie auth credentials found" if missing else "User not found."
    return ErrorReply(401, envelope(401, message, None, user_id=False))


def bad_request(message: str, error_type: str = "invalid_request") -> ErrorReply:
    """A 400 for an invalid request, with `provider_name: null` as OpenRouter sends."""
    metadata = {"provider_name": None, "error_type": error_type}
    return ErrorReply(400, envelope(400, message, metadata))


def context_length(context: int, prompt_tokens: int, max_tokens: int) -> ErrorReply:
    """400 context_length_exceeded with the wording providers use."""
    message = (
        f"This endpoint's maximum context length is {context} tokens. However, you requested "
        f"about {prompt_tokens + max_tokens} tokens ({prompt_tokens} of text input, "
        f"{max_tokens} in the output). Please reduce the length of either one, or use the "
        '"middle-out" transform to compress your prompt automatically.'
    )
    return bad_request(message, "context_length_exceeded")


def not_found(message: str) -> ErrorReply:
    """A 404 (unknown path, or a generation that is not available yet)."""
    return ErrorReply(404, envelope(404, message, None, user_id=False))


def mid_stream_error(fault: Fault) -> dict[str, Any]:
    """The `error` object of a mid-stream (or 200) error chunk."""
    status = fault.status
    default = "Rate limit exceeded" if status == 429 else "Provider disconnected unexpectedly"
    error: dict[str, Any] = {
        "code": "server_error" if fault.code_as_string else status,
        "message": fault.message or default,
        "metadata": {"error_type": fault.error_type or default_error_type(status)},
    }
    return error
