"""Budgets: reservation before sending, settlement after, refusal with a clear message, and
atomicity across threads, coroutines and processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.accounting.budget import BudgetManager
from devflow_tui.accounting.records import BudgetView, RequestOutcome, RequestStart
from devflow_tui.accounting.store import HOST, AnalyticsStore
from devflow_tui.config import BudgetSettings
from devflow_tui.errors import BudgetExceededError, ErrorCategory
from devflow_tui.openrouter.wire import KeyInfo
from tests.accounting.conftest import T0, FakeClock, record

D = Decimal
REPO = Path(__file__).resolve().parents[2]


def manager(
    store: AnalyticsStore, clock: FakeClock, env: str | None = None, **budget: object
) -> BudgetManager:
    return BudgetManager(
        store,
        BudgetSettings.model_validate(budget),
        D(env) if env is not None else None,
        clock,
    )


def finish(store: AnalyticsStore, request_id: str, cost: Decimal | None) -> None:
    store.finish_request(
        request_id,
        RequestOutcome(request_id=request_id, model="m/a", cost_usd=cost, cost_source="reported"),
    )


def test_no_budget_reserves_nothing(store: AnalyticsStore, clock: FakeClock) -> None:
    budget = manager(store, clock)
    assert not budget.active and budget.status() == []
    reservation = budget.reserve("r", None)
    assert not reservation.held
    budget.settle(reservation, D("5"))
    budget.release(reservation)
    assert budget.reserved() == 0


def test_refuses_when_reservation_would_exceed_limit(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    record(store, cost="0.30")
    budget = manager(store, clock, env="1.00")
    budget.reserve("a", D("0.40"))
    with pytest.raises(BudgetExceededError) as info:
        budget.reserve("b", D("0.40"))
    error = info.value
    assert error.category is ErrorCategory.BUDGET
    text = str(error)
    assert "total budget" in text and "spent $0.3" in text and "$0.4 reserved" in text
    assert "$1 limit" in text and "could cost up to $0.4" in text
    assert error.hint is not None and "max" in error.hint.lower()
    # Exactly up to the limit is allowed.
    budget.reserve("c", D("0.30"))
    assert budget.reserved() == D("0.70")


def test_settle_then_finish_counts_the_real_cost_once(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = manager(store, clock, limit_usd="1")
    request_id = store.begin_request(RequestStart(model="m/a"))
    reservation = budget.reserve(request_id, D("0.9"))
    budget.settle(reservation, D("0.1"))  # the request is still running: held at 0.1
    assert budget.reserved() == D("0.1") and store.spend_since(0) == 0
    finish(store, request_id, D("0.1"))  # now in the request row, reservation gone
    assert budget.reserved() == 0 and store.spend_since(0) == D("0.1")
    [view] = budget.status()
    assert view == BudgetView(name="total", limit_usd=D("1"), spent_usd=D("0.1"),
                              remaining_usd=D("0.9"))  # fmt: skip


def test_finish_without_settle_counts_the_cost_once(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = manager(store, clock, limit_usd="1")
    request_id = store.begin_request(RequestStart(model="m/a"))
    reservation = budget.reserve(request_id, D("0.5"))
    # Finishing the request gives back what it held, in the transaction that records its
    # cost: counted in the row, never in both, never in neither.
    finish(store, request_id, D("0.2"))
    assert budget.reserved() == 0 and store.spend_since(0) == D("0.2")
    budget.settle(reservation, D("0.2"))  # too late: nothing left to settle
    assert budget.reserved() == 0 and store.spend_since(0) == D("0.2")


def test_unknown_actual_keeps_worst_case_until_finish(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = manager(store, clock, limit_usd="1")
    request_id = store.begin_request(RequestStart(model="m/a"))
    reservation = budget.reserve(request_id, D("0.6"))
    budget.settle(reservation, None)
    assert budget.reserved() == D("0.6")


def test_release_gives_money_back(store: AnalyticsStore, clock: FakeClock) -> None:
    budget = manager(store, clock, limit_usd="1")
    reservation = budget.reserve("a", D("0.8"))
    budget.release(reservation)
    budget.reserve("b", D("0.8"))


def test_unknown_cost_refused_unless_allowed(store: AnalyticsStore, clock: FakeClock) -> None:
    budget = manager(store, clock, daily_usd="1")
    with pytest.raises(BudgetExceededError, match="cannot be estimated"):
        budget.reserve("a", None)
    lenient = BudgetManager(store, BudgetSettings(daily_usd=D("1")), None, clock,
                            allow_unknown_cost=True)  # fmt: skip
    assert lenient.reserve("a", None).held


def test_stale_reservations_expire(store: AnalyticsStore, clock: FakeClock) -> None:
    budget = manager(store, clock, limit_usd="1")
    budget.reserve("dead-process", D("0.9"))
    with pytest.raises(BudgetExceededError):
        budget.reserve("b", D("0.2"))
    clock.advance(601)
    budget.reserve("b", D("0.2"))
    assert budget.reserved() == D("0.2")


def test_env_limit_overrides_file_limit_for_the_period(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = manager(store, clock, env="2", limit_usd="5", period="monthly", daily_usd="3")
    assert {(b.name, b.limit_usd) for b in budget.budgets} == {("monthly", D("2")),
                                                                 ("daily", D("3"))}  # fmt: skip
    both_daily = manager(store, clock, limit_usd="5", period="daily", daily_usd="3")
    assert [(b.name, b.limit_usd) for b in both_daily.budgets] == [("daily", D("3"))]


def test_a_refusal_names_the_setting_that_sets_the_budget(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    """A session budget's refusal said "Raise the limit in the config file (or
    OPENROUTER_COST_BUDGET_USD)": that variable does not set it."""
    session = manager(store, clock, session_usd="0.001")
    with pytest.raises(BudgetExceededError) as info:
        session.reserve("a", D("0.01"))
    assert info.value.hint == (
        "Raise the limit (session_usd under [budget] in the config file), "
        "or lower the maximum output tokens."
    )
    from_env = manager(store, clock, env="0.001", limit_usd="5", period="monthly")
    assert from_env.setting("monthly") == "OPENROUTER_COST_BUDGET_USD (or cost_budget_usd)"
    tied = manager(store, clock, limit_usd="3", period="daily", daily_usd="3")
    assert tied.setting("daily") == (
        "limit_usd under [budget] in the config file and daily_usd under [budget] in the "
        "config file"
    )
    assert tied.setting("openrouter-key") == "the key's credit limit on openrouter.ai"


def test_period_starts_in_utc(store: AnalyticsStore, clock: FakeClock) -> None:
    budget = manager(store, clock)
    # T0 = Tuesday 2026-03-10 12:00 UTC
    assert budget.period_start("daily") == T0 - 12 * 3600
    assert budget.period_start("weekly") == T0 - 12 * 3600 - 86400  # Monday 00:00
    assert budget.period_start("monthly") == T0 - 12 * 3600 - 9 * 86400  # March 1st
    assert budget.period_start("total") == 0
    assert budget.period_start("session") == T0
    with pytest.raises(ValueError):
        budget.period_start("yearly")


def test_each_budget_counts_only_its_period(store: AnalyticsStore, clock: FakeClock) -> None:
    record(store, cost="0.5", ts=T0 - 10 * 86400)  # last month
    record(store, cost="0.3", ts=T0 - 86400)  # yesterday
    record(store, cost="0.1", ts=T0 - 3600)  # today, before the session
    budget = manager(
        store, clock, limit_usd="10", daily_usd="1", monthly_usd="2", session_usd="0.05"
    )
    clock.advance(60)
    record(store, cost="0.02", ts=clock.now)
    spent = {v.name: v.spent_usd for v in budget.status()}
    assert spent == {
        "total": D("0.92"),
        "daily": D("0.12"),
        "monthly": D("0.42"),
        "session": D("0.02"),
    }
    with pytest.raises(BudgetExceededError, match="session budget"):
        budget.reserve("x", D("0.04"))
    budget.reserve("y", D("0.03"))


def test_weekly_period(store: AnalyticsStore, clock: FakeClock) -> None:
    record(store, cost="0.5", ts=T0 - 2 * 86400)  # Sunday: last week
    record(store, cost="0.25", ts=T0 - 86400)  # Monday: this week
    budget = manager(store, clock, limit_usd="1", period="weekly")
    assert [v.spent_usd for v in budget.status()] == [D("0.25")]


def test_key_credit_limit_shown_beside_ours(store: AnalyticsStore, clock: FakeClock) -> None:
    budget = manager(store, clock, limit_usd="1")
    views = budget.status(KeyInfo(limit=D("20"), usage=D("7.5")))
    assert views[-1] == BudgetView(name="openrouter-key", limit_usd=D("20"), spent_usd=D("7.5"),
                                   remaining_usd=D("12.5"))  # fmt: skip
    views = budget.status(KeyInfo(limit=D("20"), usage=None, limit_remaining=D("3")))
    assert views[-1].remaining_usd == D("3") and views[-1].spent_usd == 0
    assert len(budget.status(KeyInfo(limit=None, usage=D("1")))) == 1


def test_alerts_fire_once_per_threshold_crossed(store: AnalyticsStore, clock: FakeClock) -> None:
    budget = manager(store, clock, limit_usd="1", daily_usd="10")
    before = budget.status()
    record(store, cost="0.85")
    after = budget.status()
    alerts = budget.alerts_crossed(before, after)
    assert [(a.budget, a.threshold) for a in alerts] == [("total", 0.5), ("total", 0.8)]
    assert alerts[1].message == "total budget at 80%: $0.85 of $1 spent."
    assert budget.alerts_crossed(after, after) == []
    record(store, cost="0.15")
    final = budget.alerts_crossed(after, budget.status())
    assert [(a.budget, a.threshold, a.spent_usd) for a in final] == [("total", 1.0, D("1.00"))]
    key_only = [BudgetView(name="openrouter-key", limit_usd=None, spent_usd=D(1),
                           remaining_usd=None)]  # fmt: skip
    assert budget.alerts_crossed([], key_only) == []


def test_alerts_of_a_request_are_those_its_own_cost_crossed(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    """The closing job reads the budgets once, after the request: what stood before it is
    that less its own cost (no read before it), so one crossing makes one alert."""
    budget = manager(store, clock, limit_usd="1")
    record(store, cost="0.45")
    after = budget.status()
    assert budget.alerts_crossed(budget.before_spending(after, D("0.45")), after) == []
    record(store, cost="0.05")
    after = budget.status()
    crossed = budget.alerts_crossed(budget.before_spending(after, D("0.05")), after)
    assert [(a.threshold, a.spent_usd) for a in crossed] == [(0.5, D("0.50"))]
    record(store, cost="0.01")
    after = budget.status()
    assert budget.alerts_crossed(budget.before_spending(after, D("0.01")), after) == []
    assert budget.alerts_crossed(budget.before_spending(after, None), after) == []
    key = [BudgetView(name="openrouter-key", limit_usd=D(1), spent_usd=D(1), remaining_usd=D(0))]
    assert budget.before_spending(key, D(1)) == []


def _reserve_and_spend(budget: BudgetManager, store: AnalyticsStore, amount: Decimal) -> bool:
    request_id = store.begin_request(RequestStart(model="m/a"))
    try:
        reservation = budget.reserve(request_id, amount)
    except BudgetExceededError:
        return False
    budget.settle(reservation, amount)
    finish(store, request_id, amount)
    return True


def test_200_concurrent_threads_never_exceed_the_limit(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = manager(store, clock, limit_usd="1.00")
    results: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(200)

    def worker() -> None:
        start.wait()
        ok = _reserve_and_spend(budget, store, D("0.03"))
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 200
    assert results.count(True) == 33  # floor(1.00 / 0.03)
    assert store.spend_since(0) == D("0.99") <= D("1.00")
    assert budget.reserved() == 0


async def test_250_concurrent_coroutines_never_exceed_the_limit(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = manager(store, clock, env="0.50")
    results = await asyncio.gather(
        *(asyncio.to_thread(_reserve_and_spend, budget, store, D("0.01")) for _ in range(250))
    )
    assert results.count(True) == 50
    assert store.spend_since(0) == D("0.50")


def _compete(tmp_path: Path, db: str, processes: int, *args: str) -> list[int]:
    """Start `processes` budget workers on `db` at once; how many reservations each got."""
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.accounting.budget_worker",
                db,
                *args[:3],
                str(go),
                *args[3:],
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    go.touch()
    granted = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    return granted


def test_two_processes_sharing_one_budget_never_exceed_it(tmp_path: Path, db_path: Path) -> None:
    AnalyticsStore(db_path).close()  # create and migrate once
    granted = _compete(tmp_path, str(db_path), 2, "0.50", "40", "0.01")
    assert sum(granted) == 50 and min(granted) > 0  # both competed, together exactly the limit
    with AnalyticsStore(db_path) as store:
        assert store.spend_since(0) == D("0.50")
        refused = [r for r in store.recent_requests(100) if r.status == "refused"]
        assert len(refused) == 30


def test_five_processes_on_postgresql_never_exceed_a_tiny_budget(
    tmp_path: Path, pg_url: str
) -> None:
    """Five processes (as five machines would) reserve against $0.05 on one PostgreSQL
    database, each holding its reservation a moment: exactly the limit is granted."""
    assert sum(_compete(tmp_path, pg_url, 5, "0.05", "8", "0.01", "0.002")) == 5
    with AnalyticsStore(tmp_path / "unused.db", url=pg_url) as store:
        assert store.spend_since(0) == D("0.05")
        rows = store.recent_requests(100)
        assert len(rows) == 40 and sum(r.status == "refused" for r in rows) == 35
        assert {r.host for r in rows} == {HOST}


def _foreign_reservation(store: AnalyticsStore, created: float, host: str, pid: int) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO budget_reservations (id, request_id, amount, created, state, pid, host) "
            "VALUES ('far', 'far-request', '0.40', ?, 'held', ?, ?)",
            (created, pid, host),
        )


def test_reservation_of_another_machine_ends_by_lease_expiry_not_by_its_pid(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    """A pid from another machine says nothing here (it may be a dead or unrelated local
    process): its reservation holds until its lease runs out."""
    dead_here = _dead_pid()
    _foreign_reservation(store, clock.now, "another-machine", dead_here)
    store.mark_stale_running_as_interrupted()
    budget = BudgetManager(store, BudgetSettings(limit_usd=D("0.50")), clock=clock,
                           reservation_ttl_s=600)  # fmt: skip
    assert budget.reserved() == D("0.40")
    with pytest.raises(BudgetExceededError):
        budget.reserve("mine", D("0.20"))
    clock.advance(601)  # the holder never renewed its lease: it crashed
    assert budget.reserve("mine", D("0.20")).held
    assert budget.reserved() == D("0.20")


def test_reservation_of_a_dead_process_of_this_machine_is_released_at_once(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    _foreign_reservation(store, clock.now, HOST, _dead_pid())
    store.mark_stale_running_as_interrupted()
    assert manager(store, clock, limit_usd="1").reserved() == 0


def test_progress_renews_the_lease_of_a_long_stream(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = BudgetManager(store, BudgetSettings(limit_usd=D("1")), clock=clock,
                           reservation_ttl_s=600)  # fmt: skip
    request_id = store.begin_request(RequestStart(model="m/a"))
    budget.reserve(request_id, D("0.70"))
    for _ in range(3):  # 15 minutes of streaming, progress every 5
        clock.advance(300)
        store.record_progress(request_id, completion_tokens=100)
    assert budget.reserved() == D("0.70")
    with pytest.raises(BudgetExceededError):
        budget.reserve("other", D("0.40"))
    clock.advance(601)  # no progress any more: the lease runs out
    assert budget.reserved() == 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_reservation_sent_with_the_running_row_is_answered_after_the_block(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    """`devflow serve` sends the reservation and the running row together (one round trip
    on PostgreSQL); the answer is read after the block, held or refused, and the row exists
    either way."""
    budget = manager(store, clock, limit_usd="0.10")
    with store.batched():
        answer = budget.reserve_sent("r1", D("0.08"))
        store.begin_request(RequestStart(request_id="r1", model="m/a"))
    held = answer()
    assert held.held and budget.reserved() == D("0.08")
    with store.batched():
        refused = budget.reserve_sent("r2", D("0.05"))
        store.begin_request(RequestStart(request_id="r2", model="m/a"))
    with pytest.raises(BudgetExceededError, match=r"\$0\.08 reserved"):
        refused()
    assert budget.reserved() == D("0.08")
    row = store.get_request("r2")
    assert row is not None and row.status == "running"
    budget.release(held)
    assert budget.reserved() == 0


def test_finishing_a_request_reads_the_budgets_as_it_leaves_them(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    """The closing job's budget status comes with the request's own transaction (no round
    trip of its own on PostgreSQL) and equals a status read afterwards."""
    budget = manager(store, clock, limit_usd="1", daily_usd="10")
    record(store, cost="0.25")
    request_id = store.begin_request(RequestStart(model="m/a"))
    spent = store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id, model="m/a", cost_usd=D("0.5"), cost_source="reported"
        ),
        spend_since=budget.period_starts(),
    )
    assert budget.views(spent) == budget.status()
    assert budget.views(spent)[0].spent_usd == D("0.75")
    assert store.finish_request(request_id, RequestOutcome(request_id=request_id)) == []
