"""QA fixes in reports: unknown cost stays unknown, unsent errors cost $0, honest advice,
per-day percentiles, and tokens/s as total tokens over total generation time."""

from __future__ import annotations

import csv
import io
import math
import random
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils

from devflow_tui.accounting import migrations, rollup
from devflow_tui.accounting.reports import build_report, report_to_csv
from devflow_tui.accounting.store import AnalyticsStore
from tests.accounting.conftest import T0, FakeClock, record

D = Decimal
PRICED = {"m/a": {"prompt": D("0.000001"), "completion": D("0.000002")}}


def test_group_whose_requests_all_have_unknown_cost_reads_unknown(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    record(store, model="m/mystery", cost=None)
    record(store, model="m/mystery", cost=None)
    record(store, model="m/mystery", cache_hit=True, cost=None, saved="0.01")  # cost nothing
    record(store, model="m/mixed", cost="0.003")
    record(store, model="m/mixed", cost=None)
    report = build_report(store, since="24h", now=clock.now)
    groups = {g.key: g for g in report.by_model}
    assert groups["m/mystery"].cost_usd is None
    assert groups["m/mystery"].unknown_cost_requests == 2
    # A mixed group keeps the sum of its known costs, with the unknown ones counted beside it.
    assert groups["m/mixed"].cost_usd == D("0.003")
    assert groups["m/mixed"].unknown_cost_requests == 1
    assert report.totals.cost_usd == D("0.003") and report.totals.unknown_cost_requests == 3
    assert report.model_dump(mode="json")["by_model"][1]["cost_usd"] is None
    rows = {r["model"]: r for r in csv.DictReader(io.StringIO(report_to_csv(report)))}
    assert rows["m/mystery"]["cost_usd"] == "unknown"
    assert rows["m/mixed"]["cost_usd"] == "0.003" and rows["total"]["cost_usd"] == "0.003"
    day = list(csv.DictReader(io.StringIO(report_to_csv(report, "day"))))
    assert day[0]["cost_usd"] == "0.003"


def test_error_never_sent_costs_a_known_zero(store: AnalyticsStore, clock: FakeClock) -> None:
    unsent = record(
        store, model="m/a", status="error", prompt=0, completion=0, cost=None, latency=None
    )
    report = build_report(store, since="24h", prices=PRICED, now=clock.now)
    row = store.get_request(unsent)
    assert row is not None and row.cost_usd == D(0) and row.cost_source == rollup.UNSENT
    assert report.totals.cost_usd == D(0) and report.totals.unknown_cost_requests == 0
    assert report.by_model[0].cost_usd == D(0) and report.totals.failed == 1
    assert report.savings.priced_requests == 0  # a free failure is no price sample
    assert report.recommendations == []
    # Anything that may have reached a model stays unknown.
    record(store, model="m/a", status="error", prompt=0, completion=0, cost=None,
           generation_id="gen-9")  # fmt: skip
    record(store, model="m/a", status="error", prompt=40, completion=0, cost=None)
    record(store, model="m/a", status="interrupted", prompt=0, completion=0, cost=None)
    report = build_report(store, since="24h", prices=PRICED, now=clock.now)
    assert report.totals.unknown_cost_requests == 3 and report.totals.cost_usd is None


def test_sql_totals_match_python_totals_for_unsent_and_timed_rows(store: AnalyticsStore) -> None:
    record(store, status="error", prompt=0, completion=0, cost=None, latency=None, ttft=None)
    record(store, status="error", prompt=0, completion=0, cost=None, generation_id="g")
    record(store, completion=300, latency=2000, ttft=500)
    record(store, completion=300, latency=200, ttft=500)  # not timed: ttft after latency
    record(store, completion=30, latency=900, ttft=None)  # not timed: no ttft
    record(store, completion=30, cache_hit=True, saved="0.1", latency=9, ttft=1)
    with store.reading() as conn:
        sql_row = conn.execute(f"SELECT {rollup.REQUEST_TOTALS} FROM requests").fetchone()  # noqa: S608
        rows = conn.execute(f"SELECT {rollup.FINISHED_COLUMNS} FROM requests").fetchall()  # noqa: S608
        sql = f"SELECT {', '.join(rollup.COLUMNS)} FROM rollup_total WHERE day = -1"  # noqa: S608
        total_row = conn.execute(sql).fetchone()
    expected = rollup.Totals()
    for row in rows:
        expected.add(rollup.finished_from_row(row).totals())
    assert rollup.Totals.from_values(sql_row) == expected == rollup.Totals.from_values(total_row)
    assert (expected.unknown_cost, expected.priced_n) == (1, 3)
    assert (expected.gen_tokens, expected.gen_ms) == (300, 1500.0)


def test_reconcile_is_suggested_only_for_requests_it_can_price(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    with_id = record(store, model="m/a", cost=None, generation_id="gen-1")
    record(store, model="m/a", cost=None)
    record(store, model="m/b", cost=None, generation_id="gen-2")
    record(store, model="m/b", cost=None, generation_id="gen-3")
    report = build_report(store, since="24h", prices=PRICED, now=clock.now)
    assert report.recommendations == [
        "1 request to m/a has no known cost (no usage cost was reported); run "
        "`devflow reconcile` to fetch what OpenRouter billed.",
        "1 request to m/a has no known cost (no usage cost was reported) and nothing to "
        "reconcile; it counts as unknown, not $0.",
        "2 requests to m/b have no known cost (no usage cost was reported and the model has no "
        "catalog prices); run `devflow reconcile` to fetch what OpenRouter billed.",
    ]
    assert not any("m/a" in r and "catalog prices" in r for r in report.recommendations)
    store.set_billed_cost(with_id, D("0.002"))  # reconciled: nothing left to fetch for it
    report = build_report(store, since="24h", prices=PRICED, now=clock.now)
    assert [r for r in report.recommendations if "m/a" in r] == [
        "2 requests to m/a have no known cost (no usage cost was reported) and nothing to "
        "reconcile; they count as unknown, not $0."
    ]


def test_tokens_per_s_is_total_tokens_over_total_generation_time(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    # 1000 tokens in 9 s (111/s) and 10 tokens in 0.05 s (200/s): the mean of rates would be
    # 155.6/s, the throughput is 1010 / 9.05 s.
    record(store, model="m/a", completion=1000, latency=10_000, ttft=1000, tps=111.1)
    record(store, model="m/a", completion=10, latency=150, ttft=100, tps=200.0)
    record(store, model="m/b", completion=100, latency=1100, ttft=100, tps=100.0)
    # Not counted: a cache hit, a failure, and a request without a time to first token.
    record(store, model="m/a", completion=500, cache_hit=True, saved="0.1", latency=5, ttft=1)
    record(store, model="m/a", status="error", completion=500, latency=1000, ttft=100)
    record(store, model="m/a", completion=500, latency=1000, ttft=None, tps=500.0)
    report = build_report(store, since="24h", now=clock.now)
    groups = {g.key: g for g in report.by_model}
    assert groups["m/a"].tokens_per_s == round(1010 / 9.05, 3)
    assert groups["m/b"].tokens_per_s == 100.0
    assert report.totals.tokens_per_s == round(1110 / 10.05, 3)
    assert report.by_day[0].tokens_per_s == report.totals.tokens_per_s


def test_day_rows_carry_percentiles_exact_and_from_histograms(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    rnd = random.Random(11)
    now = clock.now + 5000  # the 7-day window starts mid-day: its first day is partial
    per_day: dict[str, list[float]] = {}
    for i in range(600):
        ts = now - rnd.random() * 7 * 86400
        latency = rnd.lognormvariate(7, 0.5)
        record(store, model=f"m/{i % 3}", latency=latency, ttft=latency / 5, ts=ts)
        label = str(rollup.day_of(ts))
        per_day.setdefault(label, []).append(latency)
    exact = build_report(store, since="7d", by="day", now=now)
    approx = build_report(store, since="7d", by="day", now=now, exact_limit=0)
    assert len(exact.by_day) == len(per_day) == 8
    for day_exact, day_approx, values in zip(
        exact.by_day, approx.by_day, (sorted(v) for _, v in sorted(per_day.items())), strict=True
    ):
        assert day_exact.latency_p50_ms == values[math.ceil(0.5 * len(values)) - 1]
        assert day_exact.latency_p99_ms == values[math.ceil(0.99 * len(values)) - 1]
        assert day_exact.ttft_p95_ms == pytest.approx(values[math.ceil(0.95 * len(values)) - 1] / 5)
        for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms",
                     "ttft_p95_ms"):  # fmt: skip
            assert getattr(day_approx, name) == pytest.approx(getattr(day_exact, name), rel=0.03), (
                name
            )
    rows = list(csv.DictReader(io.StringIO(report_to_csv(exact))))
    assert all(r["latency_p95_ms"] for r in rows)
    everything = build_report(store, since="all", by="day", now=now, exact_limit=0)
    assert [d.latency_p50_ms is not None for d in everything.by_day] == [True] * 8


def test_migration_prices_unsent_errors_and_rebuilds_old_rollups(tmp_path: Path) -> None:
    """A database whose rollups predate the fixes (mean-of-rates columns, unsent errors
    counted as unknown) is rebuilt by the migration."""
    path = tmp_path / "devflow.db"
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    old = [m for m in migrations.MIGRATIONS if m.__name__ < "m007"]
    for fn in old:
        fn(db)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at FLOAT)")
    for fn in old:
        db.execute("INSERT INTO _migrations VALUES (?, 0)", (fn.__name__,))
    # (m006 is frozen: it makes the rollup columns exactly as the old version did.)
    db.execute(
        "INSERT INTO requests (id, ts, model, status, prompt_tokens, completion_tokens, "
        "reasoning_tokens, cached_tokens, cost_usd, cost_source, cache_hit, complete) "
        "VALUES ('r1', ?, 'm/a', 'error', 0, 0, 0, 0, NULL, 'unknown', 0, 0)",
        (T0 - 60,),
    )
    db.execute("INSERT INTO rollup_total (day, n, failed, unknown_cost) VALUES (-1, 1, 1, 1)")
    db.conn.close()
    store = AnalyticsStore(path, clock=FakeClock())
    try:
        assert store.schema_version == len(migrations.MIGRATIONS)
        row = store.get_request("r1")
        assert row is not None and row.cost_usd == D(0) and row.cost_source == rollup.UNSENT
        report = build_report(store, since="all", now=T0)
        assert report.totals.requests == 1 and report.totals.unknown_cost_requests == 0
        assert report.totals.cost_usd == D(0)
    finally:
        store.close()
