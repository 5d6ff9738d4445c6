"""One simulated chat completion: what is answered, how it is cut into chunks, and its payloads.

Pure data and payload builders (no I/O): the HTTP handler decides when each piece is written.
Shapes follow spec sections 1.3 (non-streaming), 2.2 (chunks) and 2.3 (the usage chunk).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from devflow_tui.sim.billing import Bill, bill
from devflow_tui.sim.profiles import ModelProfile
from devflow_tui.sim.responder import compose_answer, label, split_tokens
from devflow_tui.sim.tools import ToolCall


@dataclass
class Completion:
    """The planned answer of one served model to one request."""

    id: str
    created: int
    model: str  # the slug that served (reported as `model`)
    provider: str
    catalog: dict[str, Any]  # the raw /models entry (prices)
    profile: ModelProfile
    prompt_tokens: int
    reasoning_tokens: list[str]
    content_tokens: list[str]
    finish_reason: str
    show_reasoning: bool
    tool_call: ToolCall | None = None  # the answer is a call of this tool

    @property
    def output_tokens(self) -> int:
        """Completion tokens billed: reasoning, content and the tool call's arguments."""
        tool = len(split_tokens(self.tool_call.arguments_json)) if self.tool_call else 0
        return len(self.reasoning_tokens) + len(self.content_tokens) + tool

    def content_chunks(self, tokens_per_chunk: int) -> list[str]:
        """The content split into stream chunks of a few tokens each."""
        return [
            "".join(self.content_tokens[i : i + tokens_per_chunk])
            for i in range(0, len(self.content_tokens), tokens_per_chunk)
        ]

    def reasoning_chunks(self, tokens_per_chunk: int) -> list[str]:
        """The visible reasoning split into chunks (empty when excluded)."""
        if not self.show_reasoning:
            return []
        return [
            "".join(self.reasoning_tokens[i : i + tokens_per_chunk])
            for i in range(0, len(self.reasoning_tokens), tokens_per_chunk)
        ]

    @property
    def content(self) -> str:
        return "".join(self.content_tokens)

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_tokens)

    def bill(self, content_tokens_sent: int | None = None) -> Bill:
        """The bill for the whole answer, or for what was sent before a cancel or an error."""
        reasoning = len(self.reasoning_tokens)
        if content_tokens_sent is None:
            return bill(self.catalog, self.prompt_tokens, self.output_tokens, reasoning)
        return bill(self.catalog, self.prompt_tokens, content_tokens_sent + reasoning, reasoning)

    # ------------------------------------------------------------ payloads

    def _head(self, obj: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "model": self.model,
            "object": obj,
            "created": self.created,
        }

    def chunk(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        *,
        usage: dict[str, Any] | None = None,
        choices: bool = True,
    ) -> dict[str, Any]:
        """One `chat.completion.chunk` (the role is repeated on every delta, as observed)."""
        payload = self._head("chat.completion.chunk")
        payload["choices"] = (
            [
                {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": finish_reason,
                    "native_finish_reason": finish_reason,
                    "logprobs": None,
                }
            ]
            if choices
            else []
        )
        if usage is not None:
            payload["usage"] = usage
        return payload

    def content_delta(self, text: str) -> dict[str, Any]:
        return {"role": "assistant", "content": text}

    def reasoning_delta(self, text: str) -> dict[str, Any]:
        return {
            "role": "assistant",
            "content": "",
            "reasoning": text,
            "reasoning_details": [
                {"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}
            ],
        }

    def tool_call_delta(self) -> dict[str, Any] | None:
        """The streamed tool call (whole, in one delta), when the answer is one."""
        if self.tool_call is None:
            return None
        return {"role": "assistant", "content": "", "tool_calls": [self._tool_call_json(0)]}

    def _tool_call_json(self, index: int | None = None) -> dict[str, Any]:
        assert self.tool_call is not None
        call: dict[str, Any] = {
            "id": self.tool_call.id,
            "type": "function",
            "function": {"name": self.tool_call.name, "arguments": self.tool_call.arguments_json},
        }
        if index is not None:
            call["index"] = index
        return call

    def closing_chunks(self, shape: Literal[1, 2, 3]) -> list[dict[str, Any]]:
        """The finish chunk and the usage chunk, in one of the three documented shapes."""
        finish = self.chunk({"role": "assistant", "content": ""}, self.finish_reason)
        usage = self.bill().usage()
        if shape == 1:
            last = self.chunk({}, usage=usage, choices=False)
        elif shape == 2:
            last = self.chunk({"role": "assistant", "content": ""}, None, usage=usage)
        else:
            last = self.chunk({}, self.finish_reason, usage=usage)
        return [finish, last]

    def error_chunk(self, error: dict[str, Any]) -> dict[str, Any]:
        """A mid-stream error event: top-level `error` and a choice finished with "error"."""
        payload = self._head("chat.completion.chunk")
        payload["error"] = error
        payload["choices"] = [
            {"index": 0, "delta": {"content": ""}, "finish_reason": "error", "logprobs": None}
        ]
        return payload

    def response(self) -> dict[str, Any]:
        """The non-streaming `chat.completion` body."""
        payload = self._head("chat.completion")
        payload["system_fingerprint"] = None
        payload["service_tier"] = None
        message: dict[str, Any] = {
            "role": "assistant",
            "content": self.content,
            "refusal": None,
            "reasoning": self.reasoning if self.show_reasoning and self.reasoning else None,
        }
        if self.tool_call is not None:
            message["tool_calls"] = [self._tool_call_json()]
        payload["choices"] = [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": self.finish_reason,
                "native_finish_reason": self.finish_reason,
                "message": message,
            }
        ]
        payload["usage"] = self.bill().usage()
        return payload

    def partial_error_response(self, error: dict[str, Any], content_tokens: int) -> dict[str, Any]:
        """A non-streaming 200 whose choice failed after partial output (spec 3.1 variant)."""
        payload = self._head("chat.completion")
        partial = "".join(self.content_tokens[:content_tokens])
        payload["choices"] = [
            {
                "index": 0,
                "logprobs": None,
                "finish_reason": "error",
                "native_finish_reason": "error",
                "message": {"role": "assistant", "content": partial},
                "error": error,
            }
        ]
        payload["usage"] = self.bill(content_tokens).usage()
        return payload


def wants_reasoning(
    request: dict[str, Any], catalog: dict[str, Any], profile: ModelProfile
) -> bool:
    """True when the model reasons for this request (reasoning models, or asked and supported)."""
    options = request.get("reasoning")
    if isinstance(options, dict) and (
        options.get("enabled") is False or options.get("effort") == "none"
    ):
        return False
    if profile.reasoning:
        return True
    supported = "reasoning" in (catalog.get("supported_parameters") or [])
    asked = (isinstance(options, dict) and bool(options)) or bool(request.get("reasoning_effort"))
    return supported and asked


def plan_completion(
    *,
    request: dict[str, Any],
    prompt: str,
    prompt_tokens: int,
    gen_id: str,
    created: int,
    model: str,
    catalog: dict[str, Any],
    profile: ModelProfile,
    max_tokens: int | None,
    max_answer_tokens: int | None,
    answer_tokens: int | None,
    empty: bool = False,
    tool_call: ToolCall | None = None,
) -> Completion:
    """Compose the answer and apply the caps: the request's max_tokens (finish "length") and
    the simulator's own cap (finish "stop")."""
    reasoning = wants_reasoning(request, catalog, profile)
    answer = compose_answer(prompt, model, reasoning=reasoning, exact_tokens=answer_tokens)
    thoughts = split_tokens(answer.reasoning)
    content = [] if empty else split_tokens(answer.content)
    if tool_call is not None:
        content = split_tokens(f"{label(model)} Calling {tool_call.name}.")
    if max_answer_tokens is not None:
        content = content[:max_answer_tokens]
    finish = "stop"
    if max_tokens is not None and len(thoughts) + len(content) > max_tokens:
        # Reasoning is produced first and counts against max_tokens, as with real models.
        thoughts = thoughts[:max_tokens]
        content = content[: max_tokens - len(thoughts)]
        finish = "length"
        tool_call = None
    elif tool_call is not None:
        finish = "tool_calls"
    options = request.get("reasoning")
    excluded = isinstance(options, dict) and options.get("exclude") is True
    return Completion(
        id=gen_id,
        created=created,
        model=model,
        provider=profile.provider or "Simulated",
        catalog=catalog,
        profile=profile,
        prompt_tokens=prompt_tokens,
        reasoning_tokens=thoughts,
        content_tokens=content,
        finish_reason=finish,
        show_reasoning=not excluded,
        tool_call=tool_call,
    )


def generation_record(
    completion: Completion,
    charge: Bill,
    *,
    streamed: bool,
    cancelled: bool,
    finish_reason: str | None,
    attempts: list[dict[str, Any]],
    request: dict[str, Any],
    referer: str | None,
    user_agent: str | None,
) -> dict[str, Any]:
    """The `/generation` data of a completion (spec section 5, 2026 field set)."""
    profile = completion.profile
    speed = profile.tokens_per_s if profile.tokens_per_s > 0 else float("inf")
    generation_ms = profile.ttft_ms + charge.completion_tokens / speed * 1000
    created_at = datetime.fromtimestamp(completion.created, UTC).isoformat()
    data: dict[str, Any] = {
        "id": completion.id,
        "upstream_id": f"chatcmpl-{completion.id[-20:]}",
        "total_cost": charge.cost,
        "usage": charge.cost,
        "cache_discount": None,
        "upstream_inference_cost": charge.cost,
        "created_at": created_at.replace("+00:00", "Z"),
        "model": completion.model,
        "app_id": None,
        "streamed": streamed,
        "cancelled": cancelled,
        "provider_name": completion.provider,
        "latency": round(profile.ttft_ms),
        "moderation_latency": None,
        "generation_time": round(generation_ms),
        "finish_reason": finish_reason,
        "native_finish_reason": finish_reason,
        "tokens_prompt": charge.prompt_tokens,
        "tokens_completion": charge.completion_tokens,
        "native_tokens_prompt": charge.prompt_tokens,
        "native_tokens_completion": charge.completion_tokens,
        "native_tokens_reasoning": charge.reasoning_tokens,
        "native_tokens_cached": 0,
        "native_tokens_completion_images": 0,
        "num_media_prompt": 0,
        "num_media_completion": 0,
        "num_input_audio_prompt": 0,
        "num_search_results": 0,
        "num_fetches": 0,
        "origin": referer or "",
        "is_byok": False,
        "api_type": "completions",
        "external_user": request.get("user"),
        "http_referer": referer,
        "user_agent": user_agent,
        "router": None,
        "preset_id": None,
        "service_tier": None,
        "web_search_engine": None,
        "data_region": None,
        "workspace_id": None,
        "provider_responses": copy.deepcopy(attempts),
        "request_id": None,
        "session_id": request.get("session_id"),
    }
    return data
