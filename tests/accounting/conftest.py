"""Fixtures for the accounting tests: a store under tmp_path with an injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.accounting.records import RequestOutcome, RequestStart
from devflow_tui.accounting.store import AnalyticsStore

# 2026-03-10 12:00:00 UTC: a Tuesday, mid-month, mid-day.
T0 = 1773144000.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "devflow.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[AnalyticsStore]:
    s = AnalyticsStore(db_path, clock=clock)
    try:
        yield s
    finally:
        s.close()


def record(
    store: AnalyticsStore,
    *,
    model: str | None = "m/cheap",
    task: str | None = "coding",
    complexity: str | None = "low",
    status: str = "ok",
    prompt: int = 100,
    completion: int = 50,
    reasoning: int = 0,
    cached: int = 0,
    cost: str | None = "0.001",
    source: str = "reported",
    latency: float | None = 1000.0,
    ttft: float | None = 200.0,
    tps: float | None = 50.0,
    cache_hit: bool = False,
    saved: str | None = None,
    ts: float | None = None,
    generation_id: str | None = None,
    escalation_of: str | None = None,
) -> str:
    """Begin and finish one request with the given numbers; returns its id."""
    request_id = store.begin_request(
        RequestStart(
            task_type=task, complexity=complexity, model=model, ts=ts, escalation_of=escalation_of
        )
    )
    store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id,
            model=model,
            task_type=task,
            complexity=complexity,
            status=status,
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning_tokens=reasoning,
            cached_tokens=cached,
            cost_usd=Decimal(cost) if cost is not None else None,
            cost_source=source,
            latency_ms=latency,
            ttft_ms=ttft,
            tokens_per_s=tps,
            cache_hit=cache_hit,
            complete=status == "ok",
            generation_id=generation_id,
        ),
        saved_usd=Decimal(saved) if saved is not None else None,
    )
    return request_id
