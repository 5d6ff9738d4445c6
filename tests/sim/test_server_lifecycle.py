"""Start/stop, thread hygiene, latency profiles, a request storm, and `serve_forever`."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
from decimal import Decimal

import httpx
import pytest

from devflow_tui.sim import ModelProfile, SimConfig, SimServer, serve_forever
from devflow_tui.sim.responder import answer_tokens
from tests.sim.sse import data_events

CHAT = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def _sim_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("devflow-sim")]


def test_port_and_url_need_a_running_server() -> None:
    server = SimServer()
    assert not server.running
    with pytest.raises(RuntimeError, match="start"):
        _ = server.port
    server.stop()  # stopping a server that never started is harmless
    with server:
        assert server.running
        assert server.start() is server  # idempotent
        assert server.base_url == f"http://127.0.0.1:{server.port}/api/v1"
    assert not server.running


def test_only_loopback_binding() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        SimServer(host="0.0.0.0")  # noqa: S104 - the point of the test
    with SimServer(host="localhost") as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")


def test_stop_ends_every_thread_without_resource_warnings(fake_key: str) -> None:
    gc.collect()  # garbage left by earlier tests on this worker is not this server's
    before = set(_sim_threads())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim = SimServer(SimConfig(time_scale=0.0)).start()
        # Keep-alive connections stay open in the client pool while the server stops.
        client = httpx.Client(
            base_url=sim.base_url, headers={"Authorization": f"Bearer {fake_key}"}
        )
        for _ in range(3):
            assert (
                client.post("/chat/completions", json={**CHAT, "stream": True}).status_code == 200
            )
        assert sim.connection_threads >= 1
        sim.stop()
        client.close()
        gc.collect()
    assert sim.connection_threads == 0
    assert set(_sim_threads()) <= before
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks


def test_stop_interrupts_a_long_first_token_wait(fake_key: str) -> None:
    profile = ModelProfile(ttft_ms=600_000, tokens_per_s=1)  # ten minutes to the first token
    sim = SimServer(SimConfig(profiles={"openai/gpt-4o-mini": profile})).start()
    client = httpx.Client(base_url=sim.base_url, headers={"Authorization": f"Bearer {fake_key}"})
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with client.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as r:
                r.read()
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    while not sim.requests:  # the request has reached the server
        threading.Event().wait(0.005)
    sim.stop()
    worker.join(timeout=10)
    client.close()
    assert not worker.is_alive()
    assert errors  # the stream ended without [DONE]: the client sees a broken body
    assert sim.connection_threads == 0


def test_latency_profile_drives_the_sleeps(fake_key: str) -> None:
    sleeps: list[float] = []
    profile = ModelProfile(ttft_ms=800, tokens_per_s=30)
    config = SimConfig(time_scale=0.5, answer_tokens=12, chunk_tokens=3,
                       profiles={"openai/gpt-4o-mini": profile})  # fmt: skip
    with (
        SimServer(config, sleep=sleeps.append) as sim,
        httpx.Client(
            base_url=sim.base_url, headers={"Authorization": f"Bearer {fake_key}"}
        ) as client,
    ):
        client.post("/chat/completions", json={**CHAT, "stream": True})
        assert sleeps == pytest.approx([0.4] + [3 / 30 * 0.5] * 4)
        sleeps.clear()
        client.post("/chat/completions", json=CHAT)
        assert sleeps == pytest.approx([0.4, 12 / 30 * 0.5])


def test_default_profiles_make_small_models_faster(fake_key: str) -> None:
    sleeps: dict[str, list[float]] = {"lite": [], "opus": []}
    current: list[str] = ["lite"]
    config = SimConfig(time_scale=1.0)
    headers = {"Authorization": f"Bearer {fake_key}"}
    with (
        SimServer(config, sleep=lambda s: sleeps[current[0]].append(s)) as sim,
        httpx.Client(base_url=sim.base_url, headers=headers) as c,
    ):
        lite = "google/gemini-2.5-flash-lite-preview-09-2025"
        c.post("/chat/completions", json={**CHAT, "model": lite})
        current[0] = "opus"
        c.post("/chat/completions", json={**CHAT, "model": "anthropic/claude-opus-4.1"})
    assert sleeps["lite"][0] < sleeps["opus"][0]  # time to first token
    assert sleeps["lite"][1] < sleeps["opus"][1]  # the answers are about equally long


async def test_storm_of_200_concurrent_streams(fake_key: str) -> None:
    config = SimConfig(time_scale=0.0, answer_tokens=60)
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    with SimServer(config) as sim:
        async with httpx.AsyncClient(
            base_url=sim.base_url,
            headers={"Authorization": f"Bearer {fake_key}"},
            limits=limits,
            timeout=30,
        ) as client:

            async def one(i: int) -> Decimal:
                body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": f"q {i}"}]}
                async with client.stream("POST", "/chat/completions", json=body) as response:
                    text = (await response.aread()).decode()
                chunks = data_events(text)
                assert text.endswith("data: [DONE]\n\n")
                usage = chunks[-1]["usage"]
                assert usage["completion_tokens"] == 60
                return Decimal(usage["cost"])

            costs = await asyncio.gather(*(one(i) for i in range(200)))
        assert len(sim.requests) == 200
        assert all(r.status == 200 and not r.cancelled for r in sim.requests)
        assert len(sim.generations) == 200
        assert sim.spent == sum(costs)


def test_serve_forever_announces_and_stops(fake_key: str) -> None:
    messages: list[str] = []
    ready = threading.Event()
    stop = threading.Event()

    def announce(text: str) -> None:
        messages.append(text)
        ready.set()

    config = SimConfig(time_scale=0.0)
    worker = threading.Thread(
        target=serve_forever, args=(0, config, announce), kwargs={"stop_event": stop}
    )
    worker.start()
    assert ready.wait(10)
    url = messages[0].split(" on ", 1)[1].split(" ", 1)[0]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1")
    response = httpx.post(
        f"{url}/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {fake_key}"}
    )
    assert answer_tokens(response.json()["choices"][0]["message"]["content"]) > 0
    stop.set()
    worker.join(10)
    assert not worker.is_alive()
    assert messages[-1] == "Simulated OpenRouter stopped."
