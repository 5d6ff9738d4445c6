"""Analytics benchmark: 1,000,000 synthetic requests, then the cost of writing and reporting.

Run: `.venv/bin/python benchmarks/analytics.py [--rows 1000000] [--days 90] [--runs 7]`.
Setup uses a bulk fast path (one transaction per 50,000 rows, rollups summed in memory); the
per-request write cost is then measured through the normal begin/attempt/finish path, on top
of the full database. Targets: write < 0.3 ms median; each report query < 100 ms median.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from devflow_tui.accounting import rollup
from devflow_tui.accounting.budget import BudgetManager
from devflow_tui.accounting.records import RequestOutcome, RequestStart
from devflow_tui.accounting.reports import build_report
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import BudgetSettings
from devflow_tui.openrouter.result import AttemptRecord

MODELS = [f"vendor{i % 6}/model-{i}" for i in range(20)]
TASKS = ["coding", "analysis", "creative", "reasoning", "chat"]
LEVELS = ["low", "medium", "high"]
PRICES = {
    m: {"prompt": Decimal(i + 1) / Decimal(10_000_000), "completion": Decimal(i + 1) / 2_500_000}
    for i, m in enumerate(MODELS)
}
WRITE_TARGET_MS = 0.3
QUERY_TARGET_MS = 100.0


def synthetic_rows(n: int, days: int, now: float, seed: int = 7) -> list[tuple[Any, ...]]:
    """Rows in `requests` column order (see INSERT below)."""
    rnd = random.Random(seed)
    span = days * rollup.DAY_S
    rows: list[tuple[Any, ...]] = []
    for _ in range(n):
        ts = now - rnd.random() * span
        model = rnd.choice(MODELS)
        r = rnd.random()
        status = (
            "ok"
            if r < 0.93
            else "error"
            if r < 0.97
            else "cancelled"
            if r < 0.99
            else "interrupted"
        )
        prompt = rnd.randint(50, 6000)
        completion = rnd.randint(10, 1500) if status == "ok" else rnd.randint(0, 200)
        cache_hit = status == "ok" and rnd.random() < 0.03
        c = rnd.random()
        prices = PRICES[model]
        cost_value = prompt * prices["prompt"] + completion * prices["completion"]
        if cache_hit:
            cost, source, saved = "0", "cache", str(cost_value)
        elif c < 0.85:
            cost, source, saved = str(cost_value), "reported", None
        elif c < 0.95:
            cost, source, saved = str(cost_value), "estimated", None
        else:
            cost, source, saved = None, "unknown", None
        ok = status == "ok"
        latency = rnd.lognormvariate(7.0, 0.6) if ok else None
        ttft = latency * rnd.uniform(0.1, 0.4) if latency else None
        tps = completion / (latency / 1000) if latency else None
        rows.append(
            (
                str(uuid.UUID(int=rnd.getrandbits(128))),
                ts,
                ts,
                rnd.choice(TASKS),
                rnd.choice(LEVELS),
                model,
                model,
                status,
                prompt,
                completion,
                0,
                0,
                cost,
                source,
                saved,
                latency,
                ttft,
                tps,
                int(cache_hit),
                int(ok),
            )
        )
    rows.sort(key=lambda row: row[1])  # requests arrive in time order
    return rows


def bulk_load(store: AnalyticsStore, rows: list[tuple[Any, ...]], chunk: int = 50_000) -> None:
    """Insert rows and their rollups, one transaction per chunk."""
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        with store.transaction() as conn:
            conn.executemany(
                "INSERT INTO requests (id, ts, updated, task_type, complexity, requested_model, "
                "model, status, prompt_tokens, completion_tokens, reasoning_tokens, "
                "cached_tokens, cost_usd, cost_source, saved_usd, latency_ms, ttft_ms, "
                "tokens_per_s, cache_hit, complete) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                part,
            )
            rollup.apply(
                conn,
                (
                    rollup.Finished(
                        ts=r[1],
                        model=r[6],
                        task_type=r[3],
                        complexity=r[4],
                        status=r[7],
                        prompt_tokens=r[8],
                        completion_tokens=r[9],
                        reasoning_tokens=r[10],
                        cached_tokens=r[11],
                        cost_usd=Decimal(r[12]) if r[12] is not None else None,
                        cost_source=r[13],
                        cache_hit=bool(r[18]),
                        saved_usd=Decimal(r[14]) if r[14] is not None else None,
                        latency_ms=r[15],
                        ttft_ms=r[16],
                        tokens_per_s=r[17],
                    )
                    for r in part
                ),
            )


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm the page cache and the statement cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def write_costs(store: AnalyticsStore, n: int) -> list[float]:
    """Milliseconds for begin + attempt + finish of one request, n times."""
    rnd = random.Random(11)
    times = []
    for _ in range(n):
        model = rnd.choice(MODELS)
        start = time.perf_counter()
        request_id = store.begin_request(
            RequestStart(task_type="coding", complexity="low", model=model, requested_model=model)
        )
        attempt = AttemptRecord(model=model, status=200, latency_ms=850.0)
        store.record_attempt(request_id, attempt, n=1)
        store.finish_request(
            request_id,
            RequestOutcome(
                request_id=request_id,
                model=model,
                task_type="coding",
                complexity="low",
                prompt_tokens=900,
                completion_tokens=300,
                cost_usd=Decimal("0.000123"),
                cost_source="reported",
                latency_ms=850.0,
                ttft_ms=210.0,
                tokens_per_s=48.0,
                complete=True,
                attempts=[attempt],
            ),
        )
        times.append((time.perf_counter() - start) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--writes", type=int, default=3000)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # show progress when piped to a file

    with tempfile.TemporaryDirectory(prefix="devflow-bench-") as tmp:
        now = time.time()
        store = AnalyticsStore(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        rows = synthetic_rows(args.rows, args.days, now)
        t1 = time.perf_counter()
        bulk_load(store, rows)
        t2 = time.perf_counter()
        del rows
        size_mb = (Path(tmp) / "bench.db").stat().st_size / 1e6
        print(
            f"setup: generated {args.rows:,} rows over {args.days} days in {t1 - t0:.1f} s, "
            f"loaded in {t2 - t1:.1f} s ({size_mb:.0f} MB)"
        )

        writes = write_costs(store, args.writes)
        write_median = statistics.median(writes)
        write_p95 = sorted(writes)[int(len(writes) * 0.95)]
        print(
            f"write (begin+attempt+finish): median {write_median:.3f} ms, p95 {write_p95:.3f} ms "
            f"over {args.writes} requests (target < {WRITE_TARGET_MS} ms)"
        )

        budget = BudgetManager(
            store,
            BudgetSettings(limit_usd=Decimal(10**9), daily_usd=Decimal(10**9)),
            clock=time.time,
        )
        prices = {m: dict(p) for m, p in PRICES.items()}
        queries: dict[str, Callable[[], object]] = {}

        def report_query(since: str) -> Callable[[], object]:
            return lambda: build_report(
                store, since=since, by="model", prices=prices, budgets=budget.status()
            )

        for since in ("24h", "7d", "30d", "all"):
            queries[f"report --since {since}"] = report_query(since)
        queries["spend_since(total)"] = lambda: store.spend_since(0)
        queries["spend_since(24h)"] = lambda: store.spend_since(time.time() - 86_400)
        queries["budget reserve+release"] = lambda: budget.release(
            budget.reserve("bench", Decimal("0.01"))
        )
        queries["budget status"] = budget.status
        queries["health_samples(50)"] = lambda: store.health_samples(50)
        queries["recent_requests(50)"] = lambda: store.recent_requests(50)
        worst = 0.0
        for name, fn in queries.items():
            ms = median_ms(fn, args.runs)
            worst = max(worst, ms)
            print(f"{name:<28} median {ms:8.3f} ms over {args.runs} runs")
        report = build_report(store, since="all", prices=prices)
        print(
            f"check: all-time requests {report.totals.requests:,}, cost "
            f"{report.totals.cost_usd:.6f}, p50 latency {report.totals.latency_p50_ms:.0f} ms "
            f"(exact={report.percentiles_exact})"
        )
        store.close()
    ok = write_median < WRITE_TARGET_MS and worst < QUERY_TARGET_MS
    print("targets met" if ok else "TARGETS MISSED (figures depend on machine load)")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
