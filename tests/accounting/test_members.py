"""Team members: tokens kept only as hashes, monthly budgets beside the team's, spend per
member in reports. On both backends (see conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from devflow_tui.accounting.budget import BudgetManager
from devflow_tui.accounting.members import TOKEN_PREFIX, Members, hash_token
from devflow_tui.accounting.records import RequestOutcome, RequestStart
from devflow_tui.accounting.reports import build_report, report_to_csv
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import BudgetSettings
from devflow_tui.errors import BudgetExceededError, ConfigError
from tests.accounting.conftest import T0, FakeClock, StoreFactory

D = Decimal


def spend(
    store: AnalyticsStore,
    budget: BudgetManager,
    member: str | None,
    cost: str,
    worst: str | None = None,
) -> str:
    """Reserve `worst` (default: the cost) for a member's request, then finish it at `cost`."""
    request_id = store.begin_request(RequestStart(model="m/a", client="claude-code", member=member))
    reservation = budget.reserve(request_id, D(worst or cost), member)
    budget.settle(reservation, D(cost))
    store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id, model="m/a", cost_usd=D(cost), cost_source="reported"
        ),
    )
    return request_id


def test_add_list_rotate_remove(store: AnalyticsStore, clock: FakeClock) -> None:
    members = Members(store, clock)
    ada = members.add("ada", D("25"))
    bob = members.add("bob")
    assert ada.startswith(TOKEN_PREFIX) and ada != bob
    assert [(m.name, m.budget_monthly_usd) for m in members.list()] == [
        ("ada", D("25")),
        ("bob", None),
    ]
    assert members.authenticate(ada) == "ada" and members.authenticate(bob) == "bob"
    assert members.authenticate(TOKEN_PREFIX + "forged") is None
    assert members.authenticate("dfp-a-proxy-token") is None
    clock.advance(60)
    new = members.rotate_token("ada")
    assert members.authenticate(ada) is None and members.authenticate(new) == "ada"
    assert members.list()[0].rotated == clock.now
    members.set_budget("bob", D("5"))
    members.set_budget("ada", None)
    assert [m.budget_monthly_usd for m in members.list()] == [None, D("5")]
    members.remove("bob")
    assert members.authenticate(bob) is None and [m.name for m in members.list()] == ["ada"]


def test_only_the_hash_of_a_token_is_stored(store: AnalyticsStore) -> None:
    token = Members(store).add("ada")
    with store.reading() as conn:
        rows = conn.execute("SELECT * FROM members").fetchall()
    assert token not in repr(rows) and hash_token(token) in repr(rows)


def test_bad_names_budgets_and_unknown_members_are_clear_errors(store: AnalyticsStore) -> None:
    members = Members(store)
    members.add("ada")
    with pytest.raises(ConfigError, match="already a member called ada"):
        members.add("ada")
    for bad in ("", "Ada Lovelace", "x" * 41, "semi;colon"):
        with pytest.raises(ConfigError, match="not a usable member name"):
            members.add(bad)
    for budget in (D("-1"), D("NaN"), D("Infinity")):
        with pytest.raises(ConfigError, match="monthly budget"):
            members.add("bob", budget)
    for action in (members.rotate_token, members.remove):
        with pytest.raises(ConfigError, match="no member called zed"):
            action("zed")
    with pytest.raises(ConfigError, match="no member called zed"):
        members.set_budget("zed", D(1))


def test_member_budget_and_team_budget_both_apply(store: AnalyticsStore, clock: FakeClock) -> None:
    members = Members(store, clock)
    members.add("ada", D("0.10"))
    members.add("bob")  # no budget of their own: only the team's
    budget = BudgetManager(store, BudgetSettings(monthly_usd=D("0.25")), clock=clock)
    spend(store, budget, "ada", "0.06")
    with pytest.raises(BudgetExceededError, match="ada's monthly budget") as info:
        spend(store, budget, "ada", "0.05")
    assert "spent $0.06" in str(info.value) and "team budget ada" in str(info.value.hint)
    spend(store, budget, "ada", "0.04")  # fits exactly
    spend(store, budget, "bob", "0.15")  # the team is now at 0.25
    with pytest.raises(BudgetExceededError, match="monthly budget: spent"):
        spend(store, budget, "bob", "0.01")
    assert store.member_spend_since("ada", 0) == D("0.10")
    assert store.member_spend_since("bob", 0) == D("0.15")


def test_member_reservations_count_until_settled(store: AnalyticsStore, clock: FakeClock) -> None:
    Members(store, clock).add("ada", D("1"))
    budget = BudgetManager(store, BudgetSettings(), clock=clock)
    assert not budget.active  # no team budget: the member's alone
    held = budget.reserve("r1", D("0.70"), "ada")
    assert held.held
    with pytest.raises(BudgetExceededError, match="reserved by running requests"):
        budget.reserve("r2", D("0.40"), "ada")
    budget.release(held)
    assert budget.reserve("r2", D("0.40"), "ada").held
    assert not budget.reserve("r3", D("5"), "nobody").held  # unknown member: no limit
    assert not budget.reserve("r4", D("5"), None).held
    # An unpriced request could spend anything: refused against ada's budget.
    with pytest.raises(BudgetExceededError, match="ada's monthly budget"):
        budget.reserve("r5", None, "ada")


def test_month_boundary_resets_a_member_budget(store: AnalyticsStore, clock: FakeClock) -> None:
    Members(store, clock).add("ada", D("0.10"))
    budget = BudgetManager(store, BudgetSettings(), clock=clock)
    spend(store, budget, "ada", "0.10")
    with pytest.raises(BudgetExceededError):
        spend(store, budget, "ada", "0.01")
    clock.advance(31 * 86_400)  # March 10 -> April 10
    spend(store, budget, "ada", "0.01")
    assert Members(store, clock).list()[0].spent_this_month_usd == D("0.01")


def test_remaining_budget_and_whether_there_are_members(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    members = Members(store, clock)
    assert not members.exist()
    members.add("ada", D("0.10"))
    members.add("bob", D("0.01"))
    members.add("cy")
    assert members.exist()
    budget = BudgetManager(store, BudgetSettings(), clock=clock)
    spend(store, budget, "ada", "0.04")
    spend(store, budget, "bob", "0.01")
    members.set_budget("bob", D("0.005"))  # lowered below what bob spent: nothing left
    remaining = {m.name: m.remaining_usd for m in members.list()}
    assert remaining == {"ada": D("0.06"), "bob": D("0"), "cy": None}
    for name in ("ada", "bob", "cy"):
        members.remove(name)
    assert not members.exist()


def test_report_by_member(store: AnalyticsStore, clock: FakeClock) -> None:
    members = Members(store, clock)
    members.add("ada")
    members.add("bob")
    budget = BudgetManager(store, BudgetSettings(), clock=clock)
    for member, cost in (("ada", "0.02"), ("ada", "0.03"), ("bob", "0.5"), (None, "0.001")):
        spend(store, budget, member, cost)
    report = build_report(store, since="24h", by="member", now=T0 + 1)
    assert [(g.key, g.requests, g.cost_usd) for g in report.by_member] == [
        ("bob", 1, D("0.5")),
        ("ada", 2, D("0.05")),
        ("(no member)", 1, D("0.001")),
    ]
    assert sum((g.cost_usd or D(0) for g in report.by_member), D(0)) == report.totals.cost_usd
    csv = report_to_csv(report, "member").splitlines()
    assert csv[0].startswith("member,") and csv[1].startswith("bob,1,")


def _until(condition: Callable[[], bool], tries: int = 500) -> bool:
    """Wait (a little at a time) for `condition`, for a notification on its way."""
    for _ in range(tries):
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_serving_instance_remembers_tokens_but_forgets_them_when_told(
    make_store: StoreFactory, backend: str, clock: FakeClock
) -> None:
    """`devflow serve` caches member tokens on PostgreSQL (a lookup is a round trip there);
    a rotation or removal by another instance is announced and forgotten at once. SQLite
    looks every token up (no round trip to save)."""
    serving = Members(make_store(), clock, cache_ttl_s=5.0)
    admin = Members(make_store(), clock)
    ada, bob, cy = admin.add("ada"), admin.add("bob"), admin.add("cy")
    assert serving.authenticate(cy) == "cy"
    # A change nobody announced (the row deleted by hand) is trusted for the cache's TTL.
    with make_store().transaction() as conn:
        conn.execute("DELETE FROM members WHERE name = 'cy'")
    assert serving.authenticate(cy) == ("cy" if backend == "postgresql" else None)
    clock.advance(5.1)
    assert serving.authenticate(cy) is None
    # Rotations and removals are announced: forgotten as soon as the news arrives.
    assert serving.authenticate(ada) == "ada" and serving.authenticate(bob) == "bob"
    new = admin.rotate_token("ada")
    assert _until(lambda: serving.authenticate(ada) is None)
    assert serving.authenticate(new) == "ada"
    admin.remove("bob")
    assert _until(lambda: serving.authenticate(bob) is None)


def test_a_lost_listening_connection_turns_the_cache_off(
    make_store: StoreFactory, pg_url: str, clock: FakeClock
) -> None:
    store = AnalyticsStore(Path("unused.db"), url=pg_url, clock=clock)
    try:
        serving = Members(store, clock, cache_ttl_s=60.0)
        ada = serving.add("ada")
        assert serving.authenticate(ada) == "ada"
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%%' AND datname = current_database()"
            )
            admin.execute("DELETE FROM members")  # unannounced, and nobody listens any more
        assert _until(lambda: serving.authenticate(ada) is None)
    finally:
        store.close()


def test_member_month_is_read_from_the_rollups_across_days(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    """A member's month: whole UTC days from the per-member rollups, a partial first day from
    the rows; last month's spend never counts. The reservation (in the server on PostgreSQL)
    and the spend shown agree, to the cent."""
    members = Members(store, clock)
    members.add("ada")
    budget = BudgetManager(store, BudgetSettings(), clock=clock)
    month = 1772323200.0  # 2026-03-01 00:00 UTC
    clock.now = month - 2 * 3600
    spend(store, budget, "ada", "0.50")  # February: not this month's
    members.set_budget("ada", D("0.05"))
    for day in range(4):
        clock.now = month + day * 86_400 + 1800
        spend(store, budget, "ada", "0.01")
    assert store.member_spend_since("ada", month) == D("0.04")
    assert store.member_spend_since("ada", month + 86_400 + 900) == D("0.03")  # a partial day
    assert store.member_spend_since("ada", month + 86_400 + 3600) == D("0.02")
    spend(store, budget, "ada", "0.01")  # fits exactly: 0.05
    with pytest.raises(BudgetExceededError, match=r"spent \$0\.05"):
        spend(store, budget, "ada", "0.01")
    # The whole days are the rollups' figures: a (hand-made) change there is what counts.
    with store.transaction() as conn:
        conn.execute(
            "UPDATE rollup_party SET cost_reported = dec_add(cost_reported, '-0.02') "
            "WHERE member = 'ada' AND day = ?",
            (24 * 10_000_000 + int(month // 86_400),),
        )
    assert store.member_spend_since("ada", month) == D("0.03")
    spend(store, budget, "ada", "0.02")


def test_a_members_month_is_read_through_its_index(store: AnalyticsStore) -> None:
    # Budget checks read rollup_party by member and day (on PostgreSQL under the budget
    # lock); the table's key starts with the day, so only this index avoids a scan.
    query = "SELECT * FROM rollup_party WHERE member = 'ada' AND day >= 1 AND day <= 40"
    with store.reading() as conn:
        if store.backend == "sqlite":
            plan = " ".join(str(row) for row in conn.execute(f"EXPLAIN QUERY PLAN {query}"))
        else:  # a tiny table is scanned whatever the indexes: ask what could be used
            conn.execute("SET LOCAL enable_seqscan = off")
            plan = " ".join(str(row) for row in conn.execute(f"EXPLAIN {query}"))
    assert "idx_rollup_party_member" in plan
