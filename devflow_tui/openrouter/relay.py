"""Pass-through calls: a client's own request body sent to OpenRouter as it is, and the
answer handed back as it came (JSON body, or SSE events), in either API shape OpenRouter
serves: Anthropic Messages (`POST /messages`) or OpenAI chat (`POST /chat/completions`).

`RelayMeter` reads what passes through, without changing it: the model that served, the
generation id, token usage (and cost, when the server reports it), the stop reason, the text
(kept for a partial answer) and any error event. The HTTP side lives in
`OpenRouterClient.relay` and `OpenRouterClient.relay_stream`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.openrouter.wire import (
    CompletionTokensDetails,
    ErrorInfo,
    PromptTokensDetails,
    Usage,
)

Api = Literal["anthropic", "openai"]
ENDPOINTS: dict[Api, str] = {"anthropic": "/messages", "openai": "/chat/completions"}
# The Anthropic error types OpenRouter's /messages answers with, by HTTP status (spec section 9).
ANTHROPIC_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ANTHROPIC_STATUS = {kind: status for status, kind in reversed(ANTHROPIC_ERROR_TYPES.items())}


def anthropic_error_type(status: int) -> str:
    """The Anthropic `error.type` for an HTTP status."""
    if status in ANTHROPIC_ERROR_TYPES:
        return ANTHROPIC_ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


# Response headers worth handing back to the caller (the rest is hop-by-hop or ours).
FORWARDED_HEADERS = ("x-generation-id", "retry-after", "request-id")


def encode_body(body: Mapping[str, Any], *, stream: bool) -> bytes:
    """A client's body as sent on, with its `stream` flag. orjson, since a Claude Code
    request is ~65 KB of JSON (the standard library's encoder took ~0.3 ms of each); and
    copied to its own size, since orjson's result keeps the buffer it grew (~130 KB for
    those 65 KB) and this one is held while the request waits for upstream."""
    import orjson

    return memoryview(orjson.dumps({**body, "stream": stream}, default=str)).tobytes()


@dataclass(frozen=True, slots=True)
class Encoded:
    """A request body already encoded as it is to be sent (its `stream` flag set), and the
    model it names: the proxy encodes a client's body once and lets the parsed one go."""

    payload: bytes
    model: str


@dataclass
class RelayResult:
    """One relayed call: the answer as received, and what was read from it."""

    status: int
    headers: dict[str, str]
    body: bytes  # the JSON body of a non-streamed answer; b"" for a stream
    model: str | None
    generation_id: str | None
    usage: Usage | None
    stop_reason: str | None
    text: str
    complete: bool
    latency_ms: float
    ttft_ms: float | None
    attempts: list[AttemptRecord] = field(default_factory=list)
    text_only: bool = False  # the answer is text alone: no tool call, thinking or reasoning


def anthropic_usage(data: Any) -> Usage | None:
    """An Anthropic `usage` object as a `Usage` (prompt tokens include cache reads/writes)."""
    if not isinstance(data, dict):
        return None
    fresh = _int(data.get("input_tokens"))
    read = _int(data.get("cache_read_input_tokens"))
    written = _int(data.get("cache_creation_input_tokens"))
    cost = data.get("cost")
    return Usage(
        prompt_tokens=fresh + read + written,
        completion_tokens=_int(data.get("output_tokens")),
        cost=Decimal(str(cost)) if isinstance(cost, int | float | str) and cost != "" else None,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=read, cache_write_tokens=written),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=0),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class RelayMeter:
    """Reads a relayed answer as it passes: served model, id, usage, stop reason, text."""

    def __init__(self, api: Api, model: str) -> None:
        import orjson  # a stream's every event is parsed: ~5x the standard library's speed

        self._loads = orjson.loads
        self.api = api
        self.model: str | None = model
        self.generation_id: str | None = None
        self.usage: Usage | None = None
        self.stop_reason: str | None = None
        self.text = ""
        self.done = False  # the answer ended properly (message_stop / [DONE] / whole body)
        self.has_output = False
        # Text alone (what a cache can replay): no tool call, thinking, reasoning or refusal.
        self.text_only = True
        self._input: dict[str, Any] = {}

    # ------------------------------------------------------------ whole bodies

    def feed_body(self, data: Any) -> ErrorInfo | None:
        """Read a non-streamed answer; returns the error it carries, if any."""
        if not isinstance(data, dict):
            return ErrorInfo(message="the answer is not a JSON object")
        if data.get("type") == "error" or (
            isinstance(data.get("error"), dict) and not data.get("choices")
        ):
            return _error_info(data.get("error"))
        self.model = str(data.get("model") or self.model)
        if self.api == "anthropic":
            for block in data.get("content") or []:
                if isinstance(block, dict) and block.get("type") == "text":
                    self.text += str(block.get("text", ""))
                else:
                    self.text_only = False
            self.stop_reason = data.get("stop_reason")
            self.usage = anthropic_usage(data.get("usage"))
        else:
            self.generation_id = self.generation_id or data.get("id")
            choices = data.get("choices") or []
            if choices and isinstance(choices[0], dict):
                message = choices[0].get("message") or {}
                self.text = str(message.get("content") or "")
                self.text_only = isinstance(message, dict) and not any(
                    message.get(name) for name in _NOT_TEXT
                )
                self.stop_reason = choices[0].get("finish_reason")
                if choices[0].get("error") is not None:
                    return _error_info(choices[0]["error"])
            self.usage = _chat_usage(data.get("usage"))
        self.done = True
        self.has_output = True
        return None

    # ------------------------------------------------------------ streams

    def feed_event(self, event: str, data: str) -> ErrorInfo | None:
        """Read one SSE event; returns the error it carries, if any."""
        if self.api == "openai":
            return self._feed_chunk(data)
        try:
            payload = self._loads(data)
        except ValueError:
            return ErrorInfo(message="an event of the stream is not JSON")
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            self.has_output = True
            if delta.get("type") == "text_delta":
                self.text += str(delta.get("text", ""))
        elif kind == "message_start":
            message = payload.get("message") or {}
            self.model = str(message.get("model") or self.model)
            usage = message.get("usage")
            self._input = dict(usage) if isinstance(usage, dict) else {}
            self.usage = anthropic_usage(self._input)
        elif kind == "content_block_start":
            self.has_output = True
            block = payload.get("content_block")
            if not isinstance(block, dict) or block.get("type") != "text":
                self.text_only = False
        elif kind == "message_delta":
            delta = payload.get("delta") or {}
            self.stop_reason = delta.get("stop_reason") or self.stop_reason
            usage = payload.get("usage")
            if isinstance(usage, dict):
                self.usage = anthropic_usage({**self._input, **usage})
        elif kind == "message_stop":
            self.done = True
        elif kind == "error" or event == "error":
            return _error_info(payload.get("error") if isinstance(payload, dict) else None)
        return None

    def _feed_chunk(self, data: str) -> ErrorInfo | None:
        if data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            payload = self._loads(data)
        except ValueError:
            return ErrorInfo(message="a chunk of the stream is not JSON")
        if not isinstance(payload, dict):
            return None
        if isinstance(payload.get("error"), dict):
            return _error_info(payload["error"])
        self.model = str(payload.get("model") or self.model)
        self.generation_id = self.generation_id or payload.get("id")
        for choice in payload.get("choices") or []:
            delta = choice.get("delta") or {} if isinstance(choice, dict) else {}
            content = delta.get("content")
            if content or delta.get("tool_calls") or delta.get("reasoning"):
                self.has_output = True
            if any(delta.get(name) for name in _NOT_TEXT):
                self.text_only = False
            if isinstance(content, str):
                self.text += content
            if choice.get("finish_reason"):
                self.stop_reason = choice["finish_reason"]
        if payload.get("usage") is not None:
            self.usage = _chat_usage(payload["usage"])
        return None


# Parts of an OpenAI answer besides its text, which a text-only replay would lose.
_NOT_TEXT = ("tool_calls", "function_call", "reasoning", "reasoning_details", "refusal")


def _chat_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    return Usage.model_validate(json.loads(json.dumps(data), parse_float=Decimal))


def _error_info(error: Any) -> ErrorInfo:
    if not isinstance(error, dict):
        return ErrorInfo(message="The provider ended the answer with an error.")
    code = error.get("code")
    if code is None and isinstance(error.get("type"), str):
        code = _ANTHROPIC_STATUS.get(error["type"], 500)
    metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else None
    # Anthropic errors name their kind in `type` (e.g. "overloaded_error"); it maps like a code.
    return ErrorInfo(
        code=code,
        message=str(error.get("message") or "Unknown error"),
        metadata=metadata,
        error_type=error.get("error_type") if isinstance(error.get("error_type"), str) else None,
    )


def frame(api: Api, event: str, data: str) -> bytes:
    """One SSE event as sent on: Anthropic names its events, OpenAI chunks are data only."""
    if api == "anthropic" and event and event != "message":
        return f"event: {event}\ndata: {data}\n\n".encode()
    return f"data: {data}\n\n".encode()


@dataclass
class RelayStream:
    """An open relayed stream: `frames()` yields each SSE event as bytes to send on, the
    first one already read (so every failure up to it could still be retried)."""

    api: Api
    status: int
    headers: dict[str, str]
    meter: RelayMeter
    _frames: AsyncIterator[bytes]
    _result: Callable[[], RelayResult]
    _close: Callable[[], Awaitable[None]]

    def frames(self) -> AsyncIterator[bytes]:
        return self._frames

    def result(self) -> RelayResult:
        """What was read so far (final once `frames()` is exhausted)."""
        return self._result()

    async def aclose(self) -> None:
        """Close the upstream connection (tells OpenRouter to stop generating)."""
        await self._close()


@dataclass(frozen=True)
class Replay:
    """A stored text answer to hand back again (a cache hit), in the caller's API shape:
    natural end, the original token counts, and a cost of zero (nothing was billed)."""

    answer_id: str
    model: str
    text: str
    prompt_tokens: int
    completion_tokens: int

    def body(self, api: Api) -> bytes:
        """The non-streamed answer, as OpenRouter's endpoint for `api` shapes it."""
        if api == "anthropic":
            data: dict[str, Any] = {
                **self._anthropic_message(),
                "content": [{"type": "text", "text": self.text}],
                "stop_reason": "end_turn",
                "usage": self._anthropic_usage(self.completion_tokens),
            }
        else:
            data = {
                **self._chat_head("chat.completion"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": self._chat_usage(),
            }
        return json.dumps(data).encode()

    def frames(self, api: Api) -> list[bytes]:
        """The streamed answer as SSE frames: Anthropic's events, or chat chunks and [DONE]."""
        if api == "anthropic":
            start = {**self._anthropic_message(), "content": [], "stop_reason": None}
            start["usage"] = self._anthropic_usage(1)  # the real count comes in message_delta
            events: list[dict[str, Any]] = [
                {"type": "message_start", "message": start},
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": self.text},
                },
                {"type": "content_block_stop", "index": 0},
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": self.completion_tokens},
                },
                {"type": "message_stop"},
            ]
            return [frame(api, event["type"], json.dumps(event)) for event in events]
        head = self._chat_head("chat.completion.chunk")
        chunks: list[dict[str, Any]] = [
            {
                **head,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": self.text},
                        "finish_reason": None,
                    }
                ],
            },
            {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**head, "choices": [], "usage": self._chat_usage()},
        ]
        return [frame(api, "", json.dumps(chunk)) for chunk in chunks] + [frame(api, "", "[DONE]")]

    def _anthropic_message(self) -> dict[str, Any]:
        return {
            "id": f"msg_{self.answer_id}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "stop_sequence": None,
        }

    def _anthropic_usage(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.prompt_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }

    def _chat_head(self, kind: str) -> dict[str, Any]:
        return {
            "id": f"gen-cache-{self.answer_id}",
            "object": kind,
            "created": int(time.time()),
            "model": self.model,
        }

    def _chat_usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cost": 0,
        }
