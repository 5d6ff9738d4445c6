"""Health, metrics, bad input and concurrency of the proxy."""

from __future__ import annotations

import asyncio
import time

import anthropic
import httpx

from devflow_tui.sim import Fault
from tests.serve.conftest import Proxy, ProxyFactory


def _auth(proxy: Proxy) -> dict[str, str]:
    return {"Authorization": f"Bearer {proxy.token}"}


def test_health_needs_no_token_and_says_nothing_secret(proxy: Proxy, fake_key: str) -> None:
    response = httpx.get(f"{proxy.url}/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert fake_key not in response.text and proxy.token not in response.text
    assert httpx.head(f"{proxy.url}/").status_code == 200


def test_metrics_count_requests_cost_and_latency(proxy: Proxy) -> None:
    assert httpx.get(f"{proxy.url}/metrics").status_code == 401
    httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers=_auth(proxy),
        json={"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    )
    text = httpx.get(f"{proxy.url}/metrics", headers=_auth(proxy)).text
    assert (
        'devflow_proxy_requests_total{api="openai",client="python-httpx",'
        'model="openai/gpt-4o-mini",status="ok"} 1.0'
    ) in text
    assert 'devflow_proxy_cost_usd_total{client="python-httpx",model="openai/gpt-4o-mini"}' in text
    assert 'devflow_proxy_request_duration_seconds_count{model="openai/gpt-4o-mini"} 1.0' in text


def test_bad_json_and_bad_fields_name_the_problem(proxy: Proxy) -> None:
    headers = {**_auth(proxy), "content-type": "application/json"}
    response = httpx.post(f"{proxy.url}/v1/messages", headers=headers, content=b"{not json")
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers=headers,
        json={"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
    )
    assert response.status_code == 400 and "max_tokens" in response.json()["error"]["message"]
    ask = {"model": "auto", "messages": [{"role": "user", "content": "x"}]}
    given = httpx.post(
        f"{proxy.url}/v1/messages", headers=headers, json={**ask, "max_tokens": -5}
    ).json()["error"]["message"]
    assert given == "max_tokens: must be a positive integer, not -5."  # given, not missing
    missing = httpx.post(f"{proxy.url}/v1/messages", headers=headers, json=ask)
    assert "max_tokens: Field required" in missing.json()["error"]["message"]
    response = httpx.post(
        f"{proxy.url}/v1/messages/count_tokens", headers=headers, json={"model": "x"}
    )
    assert response.status_code == 400


async def test_hundred_concurrent_streams_lose_nothing(make_proxy: ProxyFactory) -> None:
    # The client's own limits (60 requests a minute, 8 at once) would queue most of them.
    # 100 streams share one process and, in CI, two cores with the rest of the suite: this test
    # is about losing nothing, so the timeouts are far above anything a loaded machine needs.
    proxy = make_proxy(
        rate_limit_requests=10_000,
        max_concurrency=128,
        connect_timeout_ms=120_000,
        first_token_timeout_ms=120_000,
        chunk_timeout_ms=120_000,
        timeout_ms=300_000,
    )
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=proxy.token, max_retries=0)

    async def one(n: int) -> str:
        async with client.messages.stream(
            model="openai/gpt-4o-mini",
            max_tokens=300,
            messages=[{"role": "user", "content": f"Tell me fact number {n}"}],
        ) as stream:
            return await stream.get_final_text()

    texts = await asyncio.gather(*(one(n) for n in range(100)))
    await client.close()
    assert all(t.startswith("[simulated answer") for t in texts)
    rows = proxy.rows(expect=100)
    assert len(rows) == 100
    assert {row.status for row in rows} == {"ok"}
    assert all(row.cost_usd is not None and row.cost_usd > 0 for row in rows)
    billed = sum(g["total_cost"] for g in proxy.sim.generations.values())
    recorded = sum(row.cost_usd for row in rows if row.cost_usd is not None)
    assert abs(float(recorded) - float(billed)) < 1e-9


def test_mid_stream_failure_reaches_the_client_and_is_recorded(proxy: Proxy) -> None:
    proxy.sim.add_fault(
        Fault(kind="mid_stream_error", status=502, path="/messages", after_chunks=2)
    )
    response = httpx.post(
        f"{proxy.url}/v1/messages",
        headers=_auth(proxy),
        json={
            "model": "openai/gpt-4o-mini",
            "max_tokens": 300,
            "stream": True,
            "messages": [{"role": "user", "content": "Tell me about rivers"}],
        },
    )
    assert response.status_code == 200
    assert "event: error\n" in response.text and "event: message_stop" not in response.text
    (row,) = proxy.rows(expect=1)
    assert row.status == "error" and not row.complete and row.partial_text
    assert row.cost_usd is not None and row.cost_source == "estimated"


def test_a_misspelled_model_setting_is_a_clear_error_not_a_crash(
    make_proxy: ProxyFactory,
) -> None:
    proxy = make_proxy(preferred_models=["clade-sonet"])
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers=_auth(proxy),
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 500
    message = response.json()["error"]["message"]
    assert "'clade-sonet' matches nothing in the model catalog" in message
    assert "anthropic/claude-sonnet-4.5" in message and "Correct it in preferred_models" in message
    assert proxy.upstream("/chat/completions") == []  # nothing sent


def test_billed_costs_are_reconciled_in_the_background(make_proxy: ProxyFactory) -> None:
    proxy = make_proxy(serve={"reconcile_seconds": 0.05})
    response = httpx.post(
        f"{proxy.url}/v1/messages",
        headers=_auth(proxy),
        json={
            "model": "anthropic/claude-sonnet-4.5",
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "hello"}],
        },
    )
    assert response.status_code == 200
    billed = proxy.sim.generations[response.headers["x-generation-id"]]["total_cost"]
    for _ in range(200):
        (row,) = proxy.rows(expect=1)
        if row.billed_cost_usd is not None:
            break
        time.sleep(0.05)
    assert row.cost_source == "estimated"
    assert row.billed_cost_usd == billed


def test_no_model_for_a_small_max_tokens_says_raise_it(make_proxy: ProxyFactory) -> None:
    """The proxy's "No model can take this request" said "Lower max_tokens" when the one
    allowed model thinks first and max_tokens 5 leaves it no room: raising it is the fix."""
    proxy = make_proxy(only_models=["deepseek/deepseek-r1"])
    response = httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers=_auth(proxy),
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5},
    )
    message = response.json()["error"]["message"]
    assert message.startswith("No model can take this request: deepseek/deepseek-r1 is ruled")
    assert "Raise max_tokens to 1,024 or more" in message and "Lower" not in message
    assert "[serve.models]" in message
    assert not [r for r in proxy.sim.requests if r.path.endswith("/chat/completions")]
