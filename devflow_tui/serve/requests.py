"""Reading a client's request into a `PassthroughRequest`, for both API shapes, and the error
bodies each API's SDK understands."""

from __future__ import annotations

from typing import Any

import orjson

from devflow_tui.context.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    estimate_tokens,
)
from devflow_tui.gateway.passthrough import PassthroughRequest
from devflow_tui.openrouter.relay import Api, anthropic_error_type
from devflow_tui.serve.model_map import ModelChoice

DEFAULT_MAX_TOKENS = 4096  # for OpenAI requests that name no limit (budget worst case)
# Request headers sent on to OpenRouter's /messages (beta features, API version).
FORWARDED = ("anthropic-beta", "anthropic-version")


class BadRequest(Exception):
    """The body cannot be served; the message says what to fix."""


def error_body(
    api: Api,
    status: int,
    message: str,
    kind: str | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """An error in the caller's API shape: Anthropic's envelope, or OpenAI's (whose `code`
    and `param` say what was wrong, e.g. `model_not_found` on `model`)."""
    if api == "anthropic":
        return {
            "type": "error",
            "error": {"type": kind or anthropic_error_type(status), "message": message},
            "request_id": None,
        }
    return {
        "error": {
            "message": message,
            "type": kind or _openai_type(status),
            "param": param,
            "code": code or status,
        }
    }


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


# An image's tokens are about width x height / 750, at most about 1,600 once Anthropic has
# resized it; its size is not read here, so every image counts as the most it can cost.
IMAGE_TOKENS = 1600
COUNT_HEADER = "x-devflow-token-count"
COUNT_METHOD = "estimate"  # what count_tokens answers: not a tokenizer's count


def count_tokens(body: dict[str, Any]) -> int:
    """Estimated input tokens of a request, in either API shape: devflow's calibrated
    estimator (`context.tokens`, the one routing and assembly use) over every text sent (system
    blocks, message text, tool calls' input, tool results, thinking) and the tool definitions
    as JSON, plus the chat framing per message; each image counts `IMAGE_TOKENS`."""
    total = REPLY_PRIMING_TOKENS + _content_tokens(body.get("system"))
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        total += MESSAGE_OVERHEAD_TOKENS + _content_tokens(message.get("content"))
        calls = message.get("tool_calls")
        if calls:
            total += estimate_tokens(_json(calls))
    tools = body.get("tools")
    if tools:
        total += estimate_tokens(_json(tools))
    return total


def _json(value: Any) -> str:
    # orjson: a Claude Code request's 24 tool definitions are ~70 KB of JSON, counted on
    # every request; the standard library's encoder took ~0.3 ms of it.
    return orjson.dumps(value, default=str).decode()


def _content_tokens(content: Any) -> int:
    """Tokens of a message's content: a string, or a list of blocks of any kind."""
    if isinstance(content, str):
        return estimate_tokens(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("image", "image_url", "input_image"):
            total += IMAGE_TOKENS
        elif kind == "tool_use":
            total += estimate_tokens(str(block.get("name", ""))) + estimate_tokens(
                _json(block.get("input"))
            )
        elif kind == "tool_result":
            total += _content_tokens(block.get("content"))
        elif isinstance(block.get("text"), str):
            total += estimate_tokens(block["text"])
        elif isinstance(block.get("thinking"), str):
            total += estimate_tokens(block["thinking"])
        else:  # a block of a kind not known here: its JSON, rather than nothing
            total += estimate_tokens(_json(block))
    return total


def no_cache_asked(cache_control: str | None) -> bool:
    """True when the request's `Cache-Control` header says not to answer it from a cache
    (`no-cache` or `no-store`), the HTTP way to say what `devflow ask --no-cache` says."""
    if not cache_control:
        return False
    directives = {part.strip().split("=")[0].lower() for part in cache_control.split(",")}
    return bool(directives & {"no-cache", "no-store"})


# Request fields after which an answer is more than text (tool calls, thinking, reasoning,
# several choices, log probabilities): a stored text could not stand in for it.
_NOT_CACHEABLE_FIELDS = (
    "tools",
    "tool_choice",
    "functions",
    "function_call",
    "reasoning",
    "reasoning_effort",
    "include_reasoning",
    "logprobs",
    "top_logprobs",
)
_TEXT_BLOCKS = frozenset({"text", "image", "document"})


def cache_safe(body: dict[str, Any]) -> bool:
    """Whether the response cache may answer this request: no tools offered and no tool call
    or tool result anywhere in the conversation, no thinking or reasoning asked for, one
    choice. Sampling settings (temperature, ...) are part of the cache key, as for
    `devflow ask`."""
    if any(body.get(name) for name in _NOT_CACHEABLE_FIELDS):
        return False
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type", "disabled") != "disabled":
        return False
    if body.get("n") not in (None, 1):
        return False
    for message in body.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") in ("tool", "function"):
            return False
        if message.get("tool_calls") or message.get("function_call"):
            return False
        content = message.get("content")
        if isinstance(content, list) and not all(
            isinstance(block, dict) and block.get("type") in _TEXT_BLOCKS for block in content
        ):
            return False
    return True


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def anthropic_request(
    body: Any,
    choice: ModelChoice,
    client: str,
    headers: dict[str, str],
    *,
    no_cache: bool = False,
) -> PassthroughRequest:
    """A Messages API request (POST /v1/messages)."""
    body = _object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: Field required (a non-empty list of messages).")
    if "max_tokens" not in body:
        raise BadRequest("max_tokens: Field required (a positive integer).")
    max_tokens = body["max_tokens"]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequest(f"max_tokens: must be a positive integer, not {max_tokens!r}.")
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
        cacheable=not no_cache and cache_safe(body),
    )


def openai_request(
    body: Any, choice: ModelChoice, client: str, *, no_cache: bool = False
) -> PassthroughRequest:
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
        cacheable=not no_cache and cache_safe(body),
    )
