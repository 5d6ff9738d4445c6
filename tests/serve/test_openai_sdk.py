"""The real `openai` SDK as a client of `devflow serve`, in front of the simulator."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import openai
import pytest

from devflow_tui.sim import Fault
from devflow_tui.types import TASK_TYPES
from tests.serve.conftest import Proxy, ProxyFactory

TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def _client(proxy: Proxy, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("api_key", proxy.token)
    return openai.OpenAI(base_url=f"{proxy.url}/v1", max_retries=0, **kwargs)


def test_auto_routes_and_reported_cost_is_recorded(proxy: Proxy) -> None:
    answer = _client(proxy).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "Compare Rust and Go for CLIs"}]
    )
    assert answer.choices[0].message.content
    (row,) = proxy.rows(expect=1)
    assert row.client == "openai-sdk" and row.status == "ok" and row.task_type in TASK_TYPES
    assert row.model == answer.model
    assert row.cost_source == "reported" and row.cost_usd is not None and row.cost_usd > 0
    assert answer.usage is not None and row.completion_tokens == answer.usage.completion_tokens


def test_catalog_id_pins_and_extras_pass_through(proxy: Proxy) -> None:
    answer = _client(proxy).chat.completions.create(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"provider": {"order": ["openai"]}, "transforms": []},
    )
    assert answer.model == "openai/gpt-4o-mini"
    sent = proxy.upstream("/chat/completions")[-1]
    assert sent["provider"] == {"order": ["openai"]} and sent["transforms"] == []


def test_stream_arrives_whole_with_usage(proxy: Proxy) -> None:
    chunks = list(
        _client(proxy).chat.completions.create(
            model="openai/gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[simulated answer from openai/gpt-4o-mini]")
    (row,) = proxy.rows(expect=1)
    assert row.status == "ok" and row.complete and row.cost_source == "reported"


def test_tool_call_round_trip(proxy: Proxy) -> None:
    client = _client(proxy)
    messages: list[Any] = [{"role": "user", "content": "use get_weather for Oslo"}]
    first = client.chat.completions.create(model="auto", messages=messages, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Cold"},
    ]
    second = client.chat.completions.create(model="auto", messages=messages, tools=TOOLS)
    assert second.choices[0].finish_reason == "stop"
    assert [row.status for row in proxy.rows(expect=2)] == ["ok", "ok"]


def test_errors_are_the_sdks_exception_types(proxy: Proxy) -> None:
    client = _client(proxy)
    proxy.sim.add_fault(Fault(kind="http_error", status=400))
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    proxy.sim.add_fault(Fault(kind="rate_limit", times=None))
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert limited.value.status_code == 429
    with pytest.raises(openai.AuthenticationError):
        _client(proxy, api_key="nope").chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "x"}]
        )


def test_budget_refusal_is_402(make_proxy: ProxyFactory) -> None:
    proxy = make_proxy(cost_budget_usd=Decimal("0.0000001"))
    with pytest.raises(openai.APIStatusError) as refused:
        _client(proxy).chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "x"}], max_tokens=500
        )
    assert refused.value.status_code == 402
    assert proxy.upstream("/chat/completions") == []


def test_models_list_in_both_sdks(proxy: Proxy) -> None:
    ids = [m.id for m in _client(proxy).models.list()]
    assert ids[0] == "auto" and "openai/gpt-4o-mini" in ids
    import anthropic

    listed = anthropic.Anthropic(base_url=proxy.url, api_key=proxy.token).models.list()
    assert "openai/gpt-4o-mini" in [m.id for m in listed.data]
