"""Error mapping from OpenRouter bodies, statuses and headers (pure functions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from devflow_tui.errors import ErrorCategory
from devflow_tui.openrouter.error_map import (
    classify,
    error_from_info,
    error_from_response,
    parse_error_body,
    server_wait_s,
    status_from_code,
    timeout_error,
    transport_error,
    wait_too_long,
)
from devflow_tui.openrouter.wire import ErrorInfo

NOW = 1_800_000_000.0

EXPECTED = {
    400: (ErrorCategory.USER, False),
    401: (ErrorCategory.AUTH, False),
    402: (ErrorCategory.CREDITS, False),
    403: (ErrorCategory.MODERATION, False),
    404: (ErrorCategory.USER, False),
    408: (ErrorCategory.TIMEOUT, True),
    413: (ErrorCategory.USER, False),
    422: (ErrorCategory.USER, False),
    429: (ErrorCategory.RATE_LIMIT, True),
    500: (ErrorCategory.PROVIDER, True),
    502: (ErrorCategory.PROVIDER, True),
    503: (ErrorCategory.PROVIDER, True),
    504: (ErrorCategory.TIMEOUT, True),
    524: (ErrorCategory.TIMEOUT, True),
    529: (ErrorCategory.PROVIDER, True),
}


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_status_maps_to_category_and_retryability(status: int) -> None:
    body = json.dumps({"error": {"code": status, "message": "boom"}, "user_id": "user_x1"})
    error = error_from_response(status, body, model="m/x", now_s=NOW)
    assert (error.category, error.retryable) == EXPECTED[status]
    assert error.status == status
    assert "user_x1" not in str(error) and "user_id" not in error.metadata


def test_401_message_names_masked_key_and_what_to_do(fake_key: str) -> None:
    error = error_from_response(
        401, b'{"error":{"message":"User not found.","code":401}}', api_key=fake_key
    )
    assert "sk-or-…fa1e" in error.message
    assert fake_key not in str(error) and fake_key not in repr(error)
    assert error.hint is not None and "devflow auth set" in error.hint
    assert "OPENROUTER_API_KEY" in error.hint


def test_401_without_key_says_none_was_sent() -> None:
    error = error_from_response(401, b'{"error":{"message":"No auth","code":401}}')
    assert "No API key" in error.message


def test_403_permission_message_is_auth_and_moderation_keeps_reasons() -> None:
    permission = error_from_response(
        403, b'{"error":{"code":403,"message":"Only management keys can perform this operation"}}'
    )
    assert permission.category is ErrorCategory.AUTH
    body = {
        "error": {
            "code": 403,
            "message": 'm requires moderation on OpenAI. Your input was flagged for "harassment".',
            "metadata": {
                "reasons": ["harassment"],
                "flagged_input": "you are...bad",
                "provider_name": "OpenAI",
                "error_type": "permission_denied",
            },
        }
    }
    moderation = error_from_response(403, json.dumps(body))
    assert moderation.category is ErrorCategory.MODERATION
    assert moderation.metadata["reasons"] == ["harassment"]
    assert moderation.metadata["flagged_input"] == "you are...bad"
    assert "harassment" in moderation.message and "OpenAI" in moderation.message


@pytest.mark.parametrize(
    ("error_type", "message"),
    [
        ("context_length_exceeded", "too big"),
        (None, "This endpoint's maximum context length is 8192 tokens. However, ..."),
    ],
)
def test_context_length_detected_from_type_or_message(error_type: str | None, message: str) -> None:
    metadata = {"error_type": error_type} if error_type else {}
    body = {"error": {"code": 400, "message": message, "metadata": metadata}}
    error = error_from_response(400, json.dumps(body), model="m/small")
    assert error.category is ErrorCategory.USER
    assert error.is_context_length
    assert "context window" in error.message


def test_provider_raw_kept_for_log() -> None:
    raw = '{"error":{"message":"upstream reset"}}'
    body = {"error": {"code": 502, "message": "Provider returned error", "metadata": {"raw": raw}}}
    error = error_from_response(502, json.dumps(body))
    assert error.raw == raw
    nested = {"error": {"code": 502, "message": "x", "metadata": {"raw": {"a": 1}}}}
    assert error_from_response(502, json.dumps(nested)).raw == '{"a": 1}'


@pytest.mark.parametrize(
    ("code", "error_type", "expected"),
    [
        (429, None, 429),
        ("server_error", None, 500),
        ("502", None, 502),
        ("weird", "provider_overloaded", 503),
        (None, "rate_limit_exceeded", 429),
        (None, None, None),
        (True, None, None),
    ],
)
def test_status_from_code(code: int | str | None, error_type: str | None, expected: int) -> None:
    assert status_from_code(code, error_type) == expected


def test_unknown_status_classification() -> None:
    assert classify(None, None, "x") == (ErrorCategory.PROVIDER, True)
    assert classify(418, None, "x") == (ErrorCategory.USER, False)
    assert classify(599, None, "x") == (ErrorCategory.PROVIDER, True)


def test_mid_stream_error_from_info_is_not_retryable_and_keeps_partial() -> None:
    info = ErrorInfo(code="server_error", message="Provider disconnected unexpectedly")
    error = error_from_info(info, http_status=200, mid_stream=True, partial_text="Hel")
    assert error.category is ErrorCategory.PROVIDER
    assert error.mid_stream and not error.retryable
    assert error.partial_text == "Hel"


def test_availability_variant_without_code_uses_http_status_field() -> None:
    info = ErrorInfo(message="no model available", error_type="unmapped", http_status=503)
    error = error_from_info(info, http_status=200)
    assert error.status == 500  # error_type wins over http_status when it maps
    info = ErrorInfo(message="no model available", http_status=503)
    assert error_from_info(info, http_status=200).status == 503


def test_non_json_error_page_and_odd_bodies() -> None:
    error = error_from_response(502, b"<html>Bad gateway</html>")
    assert error.category is ErrorCategory.PROVIDER
    assert "Bad gateway" in error.message
    zod = error_from_response(400, b'{"success":false,"error":{"name":"ZodError","message":"[]"}}')
    assert zod.category is ErrorCategory.USER
    assert parse_error_body(b"not json") is None
    assert parse_error_body({"data": 1}) is None
    weird = parse_error_body(b'{"error":{"message":["a"]}}')
    assert weird is not None and weird.message
    invalid = error_from_response(200, b'{"id": "x"}')
    assert invalid.category is ErrorCategory.INVALID_RESPONSE


def test_server_wait_precedence_and_units() -> None:
    assert server_wait_s({"Retry-After": "7"}, None, NOW) == 7.0
    assert server_wait_s({"retry-after": "7"}, {"retry_after_seconds": 3}, NOW) == 7.0
    assert server_wait_s({}, {"retry_after_seconds": 3}, NOW) == 3.0
    assert server_wait_s({}, {"headers": {"Retry-After": "4"}}, NOW) == 4.0
    reset_ms = str(int((NOW + 12.5) * 1000))
    assert server_wait_s({"X-RateLimit-Reset": reset_ms}, None, NOW) == pytest.approx(12.5)
    meta = {"headers": {"X-RateLimit-Reset": reset_ms}}
    assert server_wait_s(None, meta, NOW) == pytest.approx(12.5)
    past = str(int((NOW - 5) * 1000))
    assert server_wait_s({"X-RateLimit-Reset": past}, None, NOW) == 0.0
    assert server_wait_s({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None, NOW) == 0.0
    assert server_wait_s({"Retry-After": "soon"}, None, NOW) is None
    assert server_wait_s({"X-RateLimit-Reset": "later"}, {"headers": "x"}, NOW) is None
    assert server_wait_s(None, None, NOW) is None


def test_wait_too_long_names_when_to_retry() -> None:
    base = error_from_response(429, b'{"error":{"code":429,"message":"slow down"}}')
    error = wait_too_long(base, 3600.0, 60.0, NOW)
    assert error.category is ErrorCategory.RATE_LIMIT and not error.retryable
    assert "3600 s" in error.message and "max_retry_wait_s=60" in error.message
    expected = datetime.fromtimestamp(NOW + 3600, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert error.hint is not None and expected in error.hint


def test_transport_and_timeout_errors() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/")
    connect = transport_error(
        httpx.ConnectTimeout("t", request=request), base_url="u", connect_timeout_ms=5
    )
    assert connect.category is ErrorCategory.TIMEOUT and connect.retryable
    assert "connect_timeout_ms=5" in connect.message
    read = transport_error(httpx.ReadTimeout("t", request=request), base_url="u")
    assert read.category is ErrorCategory.TIMEOUT
    refused = transport_error(httpx.ConnectError("refused", request=request), base_url="u")
    assert refused.category is ErrorCategory.NETWORK_DOWN and not refused.retryable
    dns = transport_error(
        httpx.ConnectError("[Errno -2] Name or service not known", request=request),
        base_url="https://openrouter.example",
    )
    assert dns.category is ErrorCategory.NETWORK_DOWN and not dns.retryable
    assert "network is down" in dns.message and "OPENROUTER_BASE_URL" in str(dns)
    cut = transport_error(
        httpx.RemoteProtocolError("peer closed", request=request),
        base_url="u",
        mid_stream=True,
        partial_text="ab",
    )
    assert cut.category is ErrorCategory.NETWORK and cut.mid_stream and not cut.retryable
    assert cut.partial_text == "ab" and "middle of the answer" in cut.message
    first = timeout_error("first_token_timeout_ms", 100, model="m/x")
    assert first.retryable and "first_token_timeout_ms=100" in first.message
    later = timeout_error("chunk_timeout_ms", 100, mid_stream=True)
    assert not later.retryable and later.mid_stream
