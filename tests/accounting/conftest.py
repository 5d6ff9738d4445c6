"""Fixtures for the accounting tests: a store with an injected clock, on both backends.

A test that takes `store` (and not `db_path`, which means it looks at the SQLite file
itself) runs twice: on a SQLite file under tmp_path and on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.accounting.records import RequestOutcome, RequestStart
from devflow_tui.accounting.store import AnalyticsStore
from tests.pg_fixture import pg_cluster, pg_template, pg_url  # noqa: F401

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


BACKENDS = ("sqlite", "postgresql")
StoreFactory = Callable[..., AnalyticsStore]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = metafunc.fixturenames
    if "backend" in names and "db_path" not in names:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgresql" (SQLite for a test that reads the SQLite file itself)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def make_store(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[StoreFactory]:
    """Opens stores on this test's one database (SQLite file or PostgreSQL database)."""
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    opened: list[AnalyticsStore] = []

    def make(**kwargs: object) -> AnalyticsStore:
        kwargs.setdefault("clock", clock)
        s = AnalyticsStore(tmp_path / "home" / "devflow.db", url=url, **kwargs)  # type: ignore[arg-type]
        opened.append(s)
        return s

    try:
        yield make
    finally:
        for s in opened:
            s.close()


@pytest.fixture
def store(make_store: StoreFactory) -> AnalyticsStore:
    return make_store()


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
    client: str | None = None,
    member: str | None = None,
) -> str:
    """Begin and finish one request with the given numbers; returns its id."""
    request_id = store.begin_request(
        RequestStart(
            task_type=task,
            complexity=complexity,
            model=model,
            ts=ts,
            escalation_of=escalation_of,
            client=client,
            member=member,
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
