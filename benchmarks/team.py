"""Team benchmark: `devflow serve` on PostgreSQL against on SQLite, reports over many rows in
PostgreSQL, and budget reservations under contention.

Run: `.venv/bin/python benchmarks/team.py [--rows 1000000] [--contenders 100] [--rounds 200]`.

1. Requests per second and added latency through `devflow serve` (a team budget active, so
   every request takes a reservation) at 1, 10 and 100 concurrent clients, with the proxy's
   database on SQLite and on PostgreSQL; the baseline is the same request sent straight to the
   simulated OpenRouter (`time_scale=0`: it answers at once), so the difference is the proxy.
2. The report queries over `--rows` synthetic requests loaded into PostgreSQL (the bulk path of
   benchmarks/analytics.py), and into SQLite for comparison. Target: < 200 ms each.
3. Budget reservation (reserve + release) latency with `--contenders` threads, each with its
   own connection (as many processes would have), reserving back to back against one budget
   on PostgreSQL: the worst case, every client reserving at once. Target: p95 < 5 ms.

PostgreSQL is a throw-away cluster started like the tests' (tests/pg_cluster.py, durability
off: fsync and synchronous commit off flatter write figures a little against a real server).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.pg_cluster; this folder is on the path already

from analytics import PRICES, bulk_load, median_ms, synthetic_rows  # noqa: E402

from devflow_tui.accounting.budget import BudgetManager  # noqa: E402
from devflow_tui.accounting.reports import build_report  # noqa: E402
from devflow_tui.accounting.store import AnalyticsStore  # noqa: E402
from devflow_tui.config import BudgetSettings  # noqa: E402
from devflow_tui.sim import SimConfig, SimServer  # noqa: E402
from tests.pg_cluster import TempCluster  # noqa: E402
from tests.serve.serve_process import start_serve  # noqa: E402

MODEL = "openai/gpt-4o-mini"
TOKEN = "dfp-team-benchmark-token"  # noqa: S105 - a local token the benchmark sets itself
FAKE_KEY = "sk-or-v1-" + "fa1e" * 16
LEVELS = ((1, 200), (10, 600), (100, 1500))  # (concurrent clients, requests)
REPORT_TARGET_MS = 200.0
RESERVE_TARGET_MS = 5.0


def start(home: Path, sim: SimServer, url: str | None) -> tuple[subprocess.Popen[str], str]:
    """`devflow serve` as its own process, on SQLite in `home` or on the database `url`."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "config.toml"
    # The client's own rate limit would queue 100 clients; the cache would answer repeats.
    config.write_text(
        "rate_limit_requests = 100000\nmax_concurrency = 200\n[cache]\nttl_seconds = 0\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "DEVFLOW_HOME": str(home),
        "DEVFLOW_CONFIG": str(config),
        "OPENROUTER_BASE_URL": sim.base_url,
        "OPENROUTER_API_KEY": FAKE_KEY,
        "OPENROUTER_COST_BUDGET_USD": "1000000",
        "DEVFLOW_PROXY_TOKEN": TOKEN,
        "PYTHONPATH": str(ROOT),
    }
    if url:
        env["DEVFLOW_DATABASE_URL"] = url
    return start_serve(env, str(ROOT))


async def load(url: str, headers: dict[str, str], clients: int, n: int) -> tuple[float, float]:
    """(requests per second, median latency in ms) of n requests from `clients` at once."""
    latencies: list[float] = []
    retried: list[int] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits, headers=headers) as client:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                body = {
                    "model": MODEL,
                    "max_tokens": 32,
                    "messages": [{"role": "user", "content": f"benchmark question {i}"}],
                }
                start = time.perf_counter()
                try:
                    response = await client.post(url, json=body)
                except (httpx.ReadError, httpx.RemoteProtocolError):
                    # A keep-alive connection the server closed as it was reused (uvicorn
                    # closes idle ones after 5 s): nothing was processed; send it again.
                    retried.append(i)
                    response = await client.post(url, json=body)
                latencies.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text[:200]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - start
    if retried:
        print(f"  ({len(retried)} of {n} requests sent again on a fresh connection)")
    return n / wall, statistics.median(latencies)


def serve_figures(cluster: TempCluster, tmp: Path) -> None:
    print("== devflow serve: requests/s and added median latency per request")
    sim = SimServer(SimConfig(time_scale=0.0)).start()
    try:
        direct = f"{sim.base_url}/chat/completions"
        auth = {"Authorization": f"Bearer {FAKE_KEY}"}
        pg_url = cluster.url(cluster.create_database())
        proxies = {
            "sqlite": start(tmp / "serve-sqlite", sim, None),
            "postgresql": start(tmp / "serve-pg", sim, pg_url),
        }
        try:
            print(
                f"{'clients':>7} {'direct rps':>11} {'sqlite rps':>11} {'+ms':>7} "
                f"{'postgres rps':>13} {'+ms':>7} {'pg/sqlite rps':>14}"
            )
            for clients, n in LEVELS:
                base_rps, base_ms = asyncio.run(load(direct, auth, clients, n))
                row = [f"{clients:>7}", f"{base_rps:>11.0f}"]
                rates = []
                for _, (_, url) in proxies.items():
                    rps, ms = asyncio.run(
                        load(
                            f"{url}/v1/chat/completions",
                            {"Authorization": f"Bearer {TOKEN}"},
                            clients,
                            n,
                        )
                    )
                    rates.append(rps)
                    row += [
                        f"{rps:>11.0f}" if not rates[1:] else f"{rps:>13.0f}",
                        f"{ms - base_ms:>7.2f}",
                    ]
                row.append(f"{rates[1] / rates[0]:>14.2f}")
                print(" ".join(row))
        finally:
            for name, (proc, _) in proxies.items():
                proc.terminate()
                err = proc.communicate(timeout=30)[1]
                if "Traceback" in err:
                    print(f"devflow serve ({name}) said:\n{err[-8000:]}")
    finally:
        sim.stop()


def report_figures(cluster: TempCluster, tmp: Path, rows: int, runs: int) -> None:
    print(f"== reports over {rows:,} requests (90 days), median of {runs} runs")
    now = time.time()
    t0 = time.perf_counter()
    data = synthetic_rows(rows, 90, now)
    print(f"generated {rows:,} rows in {time.perf_counter() - t0:.1f} s")
    stores = {
        "sqlite": AnalyticsStore(tmp / "report.db"),
        "postgresql": AnalyticsStore(tmp / "unused.db", url=cluster.url(cluster.create_database())),
    }
    prices = {m: dict(p) for m, p in PRICES.items()}
    try:
        results: dict[str, dict[str, float]] = {}
        for name, store in stores.items():
            t0 = time.perf_counter()
            bulk_load(store, data)
            print(
                f"{name}: loaded {rows:,} rows with their rollups in "
                f"{time.perf_counter() - t0:.1f} s"
            )
            results[name] = {}
            for since in ("24h", "7d", "30d", "all"):
                results[name][since] = median_ms(
                    functools.partial(build_report, store, since=since, prices=prices), runs
                )
        print(f"{'report --since':<16} {'sqlite ms':>10} {'postgres ms':>12}")
        for since in ("24h", "7d", "30d", "all"):
            pg = results["postgresql"][since]
            mark = "" if pg < REPORT_TARGET_MS else "  (over the 200 ms target)"
            print(f"{since:<16} {results['sqlite'][since]:>10.1f} {pg:>12.1f}{mark}")
        a, b = (build_report(s, since="all", prices=prices) for s in stores.values())
        print(
            f"check: same totals on both: {a.totals == b.totals} "
            f"({a.totals.requests:,} requests, {a.totals.cost_usd})"
        )
    finally:
        for store in stores.values():
            store.close()


def reservation_figures(
    cluster: TempCluster, tmp: Path, contenders: int, rounds: int, pace_ms: float
) -> None:
    print(
        f"== budget reservation on PostgreSQL, {contenders} clients (threads, each with "
        "its own connection, as separate processes would have)"
    )
    url = cluster.url(cluster.create_database())
    AnalyticsStore(tmp / "unused.db", url=url).close()
    stores = [AnalyticsStore(tmp / "unused.db", url=url) for _ in range(contenders)]
    settings = BudgetSettings(limit_usd=Decimal(10**9), monthly_usd=Decimal(10**9))
    sys.setswitchinterval(0.0005)  # threads stand in for processes: hand the GIL over quickly

    def run(pause_ms: float) -> tuple[list[float], float]:
        times: list[float] = []
        lock = threading.Lock()
        go = threading.Event()

        def contend(store: AnalyticsStore, seed: int) -> None:
            budget = BudgetManager(store, settings)
            rnd = random.Random(seed)
            mine = []
            go.wait()
            for i in range(rounds):
                if pause_ms:
                    time.sleep(rnd.uniform(0, 2 * pause_ms) / 1000)
                start = time.perf_counter()
                held = budget.reserve(f"bench-{seed}-{i}", Decimal("0.01"))
                mine.append((time.perf_counter() - start) * 1000)
                budget.release(held)  # (the request would run here)
            with lock:
                times.extend(mine)

        threads = [threading.Thread(target=contend, args=(s, n)) for n, s in enumerate(stores)]
        for t in threads:
            t.start()
        start = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        return sorted(times), time.perf_counter() - start

    try:
        single = BudgetManager(stores[0], settings)
        alone = statistics.median(_timed_reserves(single, 200))
        print(f"one client alone: median {alone:.2f} ms")
        for label, pause in (("back to back", 0.0), (f"every ~{pace_ms:.0f} ms each", pace_ms)):
            times, wall = run(pause)
            p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
            mark = "" if p95 < RESERVE_TARGET_MS else "  (over the 5 ms target)"
            print(
                f"{contenders} clients {label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms{mark}; "
                f"{len(times) / wall:.0f} reservations/s, p95 {p95 / alone:.1f}x alone"
            )
    finally:
        sys.setswitchinterval(0.005)
        for store in stores:
            store.close()


def _timed_reserves(budget: BudgetManager, n: int) -> list[float]:
    """Milliseconds of n reservations one after another (each released, untimed)."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        held = budget.reserve(f"alone-{i}", Decimal("0.01"))
        times.append((time.perf_counter() - start) * 1000)
        budget.release(held)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--contenders", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--pace-ms", type=float, default=500.0, help="mean pause between a client's reservations"
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["serve", "reports", "reservations"]
    )
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    cluster = TempCluster()
    try:
        with tempfile.TemporaryDirectory(prefix="devflow-team-bench-") as folder:
            tmp = Path(folder)
            if "serve" not in args.skip:
                serve_figures(cluster, tmp)
            if "reservations" not in args.skip:
                reservation_figures(cluster, tmp, args.contenders, args.rounds, args.pace_ms)
            if "reports" not in args.skip:
                report_figures(cluster, tmp, args.rows, args.runs)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
