"""Reading a client's request into a `PassthroughRequest`, for both API shapes, and the error
bodies each API's SDK understands."""

from __future__ import annotations

import json
from typing import Any

from devflow_tui.context.tokens import estimate_tokens
from devflow_tui.gateway.passthrough import PassthroughRequest
from devflow_tui.openrouter.relay import Api, anthropic_error_type
from devflow_tui.serve.model_map import ModelChoice

DEFAULT_MAX_TOKENS = 4096  # for OpenAI requests that name no limit (budget worst case)
# Request headers sent on to OpenRouter's /messages (beta features, API version).
FORWARDED = ("anthropic-beta", "anthropic-version")


class BadRequest(Exception):
    """The body cannot be served; the message says what to fix."""


def error_body(api: Api, status: int, message: str, kind: str | None = None) -> dict[str, Any]:
    """An error in the caller's API shape: Anthropic's envelope, or OpenAI's."""
    if api == "anthropic":
        return {
            "type": "error",
            "error": {"type": kind or anthropic_error_type(status), "message": message},
            "request_id": None,
        }
    return {"error": {"message": message, "type": kind or _openai_type(status), "code": status}}


def _openai_type(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "insufficient_quota",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }.get(status, "server_error" if status >= 500 else "invalid_request_error")


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        ]
        return texts[-1] if texts else ""
    return ""


def route_text(messages: list[Any]) -> str:
    """What the classifier reads: the last text of the last user turn (agents put reminders
    in earlier parts of the same turn)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = _text_of(message.get("content"))
            if text:
                return text
    return ""


def count_tokens(body: dict[str, Any]) -> int:
    """Estimated input tokens of a request: system, messages and tools, as sent."""
    parts = [body.get("system"), body.get("messages"), body.get("tools")]
    return sum(
        estimate_tokens(part if isinstance(part, str) else json.dumps(part))
        for part in parts
        if part
    )


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def anthropic_request(
    body: Any, choice: ModelChoice, client: str, headers: dict[str, str]
) -> PassthroughRequest:
    """A Messages API request (POST /v1/messages)."""
    body = _object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: Field required (a non-empty list of messages).")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequest("max_tokens: Field required (a positive integer).")
    return PassthroughRequest(
        api="anthropic",
        body=body,
        client=client,
        route_text=route_text(messages),
        prompt_tokens=count_tokens(body),
        max_tokens=max_tokens,
        model=choice.model,
        needs_tools=bool(body.get("tools")),
        headers={k: v for k, v in headers.items() if k in FORWARDED},
        requested_model=str(body.get("model") or "") or None,
    )


def openai_request(body: Any, choice: ModelChoice, client: str) -> PassthroughRequest:
    """A chat completions request (POST /v1/chat/completions)."""
    body = _object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: a non-empty list of messages is required.")
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise BadRequest("max_tokens must be a positive integer.")
    return PassthroughRequest(
        api="openai",
        body=body,
        client=client,
        route_text=route_text(messages),
        prompt_tokens=count_tokens(body),
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        model=choice.model,
        needs_tools=bool(body.get("tools")),
        requested_model=str(body.get("model") or "") or None,
    )
