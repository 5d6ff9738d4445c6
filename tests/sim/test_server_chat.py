"""POST /chat/completions: response and chunk shapes, usage variants, costs, fallbacks."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest

from devflow_tui.data.snapshot import load_snapshot
from devflow_tui.openrouter.wire import ChatResponse, StreamChunk
from devflow_tui.sim import SimServer
from devflow_tui.sim.responder import answer_tokens, prompt_tokens
from tests.sim.sse import content_of, data_events, parse_sse

GEN_ID = re.compile(r"gen-\d+-[A-Za-z0-9]{20}")
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Write a Python function that reverses a string"},
]


def _exact(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def _prices(model_id: str) -> dict[str, Decimal]:
    model = next(m for m in load_snapshot() if m["id"] == model_id)
    return {key: Decimal(value) for key, value in model["pricing"].items()}


def _stream(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    response = client.post("/chat/completions", json={**body, "stream": True})
    assert response.status_code == 200
    return response


def test_non_streaming_shape(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json={"model": "openai/gpt-4o-mini", "messages": MESSAGES}
    )
    assert response.status_code == 200
    body = _exact(response.text)
    assert list(body)[:5] == ["id", "provider", "model", "object", "created"]
    assert GEN_ID.fullmatch(body["id"])
    assert response.headers["x-generation-id"] == body["id"]
    assert body["object"] == "chat.completion"
    assert body["provider"] == "OpenAI"
    assert body["system_fingerprint"] is None
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["native_finish_reason"] == "stop"
    assert choice["logprobs"] is None
    content = choice["message"]["content"]
    assert content.startswith("[simulated answer from openai/gpt-4o-mini]")
    assert "```python" in content
    usage = body["usage"]
    assert usage["prompt_tokens"] == prompt_tokens(MESSAGES)
    assert usage["completion_tokens"] == answer_tokens(content)
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["is_byok"] is False
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    parsed = ChatResponse.model_validate(response.json())
    assert parsed.usage is not None and parsed.usage.cost is not None


@pytest.mark.parametrize(
    "model_id",
    ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5", "deepseek/deepseek-v3.2-exp",
     "meta-llama/llama-3.3-70b-instruct:free", "google/gemini-2.5-flash"],
)  # fmt: skip
def test_cost_matches_catalog_prices_exactly(client: httpx.Client, model_id: str) -> None:
    body = _exact(
        client.post("/chat/completions", json={"model": model_id, "messages": MESSAGES}).text
    )
    usage = body["usage"]
    prices = _prices(model_id)
    expected = (
        usage["prompt_tokens"] * prices["prompt"]
        + usage["completion_tokens"] * prices["completion"]
    )
    assert usage["cost"] == expected
    assert usage["cost_details"]["upstream_inference_cost"] == expected
    assert (
        usage["cost_details"]["upstream_inference_prompt_cost"]
        == usage["prompt_tokens"] * prices["prompt"]
    )
    if model_id.endswith(":free"):
        assert usage["cost"] == 0


def test_reasoning_model_bills_reasoning_tokens(client: httpx.Client) -> None:
    body = _exact(
        client.post(
            "/chat/completions", json={"model": "deepseek/deepseek-r1", "messages": MESSAGES}
        ).text
    )
    message = body["choices"][0]["message"]
    usage = body["usage"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert message["reasoning"] and reasoning == answer_tokens(message["reasoning"])
    assert usage["completion_tokens"] == reasoning + answer_tokens(message["content"])
    prices = _prices("deepseek/deepseek-r1")
    assert (
        usage["cost"]
        == usage["prompt_tokens"] * prices["prompt"]
        + usage["completion_tokens"] * prices["completion"]
    )


def test_reasoning_on_request_exclusion_and_disabling(client: httpx.Client) -> None:
    asked = {
        "model": "anthropic/claude-sonnet-4.5",
        "messages": MESSAGES,
        "reasoning": {"effort": "high"},
    }
    body = client.post("/chat/completions", json=asked).json()
    assert body["choices"][0]["message"]["reasoning"]
    excluded = {**asked, "reasoning": {"effort": "high", "exclude": True}}
    body = client.post("/chat/completions", json=excluded).json()
    assert body["choices"][0]["message"]["reasoning"] is None
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    disabled = {"model": "openai/gpt-5", "messages": MESSAGES, "reasoning": {"effort": "none"}}
    body = client.post("/chat/completions", json=disabled).json()
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    effort = {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "reasoning_effort": "high"}
    plain = client.post("/chat/completions", json=effort).json()
    assert plain["choices"][0]["message"]["reasoning"] is None


def test_max_tokens_truncates_with_finish_length(client: httpx.Client) -> None:
    body = client.post(
        "/chat/completions",
        json={"model": "openai/gpt-4o-mini", "messages": MESSAGES, "max_tokens": 5},
    ).json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert (
        body["choices"][0]["message"]["content"] == "[simulated answer fr"
    )  # 5 tokens x 4 characters


def test_reasoning_can_use_the_whole_budget(client: httpx.Client) -> None:
    body = client.post(
        "/chat/completions",
        json={"model": "deepseek/deepseek-r1", "messages": MESSAGES, "max_completion_tokens": 8},
    ).json()
    assert body["choices"][0]["message"]["content"] == ""
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 8
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 8


def test_answer_length_controls(sim: SimServer, client: httpx.Client) -> None:
    sim.config.answer_tokens = 321
    body = client.post(
        "/chat/completions", json={"model": "openai/gpt-4o-mini", "messages": MESSAGES}
    ).json()
    assert body["usage"]["completion_tokens"] == 321
    sim.config.answer_tokens = None
    sim.config.max_answer_tokens = 7
    body = client.post(
        "/chat/completions", json={"model": "openai/gpt-4o-mini", "messages": MESSAGES}
    ).json()
    assert body["usage"]["completion_tokens"] == 7
    assert body["choices"][0]["finish_reason"] == "stop"


def test_legacy_prompt_default_model_and_variants(sim: SimServer, client: httpx.Client) -> None:
    body = client.post("/chat/completions", json={"prompt": "hello"}).json()
    assert body["model"] == "openai/gpt-4o-mini"
    assert body["usage"]["prompt_tokens"] == prompt_tokens([{"role": "user", "content": "hello"}])
    nitro = client.post(
        "/chat/completions", json={"model": "openai/gpt-4o-mini:nitro", "messages": MESSAGES}
    ).json()
    assert nitro["model"] == "openai/gpt-4o-mini:nitro"
    assert (
        client.post(
            "/chat/completions", json={"model": "openai/gpt-4o-mini:bogus", "messages": MESSAGES}
        ).status_code
        == 400
    )
    sim.config.default_model = "openai/gpt-5-nano"
    assert (
        client.post("/chat/completions", json={"prompt": "hi"}).json()["model"]
        == "openai/gpt-5-nano"
    )


def test_fallback_list_alone_and_unknown_fallback(client: httpx.Client) -> None:
    body = client.post(
        "/chat/completions",
        json={"models": ["x-ai/grok-code-fast-1", "openai/gpt-5"], "messages": MESSAGES},
    ).json()
    assert body["model"] == "x-ai/grok-code-fast-1"
    bad = client.post(
        "/chat/completions",
        json={"model": "openai/gpt-5", "models": ["nope/nope"], "messages": MESSAGES},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == "nope/nope is not a valid model ID"


def test_stream_framing_and_chunk_shape(sim: SimServer, client: httpx.Client) -> None:
    response = _stream(client, {"model": "openai/gpt-4o-mini", "messages": MESSAGES})
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "x-ratelimit-limit" not in response.headers
    events = parse_sse(response.text)
    assert events[-1].kind == "done"
    chunks = [event.data for event in events if event.kind == "data"]
    gen_id = response.headers["x-generation-id"]
    for chunk in chunks:
        assert list(chunk)[:6] == ["id", "provider", "model", "object", "created", "choices"]
        assert chunk["id"] == gen_id and chunk["object"] == "chat.completion.chunk"
        StreamChunk.model_validate(chunk)
    content_chunks = chunks[:-2]
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in content_chunks)
    assert all(c["choices"][0]["finish_reason"] is None for c in content_chunks)
    assert all(1 <= answer_tokens(c["choices"][0]["delta"]["content"]) <= 3 for c in content_chunks)
    text = content_of(response.text)
    assert text.startswith("[simulated answer from openai/gpt-4o-mini]")
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens"] == answer_tokens(text)
    assert sim.requests[-1].chunks_sent == len(content_chunks)
    assert sim.requests[-1].stream is True
    assert sim.generations[gen_id]["streamed"] is True


def test_stream_reasoning_comes_before_content(client: httpx.Client) -> None:
    response = _stream(client, {"model": "deepseek/deepseek-r1", "messages": MESSAGES})
    deltas = [c["choices"][0]["delta"] for c in data_events(response.text) if c["choices"]]
    kinds = [
        "reasoning" if d.get("reasoning") else "content" if d.get("content") else "other"
        for d in deltas
    ]
    first_content = kinds.index("content")
    assert set(kinds[:first_content]) == {"reasoning"}
    assert "reasoning" not in kinds[first_content:]
    assert deltas[0]["reasoning_details"][0]["type"] == "reasoning.text"


@pytest.mark.parametrize("shape", [1, 2, 3])
def test_usage_chunk_shapes(sim: SimServer, client: httpx.Client, shape: int) -> None:
    sim.config.usage_shape = shape  # type: ignore[assignment]
    response = _stream(client, {"model": "openai/gpt-5-nano", "messages": MESSAGES})
    chunks = data_events(response.text)
    finish, last = chunks[-2], chunks[-1]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "usage" not in finish
    assert sum("usage" in chunk for chunk in chunks) == 1
    if shape == 1:
        assert last["choices"] == []
    elif shape == 2:
        assert last["choices"][0]["finish_reason"] is None
        assert last["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    else:
        assert last["choices"][0]["finish_reason"] == "stop"
        assert last["choices"][0]["delta"] == {}
    prices = _prices("openai/gpt-5-nano")
    usage = last["usage"]
    assert (
        usage["cost"]
        == usage["prompt_tokens"] * prices["prompt"]
        + usage["completion_tokens"] * prices["completion"]
    )


def test_stream_and_non_stream_agree(client: httpx.Client) -> None:
    body = {"model": "qwen/qwen3-coder", "messages": MESSAGES}
    plain = client.post("/chat/completions", json=body).json()
    streamed = _stream(client, body)
    assert content_of(streamed.text) == plain["choices"][0]["message"]["content"]
    assert data_events(streamed.text)[-1]["usage"]["cost"] == Decimal(str(plain["usage"]["cost"]))


def test_stream_with_excluded_reasoning_hides_it_but_bills_it(client: httpx.Client) -> None:
    body = {"model": "deepseek/deepseek-r1", "messages": MESSAGES, "reasoning": {"exclude": True}}
    text = _stream(client, body).text
    chunks = data_events(text)
    assert not any(c["choices"] and c["choices"][0]["delta"].get("reasoning") for c in chunks)
    usage = chunks[-1]["usage"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert reasoning > 0
    assert usage["completion_tokens"] == reasoning + answer_tokens(content_of(text))
