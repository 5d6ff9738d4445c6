"""PostgreSQL budget escrow (migration pg011): reservations take their money from escrow rows
without waiting for one another, and every budget stays exact at its edges: near the limit
(no false refusal while money remains), a crashed holder (its lease), a cost or a settlement
above what was reserved, another configuration of budgets, a member's changed budget."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.accounting.budget import BudgetManager
from devflow_tui.accounting.members import Members
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


def test_a_cost_above_its_reservation_empties_the_escrow(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    """A fallback to a dearer model, say: the money the rows held is no longer there."""
    budget = team(pg_store, clock, "100")
    pg_store.begin_request(RequestStart(request_id="dear", model="m/a"))
    budget.reserve("dear", D("0.01"))
    assert escrow(pg_store) == D("99.99")
    _finish(pg_store, "dear", "99")
    assert escrow(pg_store) == 0
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


def test_a_settlement_above_its_reservation_empties_the_escrow(
    pg_store: AnalyticsStore, clock: FakeClock
) -> None:
    budget = team(pg_store, clock, "1.00")
    pg_store.begin_request(RequestStart(request_id="long", model="m/a"))
    held = budget.reserve("long", D("0.01"))  # the rows get 0.99 / 16 each
    budget.settle(held, D("0.95"))  # still running: its reservation now holds 0.95
    assert escrow(pg_store) == 0
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
