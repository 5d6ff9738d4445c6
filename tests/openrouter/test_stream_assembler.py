"""The SSE chunk assembler on its own: usage shapes, errors and end-of-stream rules."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.result import TextChunk
from devflow_tui.openrouter.stream import StreamAssembler


def chunk(
    content: str | None = None,
    finish: str | None = None,
    *,
    choices: bool = True,
    usage: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
    reasoning: str | None = None,
) -> str:
    payload: dict[str, Any] = {"id": "gen-1-a", "model": "m/served", "provider": "P"}
    delta: dict[str, Any] = {"role": "assistant"}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning"] = reasoning
    payload["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []
    if usage is not None:
        payload["usage"] = usage
    if error is not None:
        payload["error"] = error
    return json.dumps(payload)


USAGE = (
    '{"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5, "cost": 0.1015644762123456789}'
)


def usage_chunk(finish: str | None, choices: bool) -> str:
    return chunk("", finish, choices=choices).replace(
        '"provider": "P"', f'"usage": {USAGE}, "provider": "P"'
    )


@pytest.mark.parametrize(
    "closing",
    [
        [usage_chunk(None, choices=False)],  # shape 1: empty choices + usage
        [usage_chunk(None, choices=True)],  # shape 2: finish chunk, then usage with null finish
        [usage_chunk("stop", choices=True)],  # shape 3: usage repeats the finish reason
    ],
)
def test_usage_shapes(closing: list[str]) -> None:
    asm = StreamAssembler("m/asked")
    pieces = [asm.feed(chunk("Hel")), asm.feed(chunk("lo", "stop"))]
    for data in closing:
        assert asm.feed(data) is None
    asm.feed("[DONE]")
    asm.finish()
    assert pieces == [TextChunk("Hel"), TextChunk("lo")]
    assert asm.text == "Hello" and asm.finish_reason == "stop"
    assert asm.usage is not None and asm.usage.cost == Decimal("0.1015644762123456789")
    assert (asm.model, asm.provider, asm.generation_id) == ("m/served", "P", "gen-1-a")


def test_reasoning_and_ignored_chunks() -> None:
    asm = StreamAssembler("m")
    assert asm.feed(chunk(reasoning="think")) == TextChunk("", "think")
    assert asm.feed(chunk("")) is None  # empty content deltas are common
    other = json.dumps({"choices": [{"index": 1, "delta": {"content": "x"}}]})
    assert asm.feed(other) is None
    asm.feed("[DONE]")
    assert asm.feed(chunk("late")) is None  # nothing counts after [DONE]
    assert asm.reasoning == "think" and asm.text == ""


@pytest.mark.parametrize("code", [429, "server_error"])
def test_error_chunk_after_text_is_mid_stream(code: int | str) -> None:
    asm = StreamAssembler("m")
    asm.feed(chunk("Hel"))
    err = {"code": code, "message": "Provider disconnected", "metadata": {"error_type": "x"}}
    with pytest.raises(OpenRouterError) as info:
        asm.feed(chunk("", "error", error=err))
    assert info.value.mid_stream and not info.value.retryable
    assert info.value.partial_text == "Hel"
    expected = ErrorCategory.RATE_LIMIT if code == 429 else ErrorCategory.PROVIDER
    assert info.value.category is expected
    assert info.value.generation_id == "gen-1-a"


def test_error_as_only_event_is_retryable_per_code() -> None:
    asm = StreamAssembler("m")
    with pytest.raises(OpenRouterError) as info:
        asm.feed(chunk("", "error", error={"code": 503, "message": "down"}))
    assert not info.value.mid_stream and info.value.retryable
    with pytest.raises(OpenRouterError) as info:
        StreamAssembler("m").feed(chunk("", "error", error={"code": 400, "message": "bad"}))
    assert not info.value.retryable


def test_finish_reason_error_without_error_object() -> None:
    asm = StreamAssembler("m")
    asm.feed(chunk("a"))
    with pytest.raises(OpenRouterError) as info:
        asm.feed(chunk("b", "error"))
    assert info.value.category is ErrorCategory.PROVIDER and info.value.mid_stream
    assert info.value.partial_text == "ab"


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '{"choices": "nope"}'])
def test_malformed_chunk_is_invalid_response(data: str) -> None:
    asm = StreamAssembler("m")
    with pytest.raises(OpenRouterError) as info:
        asm.feed(data)
    assert info.value.category is ErrorCategory.INVALID_RESPONSE


def test_cut_off_stream_is_network_error() -> None:
    asm = StreamAssembler("m")
    asm.feed(chunk("partial"))
    with pytest.raises(OpenRouterError) as info:
        asm.finish()
    assert info.value.category is ErrorCategory.NETWORK
    assert "before the answer was complete" in info.value.message
    assert info.value.mid_stream and info.value.partial_text == "partial"


def test_empty_answer_rules() -> None:
    # [DONE] with no text and no finish reason: a retryable "no content" failure.
    asm = StreamAssembler("m")
    asm.feed("[DONE]")
    with pytest.raises(OpenRouterError) as info:
        asm.finish()
    assert info.value.category is ErrorCategory.PROVIDER and info.value.retryable
    # Empty text with a finish reason is an answer (e.g. all tokens spent on reasoning).
    asm = StreamAssembler("m")
    asm.feed(chunk("", "length"))
    asm.finish()
    assert asm.text == "" and asm.finish_reason == "length"
