"""Reports read rollups kept on write (per model, task type and complexity; per client and
member; escalations; histograms), and give the same figures as adding up the request rows
one by one, on both backends; the frozen backfill of each backend builds the same rollups as
the writes did."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from devflow_tui.accounting import migrations, migrations_pg, rollup
from devflow_tui.accounting.records import RequestOutcome, RequestStart
from devflow_tui.accounting.reports import Report, build_report
from devflow_tui.accounting.store import AnalyticsStore
from tests.accounting.conftest import FakeClock, record

_PERCENTILES = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms")
_GROUPS = ("by_model", "by_task", "by_day", "by_client", "by_member")


def _history(store: AnalyticsStore, clock: FakeClock, n: int = 160, seed: int = 5) -> None:
    """Requests of every kind over 40 days, from several clients and members, some of them
    re-asked with a stronger model (once, twice, or while the original still ran)."""
    rnd = random.Random(seed)
    answered: list[str] = []
    for _ in range(n):
        status = rnd.choice(["ok", "ok", "ok", "error", "interrupted", "cancelled", "refused"])
        hit = status == "ok" and rnd.random() < 0.1
        escalates = answered and rnd.random() < 0.15
        request_id = record(
            store,
            model=rnd.choice(["m/a", "m/b", "m/c", None]),
            task=rnd.choice(["coding", "chat", None]),
            complexity=rnd.choice(["low", "high"]),
            status=status,
            prompt=rnd.choice([0, 10, 1234]),
            completion=rnd.choice([0, 5, 800]),
            cost=None if hit else rnd.choice([None, "0", "0.0012", "0.35", "1E-7"]),
            source=rnd.choice(["reported", "estimated"]),
            latency=rnd.choice([None, 0.0, 12.5, 950.0, 4100.0, rnd.uniform(1, 9000)]),
            ttft=rnd.choice([None, 0.0, 3.0, 400.0]),
            cache_hit=hit,
            saved="0.002" if hit else None,
            ts=clock.now - rnd.uniform(0, 40 * 86_400),
            client=rnd.choice(["claude-code", "cli", "dashboard", None]),
            member=rnd.choice(["ada", "grace", None]),
            escalation_of=rnd.choice(answered) if escalates else None,
        )
        if status == "ok":
            answered.append(request_id)
    # An answer re-asked while it is still running counts once it has finished.
    running = store.begin_request(
        RequestStart(model="m/a", task_type="coding", ts=clock.now - 7200, member="ada")
    )
    record(store, model="m/c", task="coding", escalation_of=running, ts=clock.now - 7100)
    store.finish_request(
        running,
        RequestOutcome(
            request_id=running,
            model="m/a",
            task_type="coding",
            status="ok",
            prompt_tokens=10,
            completion_tokens=10,
            cost_usd=Decimal("0.01"),
            cost_source="reported",
            latency_ms=300.0,
            ttft_ms=30.0,
            complete=True,
        ),
    )


def _without_percentiles(report: Report) -> dict[str, Any]:
    data = report.model_dump()
    data.pop("percentiles_exact")
    for group in [data["totals"], *(g for name in _GROUPS for g in data[name])]:
        for field in _PERCENTILES:
            group.pop(field)
    return data


def test_rollup_reports_equal_reports_from_the_rows(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    _history(store, clock)
    now = clock.now + 0.37 * 86_400  # windows start at an arbitrary instant
    for since in ("24h", "7d", "30d", "all"):
        from_rows = build_report(store, since=since, now=now, from_rows=True)
        assert from_rows.totals.requests > 0, since
        # Exact percentiles (few requests): every figure is identical.
        assert build_report(store, since=since, now=now) == from_rows, since
        # Percentiles from the histograms: the rest is identical, percentiles within 3 %.
        approx = build_report(store, since=since, now=now, exact_limit=0)
        assert not approx.percentiles_exact
        assert _without_percentiles(approx) == _without_percentiles(from_rows), since
        for name in ("totals", *_GROUPS):
            rows_groups = getattr(from_rows, name)
            hist_groups = getattr(approx, name)
            if name == "totals":
                rows_groups, hist_groups = [rows_groups], [hist_groups]
            for exact, estimate in zip(rows_groups, hist_groups, strict=True):
                for field in _PERCENTILES:
                    value = getattr(exact, field)
                    assert getattr(estimate, field) == pytest.approx(value, rel=0.031), (
                        since,
                        name,
                        exact.key,
                        field,
                    )
    report = build_report(store, since="all", now=now)
    assert {g.key for g in report.by_member} == {"ada", "grace", "(no member)"}
    assert {g.key for g in report.by_client} >= {"claude-code", "cli", "(unknown)"}
    assert sum(e.escalated for e in report.escalations) >= 2  # the data has escalations
    assert ("m/a", "coding") in {(e.model, e.task_type) for e in report.escalations}


def _rollup_tables(store: AnalyticsStore) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "rollup_day": "day, model, task_type, complexity",
        "rollup_party": "day, client, member",
        "rollup_total": "day",
    }
    columns = (
        "n, ok, failed, cancelled, refused, cache_hits, unknown_cost, prompt, completion, "
        "reasoning, cached, cost_reported, cost_estimated, saved_cache, priced_n, "
        "priced_prompt, priced_completion, priced_cached, priced_reasoning, gen_tokens, "
        "gen_ms, escalated"
    )
    found = {}
    with store.reading() as conn:
        for table, keys in tables.items():
            rows = conn.execute(
                f"SELECT {keys}, {columns} FROM {table} WHERE n != 0 ORDER BY {keys}"  # noqa: S608
            ).fetchall()
            found[table] = [
                tuple(Decimal(v) if isinstance(v, str) and i > 4 else v for i, v in enumerate(r))
                for r in rows
            ]
        # Histograms: the buckets that count, whatever the array's bounds (a bucket that
        # went back to zero may stay inside them).
        found["rollup_histogram"] = []
        for *key, zeros, counts in conn.execute(
            "SELECT day, dim, key, metric, zeros, CAST(counts AS TEXT) FROM rollup_histogram "
            "ORDER BY day, dim, key, metric"
        ).fetchall():
            buckets = rollup.BucketCounts()
            buckets.add_text(counts, zeros)
            if buckets.as_dict():
                found["rollup_histogram"].append((*key, sorted(buckets.as_dict().items())))
    return found


def test_frozen_backfill_builds_the_rollups_the_writes_kept(
    store: AnalyticsStore, clock: FakeClock
) -> None:
    """The new migration of each backend rebuilds every rollup from the rows in literal SQL;
    it must give exactly what today's code kept on each write."""
    _history(store, clock, n=120, seed=9)
    kept = _rollup_tables(store)
    assert len(kept["rollup_histogram"]) > 100  # every block size, key and metric
    with store.transaction() as conn:
        if store.backend == "sqlite":
            migrations.mth_rebuild_rollups(conn)  # type: ignore[arg-type]
        else:
            migrations_pg.pg009_rebuild_rollups(conn)
    rebuilt = _rollup_tables(store)
    assert kept["rollup_histogram"] == rebuilt["rollup_histogram"]
    for table in ("rollup_day", "rollup_party", "rollup_total"):
        assert len(kept[table]) == len(rebuilt[table]), table
        for a, b in zip(kept[table], rebuilt[table], strict=True):
            assert a == pytest.approx(b), table  # float sums may differ in the last bit
