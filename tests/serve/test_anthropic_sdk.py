"""The real `anthropic` SDK as a client of `devflow serve`, in front of the simulator."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import pytest

from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.sim import Fault
from devflow_tui.types import TASK_TYPES
from tests.serve.conftest import Proxy, ProxyFactory

PINNED = "anthropic/claude-sonnet-4.5"
WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def _client(proxy: Proxy, **kwargs: Any) -> anthropic.Anthropic:
    kwargs.setdefault("api_key", proxy.token)
    return anthropic.Anthropic(base_url=proxy.url, max_retries=0, **kwargs)


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def test_message_is_routed_recorded_and_priced(proxy: Proxy) -> None:
    message = _client(proxy).messages.create(
        model="claude-opus-4-8", max_tokens=400, messages=_user("Write a python function")
    )
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.startswith("[simulated answer from ")
    assert message.usage.output_tokens > 0
    sent = proxy.upstream("/messages")[-1]
    assert sent["model"] != "claude-opus-4-8" and "/" in sent["model"]  # routed to a catalog id
    (row,) = proxy.rows(expect=1)
    assert row.client == "anthropic-sdk" and row.status == "ok"
    assert row.model == sent["model"] and row.requested_model == "claude-opus-4-8"
    assert row.task_type in TASK_TYPES
    assert row.completion_tokens == message.usage.output_tokens
    assert row.cost_usd is not None and row.cost_usd > 0 and row.cost_source == "estimated"
    assert row.generation_id and row.generation_id in proxy.sim.generations


def test_stream_arrives_whole_and_is_recorded(proxy: Proxy) -> None:
    client = _client(proxy)
    with client.messages.stream(
        model=PINNED, max_tokens=400, messages=_user("Explain recursion")
    ) as stream:
        text = stream.get_final_text()
        final = stream.get_final_message()
    assert text.startswith(f"[simulated answer from {PINNED}]")
    (row,) = proxy.rows(expect=1)
    assert row.status == "ok" and row.complete and row.model == PINNED
    assert row.completion_tokens == final.usage.output_tokens
    assert row.ttft_ms is not None and row.latency_ms is not None


@pytest.mark.parametrize("stream", [False, True])
def test_tool_use_round_trip(proxy: Proxy, stream: bool) -> None:
    client = _client(proxy)
    ask = _user("What is the weather? use get_weather for Rome")
    first: Any
    if stream:
        with client.messages.stream(
            model="claude-sonnet-4-8", max_tokens=400, messages=ask, tools=[WEATHER]
        ) as events:
            first = events.get_final_message()
    else:
        first = client.messages.create(
            model="claude-sonnet-4-8", max_tokens=400, messages=ask, tools=[WEATHER]
        )
    assert first.stop_reason == "tool_use"
    call = first.content[-1]
    assert call.type == "tool_use" and call.name == "get_weather"
    assert call.input == {"city": "Rome"}
    follow = [
        *ask,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21C"}],
        },
    ]
    second = client.messages.create(
        model="claude-sonnet-4-8", max_tokens=400, messages=follow, tools=[WEATHER]
    )
    assert second.stop_reason == "end_turn"
    sent = proxy.upstream("/messages")
    assert sent[-1]["messages"][-1]["content"][0]["type"] == "tool_result"
    # Tool-carrying requests only go to models that support tools.
    tool_models = {
        m["id"] for m in proxy.sim.catalog() if "tools" in (m.get("supported_parameters") or [])
    }
    assert {body["model"] for body in sent} <= tool_models
    assert [row.status for row in proxy.rows(expect=2)] == ["ok", "ok"]


def test_thinking_system_blocks_unknown_fields_and_betas_pass_through(proxy: Proxy) -> None:
    message = _client(proxy).messages.create(
        model=PINNED,
        max_tokens=2000,
        system=[{"type": "text", "text": "You are terse."}],
        messages=_user("Why is the sky blue?"),
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body={"context_management": {"edits": []}, "output_config": {"effort": "low"}},
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14,context-1m-2025-08-07"},
    )
    assert [block.type for block in message.content] == ["thinking", "text"]
    record = next(r for r in reversed(proxy.sim.requests) if r.path == "/messages")
    assert record.json["system"] == [{"type": "text", "text": "You are terse."}]
    assert record.json["context_management"] == {"edits": []}
    assert record.json["output_config"] == {"effort": "low"}
    assert record.json["thinking"]["budget_tokens"] == 1024
    assert record.headers["anthropic-beta"].startswith("interleaved-thinking")


def test_retry_and_fallback_before_the_first_byte(make_proxy: ProxyFactory) -> None:
    proxy = make_proxy()
    client = _client(proxy)
    client.messages.create(model="claude-haiku-4-5", max_tokens=300, messages=_user("Hello there"))
    chosen = proxy.upstream("/messages")[-1]["model"]
    proxy.sim.add_fault(Fault(kind="http_error", status=503, path="/messages", model=chosen))
    message = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=300,
        messages=_user("Hello there"),
        extra_headers={"cache-control": "no-cache"},  # the same request again, not the cache
    )
    assert message.model != chosen
    row = proxy.rows()[-1]
    assert row.status == "ok" and row.model == message.model
    with AnalyticsStore(proxy.settings.db_path) as store:
        attempts = store.attempts_for(row.id)
    assert [a.status for a in attempts] == [503, 200]


def test_errors_arrive_as_the_sdks_own_exceptions(proxy: Proxy) -> None:
    client = _client(proxy)
    proxy.sim.add_fault(Fault(kind="http_error", status=400, path="/messages"))
    with pytest.raises(anthropic.BadRequestError) as bad:
        client.messages.create(model=PINNED, max_tokens=100, messages=_user("hi"))
    assert bad.value.status_code == 400
    proxy.sim.add_fault(Fault(kind="http_error", status=503, path="/messages", times=None))
    with pytest.raises(anthropic.InternalServerError) as down:
        client.messages.create(model=PINNED, max_tokens=100, messages=_user("hi"))
    assert down.value.status_code == 503
    proxy.sim.clear_faults()
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=PINNED, max_tokens=100, messages=[])
    statuses = [row.status for row in proxy.rows()]
    assert statuses == ["error", "error"]  # the malformed request never reached the gateway


def test_missing_or_wrong_token_is_401(proxy: Proxy) -> None:
    with pytest.raises(anthropic.AuthenticationError) as wrong:
        _client(proxy, api_key="dfp-wrong").messages.create(
            model=PINNED, max_tokens=10, messages=_user("hi")
        )
    assert wrong.value.status_code == 401
    response = httpx.post(f"{proxy.url}/v1/messages", json={"model": PINNED})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert proxy.upstream("/messages") == [] and proxy.rows() == []


def test_a_rotated_token_is_refused_by_the_running_proxy(proxy: Proxy) -> None:
    from devflow_tui.serve.tokens import ProxyTokens

    fresh = ProxyTokens.load(proxy.settings.home, env={}).rotate(proxy.settings.home, "default")
    with pytest.raises(anthropic.AuthenticationError):
        _client(proxy).messages.create(model=PINNED, max_tokens=10, messages=_user("hi"))
    answer = _client(proxy, api_key=fresh).messages.create(
        model=PINNED, max_tokens=10, messages=_user("hi")
    )
    assert answer.content
    assert len(proxy.upstream("/messages")) == 1


def test_budget_refusal_is_a_billing_error_and_nothing_is_sent(make_proxy: ProxyFactory) -> None:
    proxy = make_proxy(cost_budget_usd=Decimal("0.000001"))
    with pytest.raises(anthropic.APIStatusError) as refused:
        _client(proxy).messages.create(model=PINNED, max_tokens=4000, messages=_user("hi"))
    assert refused.value.status_code == 402
    body = refused.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "billing_error"
    assert proxy.upstream("/messages") == []
    (row,) = proxy.rows(expect=1)
    assert row.status == "refused" and row.client == "anthropic-sdk"


def test_count_tokens_is_an_estimate_and_says_so(proxy: Proxy) -> None:
    client = _client(proxy)
    text = "Explain how a hash map resolves collisions, with an example in Python. " * 20
    raw = client.messages.with_raw_response.count_tokens(model=PINNED, messages=_user(text))
    assert raw.headers["x-devflow-token-count"] == "estimate"
    counted = raw.parse().input_tokens
    billed = client.messages.create(model=PINNED, max_tokens=50, messages=_user(text))
    # The simulator counts with its own BPE-like tokenizer, not devflow's estimator.
    assert 0.75 <= counted / billed.usage.input_tokens <= 1.35
    with_tools = client.messages.count_tokens(model=PINNED, messages=_user(text), tools=[WEATHER])
    assert with_tools.input_tokens > counted
    turns: Any = [
        *_user(text),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather",
                                            "input": {"city": "Rome"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                       "content": [{"type": "text", "text": text}]}]},
    ]  # fmt: skip
    longer = client.messages.count_tokens(model=PINNED, messages=turns).input_tokens
    assert longer > 2 * counted - 10  # the tool result's text is counted
    assert len(proxy.upstream("/messages")) == 1  # counting sends nothing


def test_beta_query_string_is_served(proxy: Proxy) -> None:
    response = httpx.post(
        f"{proxy.url}/v1/messages?beta=true",
        headers={"Authorization": f"Bearer {proxy.token}", "User-Agent": "claude-cli/2.1.0"},
        json={"model": "claude-opus-4-8", "max_tokens": 100, "messages": _user("say hello")},
    )
    assert response.status_code == 200
    assert proxy.rows()[-1].client == "claude-code"


async def test_closing_a_stream_early_records_it_cancelled(proxy: Proxy) -> None:
    proxy.sim.config.time_scale = 0.2  # slow enough to hang up mid-answer...
    proxy.sim.config.answer_tokens = 3000  # ...of an answer long enough to still be running
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=proxy.token, max_retries=0)
    async with client.messages.stream(
        model=PINNED, max_tokens=2000, messages=_user("Write a long essay about rivers")
    ) as stream:
        async for event in stream:
            if event.type == "content_block_delta":
                break
    await client.close()
    for _ in range(200):
        rows = proxy.rows()
        if rows and rows[-1].status != "running":
            break
        await asyncio.sleep(0.05)
    assert proxy.rows()[-1].status == "cancelled"
    assert proxy.sim.wait_until_done()
    assert proxy.sim.requests[-1].cancelled


async def test_a_long_stream_has_its_running_row_while_it_streams(proxy: Proxy) -> None:
    proxy.sim.config.time_scale = 0.2  # an answer that takes a while...
    proxy.sim.config.answer_tokens = 3000
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=proxy.token, max_retries=0)
    seen_running = False
    async with client.messages.stream(
        model=PINNED, max_tokens=4000, messages=_user("Write a long essay about rivers")
    ) as stream:
        async for event in stream:
            if event.type != "content_block_delta":
                continue
            with AnalyticsStore(proxy.settings.db_path) as store:
                rows = store.recent_requests(5)
            if rows and rows[0].status == "running":
                seen_running = True  # written by the proxy while the answer still streams
                break
    await client.close()
    assert seen_running
    final = proxy.rows()[-1]
    assert final.status == "cancelled" and final.client == "anthropic-sdk"
