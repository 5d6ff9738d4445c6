"""RateLimiter: sliding window, concurrency cap, FIFO order; and its use by the client."""

from __future__ import annotations

import asyncio

import pytest

from devflow_tui.config import Settings
from devflow_tui.openrouter.ratelimit import RateLimiter
from devflow_tui.sim import SimServer
from tests.openrouter.conftest import ClientFactory, FakeClock, chat_request


class AdvancingSleep:
    """Moves the fake clock by the requested time, then yields to the loop."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.now += seconds
        await asyncio.sleep(0)


async def test_concurrency_never_above_limit_and_fifo() -> None:
    limiter = RateLimiter(100, 60.0, 2)
    order: list[int] = []
    running = 0
    peak = 0
    gates = [asyncio.Event() for _ in range(6)]

    async def job(index: int) -> None:
        nonlocal running, peak
        async with limiter.slot():
            order.append(index)
            running += 1
            peak = max(peak, running)
            await gates[index].wait()
            running -= 1

    tasks = []
    for index in range(6):
        tasks.append(asyncio.create_task(job(index)))
        await asyncio.sleep(0)  # queue them in a known order
    await asyncio.sleep(0)
    assert order == [0, 1] and limiter.active == 2
    # Finish in reverse order; waiting callers must still start first-come, first-served.
    for index in (1, 0, 3, 2, 5, 4):
        gates[index].set()
        await asyncio.sleep(0.01)
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4, 5]
    assert peak == 2 == limiter.max_active_seen
    assert limiter.queued == 4 and limiter.granted == 6 and limiter.active == 0


async def test_sliding_window_makes_callers_wait_not_fail() -> None:
    clock = FakeClock(0.0)
    sleep = AdvancingSleep(clock)
    limiter = RateLimiter(3, 10.0, 10, clock=clock, sleep=sleep)
    starts: list[tuple[int, float]] = []

    async def job(index: int) -> None:
        async with limiter.slot():
            starts.append((index, clock.now))

    clock.now = 0.0
    await job(0)
    clock.now = 4.0
    await job(1)
    await job(2)
    await asyncio.gather(*(job(i) for i in (3, 4, 5)))
    assert [i for i, _ in starts] == [0, 1, 2, 3, 4, 5]
    # Job 3 waits for job 0's start to leave the window (t=10), jobs 4-5 for t=14.
    assert starts[3][1] == pytest.approx(10.0)
    assert starts[4][1] == pytest.approx(14.0) and starts[5][1] == pytest.approx(14.0)
    assert limiter.window_waits == sleep.waits
    assert sleep.waits == [pytest.approx(6.0), pytest.approx(4.0)]


async def test_cancelled_waiter_does_not_block_the_queue() -> None:
    limiter = RateLimiter(10, 1.0, 1)
    await limiter.acquire()
    waiter = asyncio.create_task(limiter.acquire())
    follower_done = asyncio.Event()

    async def follower() -> None:
        async with limiter.slot():
            follower_done.set()

    follow = asyncio.create_task(follower())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    limiter.release()
    await asyncio.wait_for(follow, 1.0)
    assert follower_done.is_set() and limiter.active == 0


def test_invalid_limits_rejected(settings: Settings) -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0, 1.0, 1)
    limiter = RateLimiter.from_settings(settings)
    assert limiter.max_requests == settings.rate_limit_requests
    assert limiter.max_concurrency == settings.max_concurrency


async def test_client_requests_go_through_the_limiter(
    make_client: ClientFactory, sim: SimServer
) -> None:
    limiter = RateLimiter(100, 60.0, 2)
    client = make_client(rate_limiter=limiter)
    assert client.rate_limiter is limiter
    results = await asyncio.gather(*(client.chat(chat_request(f"hi {i}")) for i in range(6)))
    streams = [
        [item async for item in client.stream_chat(chat_request("stream"))] for _ in range(2)
    ]
    assert all(r.complete for r in results) and all(len(s) > 1 for s in streams)
    assert limiter.granted == 8 and limiter.max_active_seen <= 2 and limiter.active == 0
