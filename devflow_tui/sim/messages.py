"""The Anthropic Messages shapes of the simulated `/messages` endpoint (spec section 9).

Pure builders (no I/O): the request is read into the chat view the simulator already answers
(messages as text, `thinking` as reasoning, the tools offered), and a planned `Completion` is
written back as an Anthropic `message`, as Anthropic SSE events, or as the Anthropic error
envelope. The HTTP handler decides when each event is written.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from devflow_tui.sim.completion import Completion
from devflow_tui.sim.error_bodies import ErrorReply
from devflow_tui.sim.responder import split_tokens

# HTTP status to the Anthropic error type OpenRouter's /messages uses (spec section 9). The
# simulator keeps its own copy: it stands apart from the client it imitates a server for.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def anthropic_error_type(status: int) -> str:
    """The Anthropic `error.type` of an HTTP status."""
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "tool_result":
        return _content_text(block.get("content"))
    if kind == "tool_use":
        return json.dumps(block.get("input", {}))
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(text for text in map(_block_text, content) if text)
    return _block_text(content)


def _parts(content: Any) -> list[dict[str, Any]]:
    """Message content as chat parts: text, images counted as images, and tool calls and
    results as parts of their own kind (their tokens count; they are not the user's words)."""
    if not isinstance(content, list):
        return [{"type": "text", "text": _content_text(content)}]
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, dict) and block.get("type") == "image":
            parts.append({"type": "image_url", "image_url": {"url": "data:"}})
        else:
            text = _block_text(block)
            kind = block.get("type") if isinstance(block, dict) else "text"
            if text:
                parts.append({"type": kind if kind in _TOOL_BLOCKS else "text", "text": text})
    return parts


_TOOL_BLOCKS = ("tool_use", "tool_result")


def invalid(body: Any) -> str | None:
    """What is wrong with a Messages request, or None when it can be served."""
    if not isinstance(body, dict):
        return "The request body must be a JSON object."
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        return "max_tokens: Field required (a positive integer)"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required (at least one message)"
    if not all(isinstance(m, dict) and m.get("role") for m in messages):
        return "messages: each message needs a role and content"
    return None


def chat_view(body: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
    """The request as the chat body the simulator answers, and the tools already called in
    the conversation (the model answers those in text)."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _content_text(system)})
    for message in body["messages"]:
        role = str(message.get("role"))
        messages.append({"role": role, "content": _parts(message.get("content"))})
    called = Counter(
        str(block.get("name"))
        for message in body["messages"]
        if message.get("role") == "assistant" and isinstance(message.get("content"), list)
        for block in message["content"]
        if isinstance(block, dict) and block.get("type") == "tool_use"
    )
    view: dict[str, Any] = {
        "model": body["model"],
        "messages": messages,
        "max_tokens": body["max_tokens"],
        "stream": body.get("stream") is True,
        "tools": body.get("tools"),
    }
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        if thinking.get("type") in ("enabled", "adaptive"):
            view["reasoning"] = {"max_tokens": thinking.get("budget_tokens") or 1024}
        elif thinking.get("type") == "disabled":
            view["reasoning"] = {"enabled": False}
    for extra in ("models", "user", "session_id", "provider"):
        if extra in body:
            view[extra] = body[extra]
    fallbacks = body.get("fallbacks")
    if isinstance(fallbacks, list) and "models" not in view:
        view["models"] = [f.get("model") for f in fallbacks if isinstance(f, dict)]
    return view, called


def error_reply(reply: ErrorReply, generation_id: str | None = None) -> ErrorReply:
    """An OpenRouter error answer in the Anthropic envelope (same status and headers)."""
    inner = reply.body.get("error") or {}
    metadata = inner.get("metadata") or {}
    error: dict[str, Any] = {
        "type": anthropic_error_type(reply.status),
        "message": str(inner.get("message") or "Unknown error"),
    }
    if metadata.get("error_type"):
        error["error_type"] = metadata["error_type"]
    body = {"type": "error", "error": error, "request_id": generation_id}
    return ErrorReply(reply.status, body, dict(reply.headers))


def stream_error(error: dict[str, Any]) -> dict[str, Any]:
    """A mid-stream OpenRouter `error` object as an Anthropic `error` event."""
    code = error.get("code")
    status = code if isinstance(code, int) else 500
    return {
        "type": "error",
        "error": {"type": anthropic_error_type(status), "message": str(error.get("message", ""))},
    }


def message_id(completion: Completion) -> str:
    return f"msg_{completion.id[-20:]}"


def _signature(completion: Completion) -> str:
    return "sim-" + hashlib.sha256(completion.reasoning.encode()).hexdigest()[:32]


def usage(completion: Completion, output_tokens: int | None = None) -> dict[str, Any]:
    charge = completion.bill(output_tokens)
    return {
        "input_tokens": charge.prompt_tokens,
        "output_tokens": charge.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "service_tier": "standard",
    }


def content_blocks(completion: Completion) -> list[dict[str, Any]]:
    """The answer's blocks: thinking (when shown), text, then the tool call (if any)."""
    blocks: list[dict[str, Any]] = []
    if completion.show_reasoning and completion.reasoning:
        blocks.append(
            {
                "type": "thinking",
                "thinking": completion.reasoning,
                "signature": _signature(completion),
            }
        )
    if completion.content:
        blocks.append({"type": "text", "text": completion.content, "citations": None})
    call = completion.tool_call
    if call is not None:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


def response(completion: Completion) -> dict[str, Any]:
    """The non-streamed Anthropic `message`."""
    return {
        "id": message_id(completion),
        "type": "message",
        "role": "assistant",
        "model": completion.model,
        "content": content_blocks(completion),
        "stop_reason": STOP_REASONS.get(completion.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": usage(completion),
    }


def message_start(completion: Completion) -> dict[str, Any]:
    start = usage(completion)
    start["output_tokens"] = 1  # as Anthropic streams it: the real count comes in message_delta
    return {
        "type": "message_start",
        "message": {
            "id": message_id(completion),
            "type": "message",
            "role": "assistant",
            "model": completion.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start,
        },
    }


def block_events(
    completion: Completion, tokens_per_chunk: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Per content block, its kind and its events (start, deltas, stop), in stream order."""
    out: list[tuple[str, list[dict[str, Any]]]] = []
    for index, block in enumerate(content_blocks(completion)):
        kind = block["type"]
        events: list[dict[str, Any]] = []
        if kind == "thinking":
            events.append(_start(index, {"type": "thinking", "thinking": "", "signature": ""}))
            for piece in completion.reasoning_chunks(tokens_per_chunk):
                events.append(_delta(index, {"type": "thinking_delta", "thinking": piece}))
            events.append(
                _delta(index, {"type": "signature_delta", "signature": block["signature"]})
            )
        elif kind == "text":
            events.append(_start(index, {"type": "text", "text": ""}))
            for piece in completion.content_chunks(tokens_per_chunk):
                events.append(_delta(index, {"type": "text_delta", "text": piece}))
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            events.append(_start(index, start))
            pieces = split_tokens(json.dumps(block["input"], separators=(",", ":")))
            for i in range(0, len(pieces), tokens_per_chunk):
                partial = "".join(pieces[i : i + tokens_per_chunk])
                events.append(_delta(index, {"type": "input_json_delta", "partial_json": partial}))
        events.append({"type": "content_block_stop", "index": index})
        out.append((kind, events))
    return out


def _start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def message_delta(completion: Completion) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {
            "stop_reason": STOP_REASONS.get(completion.finish_reason, "end_turn"),
            "stop_sequence": None,
        },
        "usage": {"output_tokens": completion.bill().completion_tokens},
    }


PING: dict[str, Any] = {"type": "ping"}
MESSAGE_STOP: dict[str, Any] = {"type": "message_stop"}
