"""Retry policy: server-given waits, full-jitter backoff, the cap, what is never retried."""

from __future__ import annotations

import asyncio
import random

import pytest

from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.client import StreamDone
from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.sim import Fault, SimServer
from tests.openrouter.conftest import ClientFactory, FakeClock, RecordingSleep, chat_request


def chat_posts(sim: SimServer) -> int:
    return sum(1 for r in sim.requests if r.path == "/chat/completions")


async def test_retry_after_header_is_honoured(
    make_client: ClientFactory, sim: SimServer, sleeper: RecordingSleep
) -> None:
    client = make_client()
    sim.add_fault(Fault(kind="http_error", status=503, retry_after_s=7, times=1))
    result = await client.chat(chat_request())
    assert client.retry_waits == [7.0] == sleeper.waits
    assert [a.wait_before_s for a in result.attempts] == [0.0, 7.0]


async def test_x_ratelimit_reset_ms_is_honoured_with_injected_clock(
    make_client: ClientFactory, sim: SimServer
) -> None:
    clock = FakeClock(1_900_000_000.0)
    client = make_client(clock=clock)
    sim.add_fault(Fault(kind="rate_limit", reset_ms=int((clock.now + 12.25) * 1000), times=1))
    result = await client.chat(chat_request())
    assert client.retry_waits == [pytest.approx(12.25)]
    assert result.attempts[0].error == "rate_limit" and result.attempts[0].status == 429


async def test_upstream_retry_after_seconds_in_metadata(
    make_client: ClientFactory, sim: SimServer
) -> None:
    client = make_client()
    sim.add_fault(Fault(kind="rate_limit", upstream=True, times=1))  # metadata only, 16 s
    items = [item async for item in client.stream_chat(chat_request())]
    assert isinstance(items[-1], StreamDone)
    assert client.retry_waits == [16.0]


async def test_wait_longer_than_cap_fails_fast_saying_when(
    make_client: ClientFactory, sim: SimServer, sleeper: RecordingSleep
) -> None:
    client = make_client()  # max_retry_wait_s = 30
    sim.add_fault(Fault(kind="rate_limit", times=None))  # resets at next UTC midnight
    seen: list[AttemptRecord] = []
    with pytest.raises(OpenRouterError) as info:
        await client.chat(chat_request(), on_attempt=seen.append)
    error = info.value
    assert error.category is ErrorCategory.RATE_LIMIT and not error.retryable
    assert error.hint is not None and error.hint.startswith("Retry after ")
    assert "max_retry_wait_s=30" in error.message
    assert chat_posts(sim) == 1 and client.retry_waits == [] and sleeper.waits == []
    assert len(seen) == 1


async def test_backoff_is_full_jitter_from_the_injected_rng(
    make_client: ClientFactory, sim: SimServer
) -> None:
    client = make_client(rng=random.Random(7))
    sim.add_fault(Fault(kind="http_error", status=502, times=None))
    with pytest.raises(OpenRouterError):
        await client.chat(chat_request())
    reference = random.Random(7)
    expected = [reference.uniform(0, 0.5), reference.uniform(0, 1.0)]
    assert client.retry_waits == expected


async def test_backoff_never_exceeds_cap(
    make_client: ClientFactory, settings: Settings, sim: SimServer
) -> None:
    capped = settings.model_copy(
        update={"backoff_base_s": 10.0, "max_retry_wait_s": 1.0, "max_retries": 4}
    )
    client = make_client(capped)
    sim.add_fault(Fault(kind="http_error", status=500, times=None))
    with pytest.raises(OpenRouterError):
        await client.chat(chat_request())
    assert len(client.retry_waits) == 4
    assert all(0 <= w <= 1.0 for w in client.retry_waits)


@pytest.mark.parametrize("status", [400, 401, 402, 403])
async def test_never_retried(make_client: ClientFactory, sim: SimServer, status: int) -> None:
    client = make_client()
    sim.add_fault(Fault(kind="http_error", status=status, retry_after_s=1, times=None))
    with pytest.raises(OpenRouterError) as info:
        await client.chat(chat_request())
    assert not info.value.retryable
    assert chat_posts(sim) == 1 and client.retry_waits == []


async def test_zero_retries_setting(
    make_client: ClientFactory, settings: Settings, sim: SimServer
) -> None:
    client = make_client(settings.model_copy(update={"max_retries": 0}))
    sim.add_fault(Fault(kind="http_error", status=503, times=None))
    with pytest.raises(OpenRouterError):
        await client.chat(chat_request())
    assert chat_posts(sim) == 1


async def test_no_retry_once_the_total_timeout_ran_out(
    make_client: ClientFactory, settings: Settings, sim: SimServer
) -> None:
    """`timeout_ms` bounds the call, retries included, and the attempt records say which
    failure was followed by another attempt: the same rule decides both."""

    async def real_sleep(seconds: float) -> None:
        await asyncio.sleep(0.1)  # each backoff takes real time, so the deadline comes

    bounded = settings.model_copy(
        update={
            "timeout_ms": 250,
            "max_retries": 10,
            "backoff_base_s": 5.0,
            "max_retry_wait_s": 0.1,
        }
    )
    client = make_client(bounded, sleep=real_sleep, rng=random.Random(1))
    sim.add_fault(Fault(kind="http_error", status=503, times=None))
    seen: list[AttemptRecord] = []
    with pytest.raises(OpenRouterError):
        await client.chat(chat_request(), on_attempt=seen.append)
    assert 1 < chat_posts(sim) < 11  # stopped by the deadline, not by max_retries
    # The last backoff may end after the deadline: that attempt then fails at once, unsent.
    assert len(seen) - chat_posts(sim) in (0, 1)
    assert [a.retried for a in seen] == [True] * (len(seen) - 1) + [False]
