"""Cancelling a stream (task cancel or aclose) closes the HTTP connection; the server sees it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devflow_tui.config import Settings
from devflow_tui.openrouter.client import OpenRouterClient, TextChunk
from devflow_tui.sim import Fault, ModelProfile, SimConfig, SimServer
from tests.openrouter.conftest import MODEL, chat_request


@pytest.fixture
def slow_sim() -> Iterator[SimServer]:
    """A simulator streaming in real time: 400 one-token chunks at 40 tokens/s (10 s)."""
    config = SimConfig(
        time_scale=1.0,
        profiles={MODEL: ModelProfile(ttft_ms=0.0, tokens_per_s=40.0)},
        answer_tokens=400,
        chunk_tokens=1,
    )
    server = SimServer(config).start()
    try:
        yield server
    finally:
        server.stop()


async def wait_for_cancel_seen(sim: SimServer) -> bool:
    # Bounded poll: the server notices on its next write after the socket closed.
    for _ in range(200):
        if sim.requests and sim.requests[-1].cancelled:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_cancelling_the_consumer_task_closes_the_connection(
    slow_sim: SimServer, settings: Settings, fake_key: str
) -> None:
    local = settings.model_copy(update={"base_url": slow_sim.base_url})
    received: list[str] = []
    got_two = asyncio.Event()
    async with OpenRouterClient(local, api_key=fake_key) as client:

        async def consume() -> None:
            async for item in client.stream_chat(chat_request()):
                assert isinstance(item, TextChunk)
                received.append(item.text)
                if len(received) == 2:
                    got_two.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_two.wait(), 5.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await wait_for_cancel_seen(slow_sim)
        assert client.rate_limiter.active == 0
    record = slow_sim.requests[-1]
    assert record.stream and record.chunks_sent < 400


async def test_aclose_on_the_generator_closes_the_connection(
    slow_sim: SimServer, settings: Settings, fake_key: str
) -> None:
    local = settings.model_copy(update={"base_url": slow_sim.base_url})
    async with OpenRouterClient(local, api_key=fake_key) as client:
        stream = client.stream_chat(chat_request())
        first = await anext(stream)
        assert isinstance(first, TextChunk)
        await stream.aclose()
        assert await wait_for_cancel_seen(slow_sim)
        assert client.rate_limiter.active == 0


async def test_cancel_before_the_first_token_releases_everything(
    sim: SimServer, settings: Settings, fake_key: str
) -> None:
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=2_000))
    async with OpenRouterClient(settings, api_key=fake_key) as client:
        task = asyncio.create_task(anext(client.stream_chat(chat_request())))
        for _ in range(100):
            if client.rate_limiter.active:
                break
            await asyncio.sleep(0.01)
        assert client.rate_limiter.active == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert client.rate_limiter.active == 0
