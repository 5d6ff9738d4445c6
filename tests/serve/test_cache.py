"""The response cache behind `devflow serve`, with the real `anthropic` and `openai` SDKs: a
text request asked again is answered from the cache (streamed or not, in the caller's API
shape) at no cost and recorded as a hit; tool use, thinking and `Cache-Control: no-cache`
always go upstream."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest

from tests.serve.conftest import Proxy, ProxyFactory

PINNED = "openai/gpt-4o-mini"  # answers with text alone (no reasoning shown)
WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def _anthropic(proxy: Proxy) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=proxy.url, api_key=proxy.token, max_retries=0)


def _openai(proxy: Proxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.token, max_retries=0)


def _user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


def _assert_hit_recorded(proxy: Proxy, rows_expected: int) -> None:
    rows = proxy.rows(expect=rows_expected)
    assert len(rows) == rows_expected
    first, hits = rows[0], rows[1:]
    assert not first.cache_hit and first.cost_usd is not None and first.cost_usd > 0
    for row in hits:
        assert row.cache_hit and row.status == "ok"
        assert row.cost_usd == Decimal(0) and row.saved_usd == first.cost_usd
        assert row.model == first.model and row.completion_tokens == first.completion_tokens


def test_anthropic_text_request_is_answered_from_the_cache_streamed_or_not(proxy: Proxy) -> None:
    client = _anthropic(proxy)
    asked: Any = {"model": PINNED, "max_tokens": 300, "messages": _user("Name three rivers")}
    first = client.messages.create(**asked)
    raw = client.messages.with_raw_response.create(**asked)
    again = raw.parse()
    assert raw.headers["x-devflow-cache"] == "hit"
    assert again.content[0].text == first.content[0].text
    assert again.stop_reason == "end_turn" and again.model == first.model
    assert again.usage.output_tokens == first.usage.output_tokens

    with client.messages.stream(**asked) as stream:
        streamed = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert streamed == first.content[0].text
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    assert len(proxy.upstream("/messages")) == 1  # only the first one was sent
    _assert_hit_recorded(proxy, 3)


def test_openai_text_request_is_answered_from_the_cache_streamed_or_not(proxy: Proxy) -> None:
    client = _openai(proxy)
    messages: Any = _user("Name three mountains")
    first = client.chat.completions.create(model=PINNED, messages=messages)
    raw = client.chat.completions.with_raw_response.create(model=PINNED, messages=messages)
    again = raw.parse()
    assert raw.headers["x-devflow-cache"] == "hit"
    assert again.choices[0].message.content == first.choices[0].message.content
    assert again.choices[0].finish_reason == "stop"
    assert again.usage is not None and first.usage is not None
    assert again.usage.completion_tokens == first.usage.completion_tokens

    stream = client.chat.completions.create(model=PINNED, messages=messages, stream=True)
    pieces: list[str] = []
    usage = None
    for chunk in stream:
        pieces += [c.delta.content or "" for c in chunk.choices]
        usage = chunk.usage or usage
    assert "".join(pieces) == first.choices[0].message.content
    assert usage is not None and usage.completion_tokens == first.usage.completion_tokens
    assert len(proxy.upstream("/chat/completions")) == 1
    _assert_hit_recorded(proxy, 3)


def test_a_streamed_answer_fills_the_cache_for_a_plain_request(proxy: Proxy) -> None:
    client = _anthropic(proxy)
    asked: Any = {"model": PINNED, "max_tokens": 300, "messages": _user("Name three lakes")}
    with client.messages.stream(**asked) as stream:
        streamed = "".join(stream.text_stream)
    again = client.messages.create(**asked)
    assert again.content[0].text == streamed
    assert len(proxy.upstream("/messages")) == 1
    _assert_hit_recorded(proxy, 2)


def test_the_same_text_to_another_model_or_with_other_settings_is_sent(proxy: Proxy) -> None:
    client = _openai(proxy)
    messages: Any = _user("Name three seas")
    client.chat.completions.create(model=PINNED, messages=messages)
    client.chat.completions.create(model=PINNED, messages=messages, temperature=0.2)
    client.chat.completions.create(model="openai/gpt-3.5-turbo", messages=messages)
    assert len(proxy.upstream("/chat/completions")) == 3
    assert not any(row.cache_hit for row in proxy.rows())


@pytest.mark.parametrize(
    "extra",
    [
        {"tools": [WEATHER]},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        {"extra_headers": {"Cache-Control": "no-cache"}},
    ],
    ids=["tools", "thinking", "no-cache"],
)
def test_tools_thinking_and_no_cache_always_go_upstream(proxy: Proxy, extra: Any) -> None:
    client = _anthropic(proxy)
    for _ in range(2):
        client.messages.create(
            model=PINNED, max_tokens=2000, messages=_user("Weather in Rome?"), **extra
        )
    assert len(proxy.upstream("/messages")) == 2
    assert not any(row.cache_hit for row in proxy.rows())


def test_a_conversation_with_tool_results_is_never_cached(proxy: Proxy) -> None:
    turns: Any = [
        {"role": "user", "content": "Weather in Rome?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sun"}],
        },
    ]
    client = _anthropic(proxy)
    for _ in range(2):
        client.messages.create(model=PINNED, max_tokens=300, messages=turns)
    assert len(proxy.upstream("/messages")) == 2


def test_a_disabled_cache_is_not_used(make_proxy: ProxyFactory) -> None:
    proxy = make_proxy(cache={"enabled": False})
    client = _openai(proxy)
    for _ in range(2):
        client.chat.completions.create(model=PINNED, messages=_user("Name three deserts"))
    assert len(proxy.upstream("/chat/completions")) == 2


def test_an_answer_with_reasoning_is_not_stored(proxy: Proxy) -> None:
    client = _openai(proxy)
    for _ in range(2):
        answer = client.chat.completions.create(
            model="openai/gpt-5-nano", messages=_user("Name three islands")
        )
    assert answer.choices[0].message.model_extra.get("reasoning")  # type: ignore[union-attr]
    assert len(proxy.upstream("/chat/completions")) == 2
