"""Turn what OpenRouter (or the network) said into a typed `OpenRouterError`.

Inputs are the HTTP status, the error envelope (`error.code` as int or string,
`error.metadata.error_type`, `error.message`), the response headers and transport
exceptions. See shared/openrouter-api.md, sections 2.4, 3 and 8.

The mapping, in short: 400/412/413/422 and 404 are the user's to fix, 401 is the key, 402
credits, 403 moderation (or a permission problem, which is the key again), 408/504/524
timeouts, 429 rate limits, other 5xx the provider. Only timeouts, rate limits, provider
errors and network failures may be retried.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.wire import ErrorEnvelope, ErrorInfo
from devflow_tui.redaction import mask_key

KEY_HINT = "Set a valid key with `devflow auth set` or OPENROUTER_API_KEY."

# `error.metadata.error_type` (2026 vocabulary) to the HTTP status it stands for; used when a
# mid-stream error has a string code or the availability variant omits `code`.
ERROR_TYPE_STATUS: dict[str, int] = {
    "context_length_exceeded": 400,
    "max_tokens_exceeded": 400,
    "token_limit_exceeded": 400,
    "string_too_long": 400,
    "invalid_request": 400,
    "invalid_prompt": 400,
    "content_policy_violation": 400,
    "refusal": 400,
    "invalid_image": 400,
    "image_too_large": 400,
    "image_too_small": 400,
    "unsupported_image_format": 400,
    "image_download_failed": 400,
    "authentication": 401,
    "payment_required": 402,
    "permission_denied": 403,
    "not_found": 404,
    "image_not_found": 404,
    "precondition_failed": 412,
    "payload_too_large": 413,
    "unprocessable": 422,
    "rate_limit_exceeded": 429,
    "server": 500,
    "unmapped": 500,
    "provider_unavailable": 502,
    "provider_overloaded": 503,
    "timeout": 504,
}

# String codes seen on mid-stream errors (older docs: "server_error"), to a status.
STRING_CODE_STATUS: dict[str, int] = {
    "server_error": 500,
    "internal_error": 500,
    "provider_error": 502,
    "bad_gateway": 502,
    "overloaded": 529,
    "service_unavailable": 503,
    "rate_limit": 429,
    "rate_limited": 429,
    "timeout": 504,
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "billing_error": 402,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "overloaded_error": 529,
    "timeout_error": 504,
    "api_error": 500,
    **ERROR_TYPE_STATUS,
}

_PERMISSION_WORDS = ("only management keys", "permission", "not allowed", "forbidden")
_CONTEXT_TYPES = {"context_length_exceeded", "token_limit_exceeded", "string_too_long"}
_CONTEXT_WORDS = ("context length", "context window", "too many tokens", "maximum context")


def status_from_code(code: int | str | None, error_type: str | None) -> int | None:
    """The HTTP-like status an error stands for, from `error.code` or `error_type`."""
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if isinstance(code, str):
        text = code.strip()
        if text.isdigit():
            return int(text)
        found = STRING_CODE_STATUS.get(text.lower())
        if found is not None:
            return found
    if error_type:
        return ERROR_TYPE_STATUS.get(error_type.lower())
    return None


def classify(
    status: int | None,
    error_type: str | None,
    message: str,
    metadata: Mapping[str, Any] | None = None,
) -> tuple[ErrorCategory, bool]:
    """Category and retryability for a status (None: unknown, treated as a provider failure)."""
    if status in (400, 412, 413, 422, 404):
        return ErrorCategory.USER, False
    if status == 401:
        return ErrorCategory.AUTH, False
    if status == 402:
        return ErrorCategory.CREDITS, False
    if status == 403:
        # `error_type` is "permission_denied" for moderation flags too, so it cannot tell the
        # two apart; moderation metadata or a permission message can.
        meta = metadata or {}
        flagged = "reasons" in meta or "flagged_input" in meta
        if not flagged and any(w in message.lower() for w in _PERMISSION_WORDS):
            return ErrorCategory.AUTH, False
        return ErrorCategory.MODERATION, False
    if status in (408, 504, 524):
        return ErrorCategory.TIMEOUT, True
    if status == 429:
        return ErrorCategory.RATE_LIMIT, True
    if status is None or status >= 500:
        return ErrorCategory.PROVIDER, True
    # Any other 4xx: the request itself was refused; sending it again will not help.
    return ErrorCategory.USER, False


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if str(key).lower() == wanted and value is not None:
            return str(value)
    return None


def _seconds(value: str | float | Decimal | None, now_s: float) -> float | None:
    """A Retry-After value: seconds, or an HTTP date."""
    if value is None:
        return None
    if isinstance(value, int | float | Decimal):
        return max(0.0, float(value))
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now_s)


def _reset_wait(value: str | None, now_s: float) -> float | None:
    """`X-RateLimit-Reset` is milliseconds since the epoch; the wait is reset - now."""
    if value is None:
        return None
    try:
        reset_ms = float(value)
    except ValueError:
        return None
    return max(0.0, reset_ms / 1000.0 - now_s)


def server_wait_s(
    headers: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None, now_s: float
) -> float | None:
    """The wait the server asked for, in seconds, or None when it named none.

    Precedence: `Retry-After` header, `metadata.retry_after_seconds`, a `Retry-After` copied
    into `metadata.headers`, then `X-RateLimit-Reset` (header or `metadata.headers`).
    """
    meta_headers = metadata.get("headers") if metadata else None
    if not isinstance(meta_headers, Mapping):
        meta_headers = None
    wait = _seconds(_header(headers, "Retry-After"), now_s)
    if wait is None and metadata is not None:
        raw = metadata.get("retry_after_seconds")
        if isinstance(raw, int | float | Decimal | str) and not isinstance(raw, bool):
            wait = _seconds(raw, now_s)
    if wait is None:
        wait = _seconds(_header(meta_headers, "Retry-After"), now_s)
    if wait is None:
        reset = _header(headers, "X-RateLimit-Reset") or _header(meta_headers, "X-RateLimit-Reset")
        wait = _reset_wait(reset, now_s)
    return wait


def _raw_text(metadata: Mapping[str, Any] | None) -> str | None:
    raw = metadata.get("raw") if metadata else None
    if raw is None:
        return None
    return raw if isinstance(raw, str) else json.dumps(raw, default=str)


def _describe(
    category: ErrorCategory,
    status: int | None,
    info: ErrorInfo,
    *,
    model: str | None,
    api_key: str | None,
    is_context: bool,
) -> tuple[str, str]:
    """Message (what happened) and hint (what to do) for one error."""
    text = info.message.strip().rstrip(".") or "no details"
    meta = info.metadata or {}
    provider = meta.get("provider_name")
    where = f" ({provider})" if isinstance(provider, str) and provider else ""
    code = f"HTTP {status}" if status is not None else "error"
    subject = model or "the model"
    if category is ErrorCategory.AUTH:
        if status == 403:
            return (
                f"The API key is not allowed to do this ({code}): {text}.",
                "Use a key with the needed permission, or skip this feature.",
            )
        if api_key:
            return f"OpenRouter rejected the API key ({mask_key(api_key)}).", KEY_HINT
        return "No API key was sent, so OpenRouter refused the request.", KEY_HINT
    if category is ErrorCategory.CREDITS:
        return (
            f"Not enough OpenRouter credits ({code}): {text}.",
            "Add credits at https://openrouter.ai/settings/credits, lower max_tokens, "
            "or choose a cheaper model.",
        )
    if category is ErrorCategory.MODERATION:
        reasons = meta.get("reasons")
        why = (
            f" for {', '.join(map(str, reasons))}" if isinstance(reasons, list) and reasons else ""
        )
        return (
            f"The prompt was blocked by moderation{where}{why} ({code}): {text}.",
            "Rephrase the prompt, or choose a model that is not moderated.",
        )
    if category is ErrorCategory.USER:
        if is_context:
            return (
                f"The prompt does not fit {subject}'s context window ({code}): {text}.",
                "Shorten the context, or choose a model with a larger context window.",
            )
        if status == 404:
            return (
                f"No provider can serve this request for {subject} ({code}): {text}.",
                "Choose another model, or relax the provider and data-policy settings.",
            )
        return (
            f"OpenRouter rejected the request for {subject} ({code}): {text}.",
            "Check the model id and the request parameters.",
        )
    if category is ErrorCategory.RATE_LIMIT:
        return (
            f"Rate limited{where} on {subject} ({code}): {text}.",
            "Wait a little and retry, or choose another model.",
        )
    if category is ErrorCategory.TIMEOUT:
        return (
            f"The request to {subject} timed out{where} ({code}): {text}.",
            "Retry later, or choose a faster model.",
        )
    return (
        f"The provider failed{where} on {subject} ({code}): {text}.",
        "Retry later, or choose another model.",
    )


def error_from_info(
    info: ErrorInfo,
    *,
    http_status: int | None,
    headers: Mapping[str, Any] | None = None,
    model: str | None = None,
    api_key: str | None = None,
    now_s: float | None = None,
    mid_stream: bool = False,
    partial_text: str = "",
    generation_id: str | None = None,
) -> OpenRouterError:
    """Build the typed error for one OpenRouter error object.

    `http_status` is the response status; when it is 200 (an error in the body or the stream)
    or missing, the status comes from `error.code`, then `error_type`, then `error.http_status`.
    """
    metadata = dict(info.metadata or {})
    error_type = metadata.get("error_type") or info.error_type
    error_type = str(error_type) if error_type else None
    status: int | None
    if http_status is not None and http_status >= 400:
        # A pre-stream error: the HTTP status is authoritative (it normally equals the code).
        status = http_status
    else:
        status = status_from_code(info.code, error_type) or info.http_status
    category, retryable = classify(status, error_type, info.message, metadata)
    lowered = info.message.lower()
    is_context = category is ErrorCategory.USER and (
        error_type in _CONTEXT_TYPES or any(w in lowered for w in _CONTEXT_WORDS)
    )
    if is_context and error_type is None:
        # Keep `OpenRouterError.is_context_length` true even when only the message said so.
        error_type = "context_length_exceeded"
    message, hint = _describe(
        category, status, info, model=model, api_key=api_key, is_context=is_context
    )
    now = time.time() if now_s is None else now_s
    wait = server_wait_s(headers, metadata, now)
    return OpenRouterError(
        message,
        category=category,
        retryable=retryable,
        status=status,
        error_type=error_type,
        retry_after_s=wait,
        mid_stream=mid_stream,
        raw=_raw_text(metadata),
        model=model,
        hint=hint,
        metadata=metadata,
        partial_text=partial_text,
        generation_id=generation_id,
    )


def parse_error_body(body: bytes | str | Mapping[str, Any] | None) -> ErrorInfo | None:
    """The `error` object of a body, or None when the body holds none."""
    data: Any = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body, parse_float=Decimal)
        except ValueError:
            return None
    if not isinstance(data, Mapping) or not isinstance(data.get("error"), Mapping):
        return None
    try:
        return ErrorEnvelope.model_validate(data).error
    except ValidationError:
        # e.g. `{"success": false, "error": {"name": "ZodError", "message": "[...]"}}`
        raw = data["error"]
        return ErrorInfo(message=str(raw.get("message") or raw.get("name") or "Unknown error"))


def error_from_response(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    *,
    headers: Mapping[str, Any] | None = None,
    model: str | None = None,
    api_key: str | None = None,
    now_s: float | None = None,
) -> OpenRouterError:
    """The typed error for an HTTP response that failed (status >= 400, or 200 with `error`)."""
    info = parse_error_body(body)
    if info is None:
        if status < 400:
            return invalid_response(f"HTTP {status} response without an answer", model=model)
        # A non-JSON error page (e.g. from a proxy): keep a short excerpt for the message.
        excerpt = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
        info = ErrorInfo(code=status, message=" ".join(excerpt.split())[:200] or "no details")
    return error_from_info(
        info, http_status=status, headers=headers, model=model, api_key=api_key, now_s=now_s
    )


def redirect_error(status: int, location: str | None, *, base_url: str) -> OpenRouterError:
    """The server answered with a redirect, which the client never follows (it would resend
    the key to wherever it points)."""
    where = f" to {location}" if location else ""
    return OpenRouterError(
        f"{base_url} answered with a redirect (HTTP {status}){where}; devflow does not follow "
        "redirects.",
        category=ErrorCategory.CONFIG,
        retryable=False,
        status=status,
        hint="Set OPENROUTER_BASE_URL to the address the redirect names, if you trust it.",
    )


def invalid_response(
    detail: str, *, model: str | None = None, mid_stream: bool = False, partial_text: str = ""
) -> OpenRouterError:
    """OpenRouter answered, but not in a shape we understand."""
    return OpenRouterError(
        f"OpenRouter sent an invalid response for {model or 'the request'}: {detail}.",
        category=ErrorCategory.INVALID_RESPONSE,
        retryable=False,
        mid_stream=mid_stream,
        model=model,
        hint="Retry; if it keeps happening, choose another model.",
        partial_text=partial_text,
    )


# What failed below HTTP, for a client library other than httpx (the relay's aiohttp).
TransportFailure = Literal["connect_timeout", "timeout", "connect", "other"]


def _httpx_failure(exc: Exception) -> TransportFailure:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    return "other"


def transport_error(
    exc: Exception,
    *,
    base_url: str,
    model: str | None = None,
    mid_stream: bool = False,
    partial_text: str = "",
    connect_timeout_ms: int | None = None,
    kind: TransportFailure | None = None,
) -> OpenRouterError:
    """A failure below HTTP: connection refused or reset, DNS, TLS, a cut stream. `kind`
    says what failed when `exc` is not httpx's."""
    kind = kind or _httpx_failure(exc)
    if kind == "connect_timeout":
        return OpenRouterError(
            f"Could not connect to {base_url} within connect_timeout_ms={connect_timeout_ms}.",
            category=ErrorCategory.TIMEOUT,
            retryable=True,
            model=model,
            hint="Check your network connection, or raise connect_timeout_ms.",
        )
    if kind == "timeout":
        return OpenRouterError(
            f"The connection to {base_url} timed out ({type(exc).__name__}).",
            category=ErrorCategory.TIMEOUT,
            retryable=True,
            mid_stream=mid_stream,
            model=model,
            hint="Retry later, or raise timeout_ms.",
            partial_text=partial_text,
        )
    if kind == "connect":
        # Nothing reached the server: a local network failure. Every model behind this base
        # URL would fail the same way, so it is neither retried nor blamed on the model.
        return OpenRouterError(
            f"Cannot reach OpenRouter at {base_url}: the network is down or the host is wrong "
            f"({exc or type(exc).__name__}).",
            category=ErrorCategory.NETWORK_DOWN,
            retryable=False,
            model=model,
            hint="Check your network connection and OPENROUTER_BASE_URL, then retry.",
        )
    what = (
        "The connection closed in the middle of the answer"
        if mid_stream
        else "The connection to OpenRouter failed"
    )
    return OpenRouterError(
        f"{what} ({type(exc).__name__}: {exc or 'no details'}).",
        category=ErrorCategory.NETWORK,
        retryable=True,
        mid_stream=mid_stream,
        model=model,
        hint="Retry; the partial answer (if any) is kept.",
        partial_text=partial_text,
    )


TOTAL_TIMEOUT = "total_timeout"  # error_type of a request that used up all of timeout_ms


def timeout_error(
    limit_name: str,
    limit_ms: int,
    *,
    model: str | None = None,
    mid_stream: bool = False,
    partial_text: str = "",
) -> OpenRouterError:
    """One of our own deadlines ran out; the message names the limit."""
    what = {
        "first_token_timeout_ms": "No answer arrived",
        "chunk_timeout_ms": "The answer stalled",
        "timeout_ms": "The request took too long",
    }.get(limit_name, "The request timed out")
    total = limit_name == "timeout_ms"
    return OpenRouterError(
        f"{what} from {model or 'the model'}: {limit_name}={limit_ms} exceeded.",
        category=ErrorCategory.TIMEOUT,
        # The total time is used up: no retry and no other model may take longer.
        retryable=not mid_stream and not total,
        error_type=TOTAL_TIMEOUT if total else None,
        mid_stream=mid_stream,
        model=model,
        hint=(
            "Retry, choose a faster model, or raise timeout_ms (OPENROUTER_TIMEOUT_MS): it "
            "bounds the time until a streamed answer starts, and a whole non-streamed answer."
            if total
            else f"Retry, choose a faster model, or raise {limit_name} in the config file."
        ),
        partial_text=partial_text,
    )


def wait_too_long(
    error: OpenRouterError, wait_s: float, cap_s: float, now_s: float
) -> OpenRouterError:
    """The server asked for a longer wait than we may sleep: fail now and say when to retry."""
    when = datetime.fromtimestamp(now_s + wait_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return OpenRouterError(
        f"{error.message} OpenRouter asks to wait {wait_s:.0f} s, longer than "
        f"max_retry_wait_s={cap_s:g}.",
        category=ErrorCategory.RATE_LIMIT,
        retryable=False,
        status=error.status,
        error_type=error.error_type,
        retry_after_s=wait_s,
        raw=error.raw,
        model=error.model,
        hint=f"Retry after {when}, or choose another model.",
        metadata=error.metadata,
        generation_id=error.generation_id,
    )
