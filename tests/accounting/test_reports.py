"""Reports checked against hand-computed numbers, and against a brute-force recomputation."""

from __future__ import annotations

import csv
import io
import json
import math
import random
from dataclasses import dataclass
from decimal import Decimal

import pytest

from devflow_tui.accounting.records import BudgetView
from devflow_tui.accounting.reports import (
    GroupStats,
    build_report,
    default_baseline,
    report_to_csv,
)
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.stats import percentile
from tests.accounting.conftest import T0, FakeClock, record

D = Decimal
PRICES = {
    "m/a": {"prompt": D("0.000001"), "completion": D("0.000002")},
    "m/b": {"prompt": D("0.0000005"), "completion": D("0.000001")},
    "m/c": {"prompt": D("0.00001"), "completion": D("0.00003")},
    "m/unpriced": {"prompt": D("0.00001")},
}


@pytest.fixture
def data(store: AnalyticsStore) -> AnalyticsStore:
    """Eight requests; see each test for the numbers it expects."""
    record(store, model="m/a", prompt=1000, completion=200, cost="0.002", source="reported",
           latency=1000, ttft=100, tps=40, ts=T0 - 3600)  # fmt: skip
    record(store, model="m/a", prompt=2000, completion=400, cost="0.004", source="estimated",
           latency=2000, ttft=200, tps=60, ts=T0 - 7200)  # fmt: skip
    record(store, model="m/a", status="error", prompt=500, completion=0, cost=None,
           latency=None, ttft=None, tps=None, ts=T0 - 60)  # fmt: skip
    record(store, model="m/b", task="chat", complexity="medium", prompt=100, completion=100,
           cost="0.0005", latency=500, ttft=50, tps=100, ts=T0 - 2 * 86400)  # fmt: skip
    record(store, model="m/b", task="chat", complexity="medium", status="cancelled", prompt=50,
           completion=10, cost="0.0001", ts=T0 - 1800)  # fmt: skip
    record(store, model="m/a", cache_hit=True, saved="0.002", prompt=1000, completion=200,
           cost=None, latency=5, ttft=5, tps=9999, ts=T0 - 600)  # fmt: skip
    record(store, model=None, task=None, complexity=None, status="refused", prompt=0,
           completion=0, cost=None, latency=None, ttft=None, tps=None, ts=T0 - 300)  # fmt: skip
    record(store, model="m/c", task="analysis", complexity="high", prompt=10, completion=10,
           cost="1.0", latency=3000, ttft=300, tps=10, ts=T0 - 40 * 86400)  # fmt: skip
    return store


def test_the_last_hour(data: AnalyticsStore) -> None:
    """The dashboard's shortest window: the requests of the last 3,600 s, first one included,
    from the rollups and the partial hour's rows as from the rows alone."""
    report = build_report(data, since="1h", now=T0)
    assert report.window_start == T0 - 3600
    assert report.totals.requests == 5  # T0-3600, -1800, -600, -300, -60
    assert report.totals.cost_reported_usd == D("0.0021")
    assert report == build_report(data, since="1h", now=T0, from_rows=True)
    with pytest.raises(ValueError, match="one of 1h, 24h, 7d, 30d, all"):
        build_report(data, since="2h", now=T0)


def test_totals_24h(data: AnalyticsStore) -> None:
    report = build_report(data, since="24h", prices=PRICES, now=T0)
    t = report.totals
    assert (t.requests, t.ok, t.failed, t.cancelled, t.refused) == (6, 3, 1, 1, 1)
    assert t.success_rate == 0.75
    assert t.cost_reported_usd == D("0.0021") and t.cost_estimated_usd == D("0.004")
    assert t.cost_usd == D("0.0061") and t.unknown_cost_requests == 1
    assert (t.prompt_tokens, t.completion_tokens) == (4550, 810)
    assert t.cache_hits == 1 and t.saved_by_cache_usd == D("0.002")
    # Percentiles and rates of successful, non-cached requests only: latencies 1000 and 2000.
    assert (t.latency_p50_ms, t.latency_p95_ms, t.latency_p99_ms) == (1000, 2000, 2000)
    assert (t.ttft_p50_ms, t.ttft_p95_ms) == (100, 200)
    # Total completion tokens over total generation time: 600 tokens in 0.9 s + 1.8 s.
    assert t.tokens_per_s == round(600 / 2.7, 3)
    assert report.percentiles_exact and report.window_start == T0 - 86400


def test_groups_24h(data: AnalyticsStore) -> None:
    report = build_report(data, since="24h", prices=PRICES, now=T0)
    by_model = {g.key: g for g in report.by_model}
    assert [g.key for g in report.by_model] == ["m/a", "m/b", "(none)"]  # by cost
    assert by_model["m/a"].requests == 4 and by_model["m/a"].cost_usd == D("0.006")
    assert by_model["m/a"].latency_p95_ms == 2000
    assert by_model["m/b"].success_rate is None  # only a cancelled request
    assert by_model["m/b"].latency_p50_ms is None and by_model["m/b"].tokens_per_s is None
    assert by_model["(none)"].refused == 1 and by_model["(none)"].unknown_cost_requests == 0
    by_task = {g.key: g.requests for g in report.by_task}
    assert by_task == {"coding": 4, "chat": 1, "(none)": 1}
    assert [(d.key, d.requests, d.cost_usd) for d in report.by_day] == [
        ("2026-03-10", 6, D("0.0061"))
    ]


def test_windows(data: AnalyticsStore) -> None:
    week = build_report(data, since="7d", now=T0)
    assert week.totals.requests == 7 and week.totals.cost_reported_usd == D("0.0026")
    assert [(d.key, d.requests) for d in week.by_day] == [("2026-03-08", 1), ("2026-03-10", 6)]
    month = build_report(data, since="30d", now=T0)
    assert month.totals.requests == 7
    everything = build_report(data, since="all", now=T0)
    assert everything.totals.requests == 8 and everything.totals.cost_usd == D("1.0066")
    assert everything.window_start is None
    assert everything.by_day[0].key == "2026-01-29"


def test_savings_against_default_baseline(data: AnalyticsStore) -> None:
    report = build_report(data, since="24h", prices=PRICES, now=T0)
    s = report.savings
    # Priced requests: 3050 prompt and 610 completion tokens on the dearest model m/c.
    assert s.baseline_model == "m/c" and s.priced_requests == 3
    assert s.baseline_cost_usd == D("0.0488") and s.actual_cost_usd == D("0.0061")
    assert s.saved_usd == D("0.0427") and s.saved_fraction == 0.875


def test_savings_with_explicit_or_unpriced_baseline(data: AnalyticsStore) -> None:
    explicit = build_report(data, since="24h", prices=PRICES, baseline_model="m/b", now=T0)
    assert explicit.savings.baseline_cost_usd == D("0.002135")  # 3050*5e-7 + 610*1e-6
    assert explicit.savings.saved_usd == D("-0.003965")  # routing cost more than m/b would
    unpriced = build_report(data, since="24h", prices=PRICES, baseline_model="m/unpriced", now=T0)
    assert unpriced.savings.baseline_cost_usd is None and unpriced.savings.saved_usd is None
    assert unpriced.savings.note is not None and "no known prices" in unpriced.savings.note
    none = build_report(data, since="24h", now=T0)
    assert none.savings.baseline_model is None and none.savings.note is not None


def test_default_baseline_is_dearest_priced_model() -> None:
    assert default_baseline(PRICES) == "m/c"
    assert default_baseline({}) is None


def test_partial_first_hour_and_day_are_counted_exactly(store: AnalyticsStore) -> None:
    now = T0 + 1800  # 12:30, so the 24h window starts at 12:30 yesterday
    start = now - 86400
    record(store, cost="1", ts=start - 1)  # just outside
    record(store, cost="2", ts=start)  # first instant: inside (partial hour, raw rows)
    record(store, cost="4", ts=start + 1000)  # partial first hour
    record(store, cost="8", ts=start + 4000)  # an hour period on the first (partial) day
    record(store, cost="16", ts=start + 30000)  # a 6-hour period, same day
    record(store, cost="64", ts=start + 50000)  # next day, early hours
    record(store, cost="32", ts=now)  # today
    report = build_report(store, since="24h", now=now)
    assert report.totals.requests == 6 and report.totals.cost_usd == D("126")
    assert [(d.key, d.cost_usd) for d in report.by_day] == [
        ("2026-03-09", D("30")),
        ("2026-03-10", D("96")),
    ]
    assert store.spend_since(start) == D("126")


def test_percentiles_nearest_rank_on_1_to_100(store: AnalyticsStore, clock: FakeClock) -> None:
    for value in random.Random(3).sample(range(1, 101), 100):
        record(store, latency=float(value), ttft=float(value) / 10)
    report = build_report(store, since="24h", now=clock.now)
    t = report.totals
    assert (t.latency_p50_ms, t.latency_p95_ms, t.latency_p99_ms) == (50, 95, 99)
    assert (t.ttft_p50_ms, t.ttft_p95_ms) == (5.0, 9.5)


def test_histogram_percentiles_within_three_percent(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    rnd = random.Random(5)
    values = [rnd.lognormvariate(7, 0.7) for _ in range(400)]
    now = clock.now + 1234  # the window starts mid-hour: its first part comes from raw rows
    for i, v in enumerate(values):
        record(store, model=f"m/{i % 3}", latency=v, ttft=v / 4, ts=now - i * 1512)
    exact = build_report(store, since="7d", now=now)
    approx = build_report(store, since="7d", now=now, exact_limit=0)
    assert approx.totals.requests == exact.totals.requests == 400
    assert exact.percentiles_exact and not approx.percentiles_exact
    pairs = [(exact.totals, approx.totals), *zip(exact.by_model, approx.by_model, strict=True)]
    for a, b in pairs:
        for name in ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms"):
            x, y = getattr(a, name), getattr(b, name)
            assert y == pytest.approx(x, rel=0.03), name
    ordered = sorted(values)
    assert exact.totals.latency_p95_ms == ordered[math.ceil(0.95 * 400) - 1]


@dataclass
class Row:
    ts: float
    status: str
    cache_hit: bool
    cost: Decimal | None
    source: str
    prompt: int
    saved: Decimal
    latency: float
    model: str


def _brute_force(rows: list[Row]) -> dict[str, object]:
    ok = [r for r in rows if r.status == "ok"]
    priced = [r for r in rows if not r.cache_hit and r.cost is not None]
    return {
        "requests": len(rows),
        "ok": len(ok),
        "failed": sum(1 for r in rows if r.status in ("error", "interrupted")),
        "reported": sum((r.cost or D(0) for r in priced if r.source == "reported"), D(0)),
        "estimated": sum((r.cost or D(0) for r in priced if r.source != "reported"), D(0)),
        "unknown": sum(
            1 for r in rows if not r.cache_hit and r.cost is None and r.status != "refused"
        ),
        "prompt": sum(r.prompt for r in rows),
        "saved": sum((r.saved for r in rows if r.cache_hit), D(0)),
        "latencies": sorted(r.latency for r in ok if not r.cache_hit),
    }


@pytest.mark.parametrize("since", ["24h", "7d", "30d", "all"])
def test_report_matches_brute_force_on_random_data(
    store: AnalyticsStore, clock: FakeClock, since: str
) -> None:
    rnd = random.Random(since)
    now = clock.now + rnd.random() * 86400  # windows start at arbitrary instants
    rows: list[Row] = []
    for _ in range(300):
        status = rnd.choice(["ok", "ok", "ok", "error", "cancelled", "interrupted", "refused"])
        row = Row(
            ts=now - rnd.random() * 45 * 86400,
            status=status,
            cache_hit=status == "ok" and rnd.random() < 0.1,
            cost=None if rnd.random() < 0.15 else D(rnd.randint(1, 10**6)) / D(10**9),
            source=rnd.choice(["reported", "estimated"]),
            prompt=rnd.randint(0, 5000),
            saved=D(rnd.randint(1, 1000)) / D(10**6),
            latency=float(rnd.randint(100, 9000)),
            model=rnd.choice(["m/a", "m/b", "m/c"]),
        )
        rows.append(row)
        record(
            store,
            model=row.model,
            status=row.status,
            cache_hit=row.cache_hit,
            cost=None if row.cost is None else str(row.cost),
            source=row.source,
            prompt=row.prompt,
            latency=row.latency,
            saved=str(row.saved),
            ts=row.ts,
        )
    start = now - {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "all": 10**10}[since]
    expected = _brute_force([r for r in rows if r.ts >= start])
    report = build_report(store, since=since, now=now)
    t = report.totals
    assert t.requests == expected["requests"] and t.ok == expected["ok"]
    assert t.failed == expected["failed"]
    assert t.cost_reported_usd == expected["reported"]
    assert t.cost_estimated_usd == expected["estimated"]
    assert t.unknown_cost_requests == expected["unknown"]
    assert t.prompt_tokens == expected["prompt"] and t.saved_by_cache_usd == expected["saved"]
    latencies = expected["latencies"]
    assert isinstance(latencies, list)
    assert t.latency_p95_ms == percentile(latencies, 95)
    assert sum(d.requests for d in report.by_day) == t.requests
    # A day whose every priced request has unknown cost reads None ("unknown"), not 0.
    assert sum((d.cost_usd or D(0) for d in report.by_day), D(0)) == t.cost_usd
    assert sum(g.requests for g in report.by_model) == t.requests
    if since != "all":
        assert store.spend_since(start) == t.cost_usd


def _class(store: AnalyticsStore, model: str, n: int, cost: str, status: str = "ok") -> None:
    for _ in range(n):
        record(store, model=model, task="coding", complexity="low", cost=cost, status=status)


def test_recommendation_names_models_share_ratio_and_monthly_saving(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    _class(store, "m/exp", 30, "0.008")
    _class(store, "m/cheap", 10, "0.001")
    _class(store, "m/flaky", 5, "0.0001")
    _class(store, "m/flaky", 5, "0.0001", status="error")  # cheaper but 50% success
    report = build_report(store, since="30d", now=clock.now)
    assert report.recommendations == [
        "60% of your low-complexity coding requests went to m/exp; m/cheap served the same "
        "class with 100% success (vs 100%) at 1/8 the price ($0.001 vs $0.008 per request): "
        "estimated saving $0.21/month."
    ]
    weekly = build_report(store, since="7d", now=clock.now)
    assert weekly.recommendations[0].endswith("estimated saving $0.90/month.")  # 0.21 * 30/7


def test_no_recommendation_without_enough_data_or_difference(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    _class(store, "m/exp", 8, "0.008")
    _class(store, "m/cheap", 5, "0.001")
    assert build_report(store, since="7d", now=clock.now).recommendations == []
    _class(store, "m/exp", 20, "0.008")
    _class(store, "m/similar", 10, "0.007")
    _class(store, "m/cheap", 0, "0")
    recs = build_report(store, since="7d", now=clock.now).recommendations
    assert len(recs) == 1 and "m/similar" not in recs[0]


def test_unknown_cost_and_budget_recommendations(store: AnalyticsStore, clock: FakeClock) -> None:
    record(store, model="m/mystery", cost=None)
    record(store, model="m/mystery", cost=None)
    record(store, model="m/a", cost="0.9")
    budgets = [
        BudgetView(name="daily", limit_usd=D("1"), spent_usd=D("0.9"), remaining_usd=D("0.1")),
        BudgetView(name="monthly", limit_usd=D("100"), spent_usd=D("0.9"),
                   remaining_usd=D("99.1")),
        BudgetView(name="openrouter-key", limit_usd=D("1"), spent_usd=D("1"),
                   remaining_usd=D("0")),
    ]  # fmt: skip
    report = build_report(store, since="24h", budgets=budgets, now=clock.now)
    assert report.budgets == budgets
    assert report.recommendations == [
        "2 requests to m/mystery have no known cost (no usage cost was reported and the model "
        "has no catalog prices) and nothing to reconcile; they count as unknown, not $0.",
        "The daily budget is 90% used ($0.90 of $1.00); at your recent $0.90/day it lasts about "
        "0.1 more days. Raise it in the config file or raise the cost priority in routing.",
    ]


def test_json_shape_money_as_strings(data: AnalyticsStore) -> None:
    budgets = [BudgetView(name="total", limit_usd=D("5"), spent_usd=D("1.0066"),
                          remaining_usd=D("3.9934"))]  # fmt: skip
    report = build_report(data, since="all", prices=PRICES, budgets=budgets, now=T0)
    payload = json.loads(report.model_dump_json())
    assert payload == report.model_dump(mode="json")
    assert {"totals", "by_model", "by_task", "by_day", "savings", "recommendations",
            "budgets"} <= payload.keys()  # fmt: skip
    assert payload["totals"]["cost_usd"] == "1.0066" and payload["totals"]["requests"] == 8
    assert {"requests", "cost_usd", "prompt_tokens", "completion_tokens"} <= payload[
        "totals"
    ].keys()
    assert set(payload["savings"]) >= {"baseline_model", "baseline_cost_usd", "actual_cost_usd",
                                       "saved_usd"}  # fmt: skip
    assert payload["savings"]["actual_cost_usd"] == "1.0066"
    assert payload["budgets"][0]["remaining_usd"] == "3.9934"


def test_csv_export(data: AnalyticsStore) -> None:
    report = build_report(data, since="24h", by="task", now=T0)
    rows = list(csv.DictReader(io.StringIO(report_to_csv(report))))
    assert [r["task"] for r in rows] == ["coding", "(none)", "chat", "total"]
    assert rows[-1]["cost_usd"] == "0.0061" and rows[-1]["requests"] == "6"
    assert rows[1]["success_rate"] == ""  # unknown stays empty, not 0
    assert list(rows[0]) == ["task", *list(GroupStats.model_fields)[1:]]
    by_day = list(csv.DictReader(io.StringIO(report_to_csv(report, "day"))))
    assert by_day[0]["day"] == "2026-03-10"
    with pytest.raises(ValueError):
        report_to_csv(report, "week")


def test_bad_arguments(store: AnalyticsStore) -> None:
    with pytest.raises(ValueError):
        build_report(store, since="1y")
    with pytest.raises(ValueError):
        build_report(store, by="hour")


def test_empty_store(store: AnalyticsStore) -> None:
    report = build_report(store, since="all")
    assert report.totals.requests == 0 and report.totals.success_rate is None
    assert report.totals.latency_p50_ms is None and report.by_model == []
    assert report.savings.saved_usd is None


def test_escalation_rate_per_model_and_task_feeds_the_recommendations(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    _class(store, "m/exp", 30, "0.008")
    cheap = [record(store, model="m/cheap", task="coding", cost="0.001") for _ in range(10)]
    for first in cheap[:4]:  # four answers were re-asked with a stronger model, one twice
        record(store, model="m/exp", task="coding", cost="0.008", escalation_of=first)
    record(store, model="m/exp", task="coding", cost="0.008", escalation_of=cheap[0])
    report = build_report(store, since="30d", now=clock.now)
    assert [(e.model, e.task_type, e.escalated, e.answered) for e in report.escalations] == [
        ("m/cheap", "coding", 4, 10)
    ]
    assert report.escalations[0].rate == 0.4
    # m/cheap is cheaper with the same success, but people keep escalating away from it.
    assert not any("m/cheap served" in r for r in report.recommendations)
    assert report.recommendations == [
        "40% of m/cheap's coding answers were re-asked with a stronger model (4 of 10): raise "
        "the performance priority for coding tasks, or exclude m/cheap for them."
    ]
    assert report.model_dump(mode="json")["escalations"][0]["escalated"] == 4
