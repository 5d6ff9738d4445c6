"""PostgreSQL budget escrow (migration pg011): reservations take their money from escrow rows
without waiting for one another, and every budget stays exact at its edges: near the limit
(no false refusal while money remains), a crashed holder (its lease), a cost or a settlement
above what was reserved, another configuration of budgets, a member's changed budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from devflow_tui.accounting.budget import BudgetManager
from devflow_tui.accounting.members import Members
from devflow_tui.accounting.migrations_pg import ESCROW_LOCK
from devflow_tui.accounting.records import RequestOutcome, RequestStart
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import BudgetSettings
from devflow_tui.errors import BudgetExceededError
from tests.accounting.conftest import FakeClock

D = Decimal


@pytest.fixture
def pg_store(pg_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[AnalyticsStore]:
    with AnalyticsStore(tmp_path / "unused.db", url=pg_url, clock=clock) as store:
        yield store


def team(store: AnalyticsStore, clock: FakeClock, limit: str, **kwargs: object) -> BudgetManager:
    return BudgetManager(
        store,
        BudgetSettings(limit_usd=D(limit)),
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def escrow(store: AnalyticsStore, scope: str = "") -> Decimal:
    """Money the escrow rows of `scope` hold (the team's: '')."""
    return Decimal(
        store.fetch_row(
            "SELECT coalesce(sum(allowance), 0) FROM budget_escrow WHERE scope = ?", (scope,)
        )[0]
    )


def refused(budget: BudgetManager, amount: str, member: str | None = None) -> bool:
    try:
        budget.reserve("probe", D(amount), member)
    except BudgetExceededError:
        return True
    raise AssertionError(f"{amount} was granted")


def test_reservations_take_from_the_escrow_and_none_is_refused_while_money_remains(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = team(pg_store, clock, "10.00")
    first = budget.reserve("r1", D("0.10"))  # checks the budget, hands out what is left
    assert escrow(pg_store) == D("9.90")
    second = budget.reserve("r2", D("0.25"))
    budget.reserve("r3", D("0.25"))
    assert escrow(pg_store) == D("9.40")  # taken from the rows, the budget not read again
    budget.release(second)  # given back: counted at the next refill, not in the rows now
    assert escrow(pg_store) == D("9.40") and budget.reserved() == D("0.35")
    # No row holds 9.65: the exact check runs, and grants exactly what is left.
    assert budget.reserve("r4", D("9.60")).held
    assert refused(budget, "0.06")
    assert budget.reserve("r5", D("0.05")).held
    assert refused(budget, "0.000001")
    budget.release(first)
    assert budget.reserve("r6", D("0.10")).held


def test_a_crashed_holder_s_money_comes_back_when_its_lease_runs_out(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = team(pg_store, clock, "1.00", reservation_ttl_s=600)
    budget.reserve("crashed", D("0.60"))  # its holder dies: never released nor renewed
    clock.advance(300)
    assert budget.reserve("mine", D("0.30")).held
    assert refused(budget, "0.20")
    clock.advance(301)  # the crashed holder's lease has run out, not mine
    assert budget.reserve("next", D("0.60")).held
    assert budget.reserved() == D("0.90")
    assert pg_store.fetch_row(
        "SELECT count(*) FROM budget_reservations WHERE request_id = 'crashed'"
    ) == (0,)


def _finish(store: AnalyticsStore, request_id: str, cost: str) -> None:
    store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id, model="m/a", cost_usd=D(cost), cost_source="reported"
        ),
    )


def test_a_cost_above_its_reservation_is_taken_out_of_the_escrow(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    """A fallback to a dearer model, say: the money above the reservation is taken out of
    the rows, which keep exactly what the budget has left (no refill needed)."""
    budget = team(pg_store, clock, "100")
    pg_store.begin_request(RequestStart(request_id="dear", model="m/a"))
    budget.reserve("dear", D("0.01"))
    assert escrow(pg_store) == D("99.99")
    _finish(pg_store, "dear", "99")
    assert escrow(pg_store) == D("1.00")
    assert refused(budget, "1.01")
    assert budget.reserve("next", D("1.00")).held


def test_a_cost_within_its_reservation_leaves_the_escrow(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = team(pg_store, clock, "100")
    pg_store.begin_request(RequestStart(request_id="cheap", model="m/a"))
    budget.reserve("cheap", D("2"))
    _finish(pg_store, "cheap", "1.5")
    assert escrow(pg_store) == D("98")


def test_a_settlement_above_its_reservation_is_taken_out_of_the_escrow(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = team(pg_store, clock, "1.00")
    pg_store.begin_request(RequestStart(request_id="long", model="m/a"))
    held = budget.reserve("long", D("0.01"))  # the rows get 0.99 / 16 each
    budget.settle(held, D("0.95"))  # still running: its reservation now holds 0.95
    assert escrow(pg_store) == D("0.05")
    assert refused(budget, "0.06")  # a row still holding 0.061875 would have granted it
    assert budget.reserve("next", D("0.05")).held


def test_another_configuration_of_budgets_drops_the_rows_that_would_miss_its_money(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    """Two processes with different budgets on one database: each reservation counts in
    both budgets' spend, so neither's rows may hand out money the other has taken."""
    small, large = team(pg_store, clock, "1.00"), team(pg_store, clock, "10.00")
    small.reserve("s1", D("0.10"))
    large.reserve("l1", D("0.85"))
    assert refused(small, "0.10")
    assert small.reserve("s2", D("0.05")).held


def test_a_configuration_with_fewer_budgets_does_not_take_from_the_rows_of_more(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    """Reservations of a process with only the total budget count in the daily budget of
    another; taken from the total's rows alone they would leave the daily's rows too full."""
    both = BudgetManager(
        pg_store, BudgetSettings(limit_usd=D("1.00"), daily_usd=D("0.50")), clock=clock
    )
    total_only = team(pg_store, clock, "1.00")
    both.reserve("b0", D("0.01"))
    for i in range(6):
        total_only.reserve(f"t{i}", D("0.05"))
    granted = 0
    while True:
        try:
            both.reserve(f"b{granted + 1}", D("0.03"))
        except BudgetExceededError:
            break
        granted += 1
    assert granted == 6  # 0.01 + 0.30 + 6 x 0.03 = 0.49 of the daily 0.50
    assert both.reserved() == D("0.49")


def test_the_client_side_transaction_empties_the_escrow(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    server = team(pg_store, clock, "1.00")
    client = team(pg_store, clock, "1.00", reserve_in_server=False)
    server.reserve("s1", D("0.10"))
    client.reserve("c1", D("0.85"))
    assert escrow(pg_store) == 0
    assert refused(server, "0.10")
    assert server.reserve("s2", D("0.05")).held


def test_a_member_s_changed_budget_is_a_new_key(pg_store: AnalyticsStore, clock: FakeClock) -> None:
    members = Members(pg_store)
    members.add("ada", D("1.00"))
    members.add("bob", D("1.00"))
    budget = team(pg_store, clock, "100")
    budget.reserve("a1", D("0.40"), "ada")
    assert escrow(pg_store, "ada") == D("0.60")
    budget.reserve("a2", D("0.40"), "ada")
    assert refused(budget, "0.30", "ada")
    assert budget.reserve("b1", D("0.90"), "bob").held  # bob's budget is his own
    members.set_budget("ada", D("0.50"))
    assert refused(budget, "0.01", "ada")  # 0.80 already held of 0.50
    members.set_budget("ada", D("2.00"))
    assert budget.reserve("a3", D("1.20"), "ada").held
    assert refused(budget, "0.000001", "ada")
    members.set_budget("ada", None)  # no budget of her own any more: the team's only
    assert budget.reserve("a4", D("5"), "ada").held
    assert escrow(pg_store, "ada") == 0


def test_threads_reserving_for_members_never_exceed_any_budget(pg_url: str, tmp_path: Path) -> None:
    """Reservations of two members and of no member, from threads with a connection each,
    through the escrow rows and the exact check as they run out: neither member's budget nor
    the team's is ever exceeded."""
    with AnalyticsStore(tmp_path / "unused.db", url=pg_url) as store:
        Members(store).add("ada", D("0.30"))
        Members(store).add("bob", D("0.40"))
    granted: list[tuple[str | None, Decimal]] = []

    def worker(n: int) -> None:
        with AnalyticsStore(tmp_path / "unused.db", url=pg_url) as store:
            budget = BudgetManager(store, BudgetSettings(limit_usd=D("1.00")))
            for i in range(15):
                member = (None, "ada", "bob")[(n + i) % 3]
                request_id = f"w{n}-{i}"
                store.begin_request(RequestStart(request_id=request_id, model="m/a", member=member))
                try:
                    budget.reserve(request_id, D("0.02"), member)
                except BudgetExceededError:
                    continue
                _finish(store, request_id, "0.02")
                granted.append((member, D("0.02")))  # list.append is atomic

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent = {m: sum((c for who, c in granted if who == m), D(0)) for m in (None, "ada", "bob")}
    assert spent["ada"] <= D("0.30") and spent["bob"] <= D("0.40")
    assert sum(spent.values()) <= D("1.00")
    with AnalyticsStore(tmp_path / "unused.db", url=pg_url) as store:
        assert store.spend_since(0) == sum(spent.values())  # every granted cost counted once


# ------------------------------------------------------------------ concurrency
# Two or three connections interleaved deterministically: one holds a lock, the others are
# started in threads and waited for until PostgreSQL shows them waiting (pg_locks), then the
# lock is let go. The waits are conditions with a generous bound, never a measure of time.


def _waiting(conn: psycopg.Connection[tuple[object, ...]], locktype: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = %s", (locktype,)
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


class _Run(threading.Thread):
    """A call in a thread of its own, keeping its result or its error."""

    def __init__(self, call: Callable[[], object]) -> None:
        super().__init__(daemon=True)
        self.call = call
        self.result: object = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.call()
        except BaseException as exc:  # reported by the test
            self.error = exc


@pytest.fixture
def other_store(pg_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[AnalyticsStore]:
    """A second process's store (its own connection) on the same database."""
    with AnalyticsStore(tmp_path / "other.db", url=pg_url, clock=clock) as store:
        yield store


@pytest.fixture
def admin(pg_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def test_a_member_limit_lowered_while_a_reservation_waits_is_not_overshot(
    pg_store: AnalyticsStore,
    other_store: AnalyticsStore,
    admin: psycopg.Connection[tuple[object, ...]],
    clock: FakeClock,
    pg_url: str,
    tmp_path: Path,
) -> None:
    """A reservation read ada's limit, then waited for the escrow lock; meanwhile the limit
    is lowered. Either the change waits for that reservation (decided wholly before it), or
    the reservation sees the new limit: never granted against the old one after the change
    returned (the escrow's first version: 0.60 held against 0.20)."""
    Members(pg_store).add("ada", D("1.00"))
    team(pg_store, clock, "100").reserve("a1", D("0.10"), "ada")
    holder = psycopg.connect(pg_url, autocommit=True)
    holder.execute("BEGIN")
    holder.execute("SELECT pg_advisory_xact_lock(%s)", (ESCROW_LOCK,))
    reserving = _Run(lambda: team(other_store, clock, "100").reserve("a2", D("0.50"), "ada"))
    reserving.start()
    _until(lambda: _waiting(admin, "advisory") == 1, "the reservation waits for the lock")
    with AnalyticsStore(tmp_path / "admin.db", url=pg_url, clock=clock) as admin_store:
        lowering = _Run(lambda: Members(admin_store).set_budget("ada", D("0.20")))
        lowering.start()
        _until(
            lambda: not lowering.is_alive() or _waiting(admin, "advisory") == 2,
            "the change is done or waits for the lock",
        )
        changed_first = not lowering.is_alive()
        holder.execute("COMMIT")
        holder.close()
        reserving.join(30)
        lowering.join(30)
    assert lowering.error is None
    granted = reserving.error is None
    assert not (granted and changed_first), "granted against the old limit after the change"
    # From now on the new limit holds exactly: what it leaves is granted, not a cent more.
    held = D(pg_store.fetch_row("SELECT sum(amount) FROM budget_reservations")[0])
    budget = team(pg_store, clock, "100")
    left = max(D("0.20") - held, D(0))
    assert left == 0 or budget.reserve("a3", left, "ada").held
    assert refused(budget, "0.01", "ada")


@pytest.mark.parametrize("in_server", [True, False], ids=["server", "client"])
def test_settling_an_expired_lease_while_the_slow_path_runs_does_not_deadlock(
    in_server: bool,
    pg_store: AnalyticsStore,
    other_store: AnalyticsStore,
    admin: psycopg.Connection[tuple[object, ...]],
    clock: FakeClock,
    pg_url: str,
) -> None:
    """A live holder whose lease ran out (a long answer) settles above its amount (its row
    locked, its trigger waiting for the shared lock) while a reservation's slow path, holding
    the exclusive lock, deletes expired leases: the escrow's first version waited on that row
    (deadlock)."""
    pg_store.begin_request(RequestStart(request_id="long", model="m/a"))
    long = team(pg_store, clock, "1.00").reserve("long", D("0.05"))
    clock.advance(601)
    with pg_store.transaction() as conn:  # the next reservation takes the slow path
        conn.execute("DELETE FROM budget_escrow")
    reader = psycopg.connect(pg_url, autocommit=True)
    reader.execute("BEGIN")
    reader.execute("SELECT pg_advisory_xact_lock_shared(%s)", (ESCROW_LOCK,))
    reserving = _Run(
        lambda: team(other_store, clock, "1.00", reserve_in_server=in_server).reserve(
            "next", D("0.10")
        )
    )
    reserving.start()
    _until(lambda: _waiting(admin, "advisory") == 1, "the slow path waits for the lock")
    settling = _Run(lambda: team(pg_store, clock, "1.00").settle(long, D("0.09")))
    settling.start()
    _until(lambda: _waiting(admin, "advisory") == 2, "the settlement waits for the lock")
    reader.execute("COMMIT")
    reader.close()
    reserving.join(30)
    settling.join(30)
    assert reserving.error is None and settling.error is None
    # The settled lease was locked, so kept and counted: 0.09 + 0.10 held.
    assert pg_store.fetch_row("SELECT sum(amount) FROM budget_reservations") == (D("0.19"),)


@pytest.mark.parametrize("in_server", [True, False], ids=["server", "client"])
def test_a_lease_renewed_as_it_expires_stays_counted(
    in_server: bool,
    pg_store: AnalyticsStore,
    other_store: AnalyticsStore,
    admin: psycopg.Connection[tuple[object, ...]],
    clock: FakeClock,
) -> None:
    """The holder of an expired lease renews it (a stream's progress) while the slow path
    deletes expired leases: the escrow's first version summed the live ones first, left the
    renewed one out, and handed its money out again (1.20 held of 1.00)."""
    pg_store.begin_request(RequestStart(request_id="stream", model="m/a"))
    budget = team(pg_store, clock, "1.00")
    budget.reserve("stream", D("0.60"))
    clock.advance(601)  # expired, but its holder is alive and renewing it now
    with pg_store.transaction():
        pg_store.record_progress("stream", completion_tokens=10)
        reserving = _Run(
            lambda: team(other_store, clock, "1.00", reserve_in_server=in_server).reserve(
                "next", D("0.60")
            )
        )
        reserving.start()
        _until(
            lambda: not reserving.is_alive() or _waiting(admin, "transactionid") == 1,
            "the reservation is decided or waits for the renewed row",
        )
    reserving.join(30)
    assert isinstance(reserving.error, BudgetExceededError)
    assert budget.reserved() == D("0.60")


def test_the_requests_trigger_runs_only_for_rows_whose_cost_counts(pg_url: str) -> None:
    """`begin_request`'s running rows (and a bulk load of them) never run the trigger."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET track_functions = 'pl'")
        conn.execute("BEGIN")
        conn.execute("INSERT INTO requests (id, ts, status) VALUES ('r', 0, 'running')")

        def calls() -> object:
            row = conn.execute(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
                "WHERE funcname = 'devflow_escrow_on_cost'"
            ).fetchone()
            return None if row is None else row[0]

        assert calls() == 0
        conn.execute("UPDATE requests SET status = 'ok', cost_usd = 0.01 WHERE id = 'r'")
        assert calls() == 1
        conn.execute("ROLLBACK")


def test_money_no_reservation_took_is_taken_only_from_the_budgets_that_count_it(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    members = Members(pg_store)
    members.add("ada", D("1.00"))
    members.add("bob", D("1.00"))
    budget = team(pg_store, clock, "100")
    budget.reserve("a1", D("0.10"), "ada")
    budget.reserve("b1", D("0.10"), "bob")
    pg_store.begin_request(RequestStart(request_id="free", model="m/a", member="ada"))
    _finish(pg_store, "free", "0.05")  # no reservation behind it
    assert escrow(pg_store) == D("99.75") and escrow(pg_store, "ada") == D("0.85")
    assert escrow(pg_store, "bob") == D("0.90")  # bob's budget does not count ada's money
    budget.reserve("a2", D("0.85"), "ada")  # exactly what ada has left
    assert refused(budget, "0.000001", "ada")


def test_one_limit_written_two_ways_is_one_key(pg_store: AnalyticsStore, clock: FakeClock) -> None:
    team(pg_store, clock, "10").reserve("r1", D("0.10"))
    team(pg_store, clock, "10.00").reserve("r2", D("0.10"))  # from the rows: no refill
    rows = pg_store.fetch_row(
        "SELECT count(DISTINCT key), count(DISTINCT allowance) FROM budget_escrow"
    )
    assert rows == (1, 2)  # one row gave 0.10, the others as the first refill left them
