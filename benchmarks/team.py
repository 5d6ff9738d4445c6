"""Team benchmark: `devflow serve` on PostgreSQL against on SQLite, reports over many rows in
PostgreSQL, and budget reservations under contention.

Run: `.venv/bin/python benchmarks/team.py [--rows 1000000] [--contenders 100] [--rounds 200]`.

1. Requests per second and added latency through `devflow serve` (a team budget active, so
   every request takes a reservation) at 1, 10 and 100 concurrent clients, with the proxy's
   database on SQLite and on PostgreSQL; the baseline is the same request sent straight to the
   simulated OpenRouter (`time_scale=0`: it answers at once), so the difference is the proxy.
2. The report queries over `--rows` synthetic requests loaded into PostgreSQL (the bulk path of
   benchmarks/analytics.py), and into SQLite for comparison. Target: < 200 ms each.
3. Budget reservation (reserve + release) latency with `--contenders` clients, each with its
   own connection, reserving against one budget on PostgreSQL back to back (the worst case,
   every client reserving at once) and paced (each every ~`--pace-ms`): as threads of this
   process, then as separate processes (as serve instances and CLIs are, each with its own
   interpreter). Target: p95 < 5 ms. The floor, in the same run, with the same clients: a
   `SELECT 1` round trip in place of each reservation and of each release, which is what
   the machine, the harness and the server cost without the budget lock. Each row also
   gives the CPU time per round of the server processes and of the clients (which load
   disturbs far less than latency) and the rate the machine's cores could sustain at that
   CPU cost: the observed rate's shortfall from it is waiting (locks, the scheduler).

PostgreSQL is a throw-away cluster started like the tests' (tests/pg_cluster.py, durability
off: fsync and synchronous commit off flatter write figures a little against a real server),
except for the reservations: they run on a server of their own that flushes every commit to
disk, as a team's server would (a lock is held until its transaction's commit is on disk),
and on one that does not, in turn (`--commits`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import NamedTuple

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.pg_cluster; this folder is on the path already

from analytics import PRICES, bulk_load, median_ms, synthetic_rows  # noqa: E402

from devflow_tui.accounting import migrations_pg  # noqa: E402
from devflow_tui.accounting.budget import BudgetManager  # noqa: E402
from devflow_tui.accounting.database import PgConnection  # noqa: E402
from devflow_tui.accounting.members import Members  # noqa: E402
from devflow_tui.accounting.reports import Report, build_report  # noqa: E402
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


def _member_token(home: Path, url: str | None) -> str:
    """A team member's proxy token, in the database the proxy at `home` (or `url`) uses."""
    home.mkdir(parents=True, exist_ok=True)
    with AnalyticsStore(home / "devflow.db", url=url) as store:
        return Members(store).add("ada")


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
        # Each request is sent with a team member's token, as a team's people send them.
        tokens = {
            "sqlite": _member_token(tmp / "serve-sqlite", None),
            "postgresql": _member_token(tmp / "serve-pg", pg_url),
        }
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
                for name, (_, url) in proxies.items():
                    rps, ms = asyncio.run(
                        load(
                            f"{url}/v1/chat/completions",
                            {"Authorization": f"Bearer {tokens[name]}"},
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


# Rows generated by PostgreSQL itself, in time order (as requests arrive), one statement per
# million: ~90 days of traffic from 20 models, 5 task types, 5 clients and 12 members, with
# the same mix as benchmarks/analytics.py (93 % ok, 3 % cache hits, 5 % unknown cost) and 2 %
# of answers re-asked by the next request. A fixed seed: every run loads the same rows.
_MODELS_SQL = "'vendor' || (mi %% 6) || '/model-' || mi"
_COST_SQL = "(prompt * (mi + 1) / 10000000.0 + completion * (mi + 1) / 2500000.0)"
_ESCALATES = "((({g}) * 2654435761) %% 1000 < 20)"  # does request g re-ask request g - 1?
_GENERATE = (  # built from the constants above only
    "WITH s AS (SELECT g, %(t0)s + g * %(step)s AS ts, "  # noqa: S608
    "floor(random() * 20)::int AS mi, "
    "random() AS rs, random() AS rc, random() AS rh, random() AS rl, random() AS rt, "
    "random() AS rf, floor(random() * 5)::int AS ti, floor(random() * 3)::int AS ci, "
    "50 + floor(random() * 5951)::int AS prompt, random() AS rp, "
    "floor(random() * 5)::int AS cl, floor(random() * 12)::int AS mb "
    "FROM generate_series(%(first)s, %(last)s) AS g), "
    "t AS (SELECT *, CASE WHEN rs < 0.93 THEN 'ok' WHEN rs < 0.97 THEN 'error' "
    "WHEN rs < 0.99 THEN 'cancelled' ELSE 'interrupted' END AS status FROM s), "
    "u AS (SELECT *, CASE WHEN status = 'ok' THEN 10 + floor(rp * 1491)::int "
    "ELSE floor(rp * 201)::int END AS completion, status = 'ok' AND rh < 0.03 AS hit, "
    # a log-normal latency (median ~1.1 s), by the Box-Muller transform
    "CASE WHEN status = 'ok' THEN exp(7.0 + 0.6 * sqrt(-2 * ln(greatest(rl, 1e-12))) "
    "* cos(2 * pi() * rt)) END AS latency FROM t) "
    "INSERT INTO requests (id, ts, updated, task_type, complexity, requested_model, model, "
    "status, prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_usd, "
    "cost_source, saved_usd, latency_ms, ttft_ms, tokens_per_s, cache_hit, complete, client, "
    "member, escalation_of, escalated) "
    "SELECT 'bench-' || g, ts, ts, (ARRAY['coding', 'analysis', 'creative', 'reasoning', "
    f"'chat'])[ti + 1], (ARRAY['low', 'medium', 'high'])[ci + 1], {_MODELS_SQL}, {_MODELS_SQL}, "
    "status, prompt, completion, 0, 0, "
    f"CASE WHEN hit THEN 0 WHEN rc < 0.95 THEN {_COST_SQL} END, "
    "CASE WHEN hit THEN 'cache' WHEN rc < 0.85 THEN 'reported' WHEN rc < 0.95 THEN 'estimated' "
    f"ELSE 'unknown' END, CASE WHEN hit THEN {_COST_SQL} END, "
    "latency, latency * (0.1 + 0.3 * rf), completion / (latency / 1000), hit::int, "
    "(status = 'ok')::int, (ARRAY['claude-code', 'openai-sdk', 'anthropic-sdk', 'dashboard', "
    "'cli'])[cl + 1], 'member-' || mb, "
    f"CASE WHEN g > 1 AND {_ESCALATES.format(g='g')} THEN 'bench-' || (g - 1) END, "
    f"{_ESCALATES.format(g='g + 1')}::int FROM u"
)
_CHUNK = 1_000_000


def load_pg_rows(cluster: TempCluster, database: str, rows: int, days: int, now: float) -> None:
    """`rows` requests over `days` days up to `now`, generated in the server, then their
    rollups built the way the migration that added them backfills them (one pass per table
    over the rows, GROUPING SETS), then VACUUM ANALYZE as autovacuum would in time."""
    step = days * 86_400 / rows
    with cluster.connect(database) as conn:
        conn.execute("SELECT setseed(0.42)")
        t0 = time.perf_counter()
        for first in range(1, rows + 1, _CHUNK):
            last = min(rows, first + _CHUNK - 1)
            conn.execute(
                _GENERATE,
                {"t0": now - days * 86_400 - step / 2, "step": step, "first": first, "last": last},
            )
            print(f"  {last:,} rows in {time.perf_counter() - t0:.0f} s", flush=True)
        t1 = time.perf_counter()
        with conn.transaction():
            conn.execute("SET LOCAL work_mem = '256MB'")
            migrations_pg.pg009_rebuild_rollups(PgConnection(conn))
        t2 = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        t3 = time.perf_counter()
    print(
        f"postgresql: {rows:,} rows generated in {t1 - t0:.0f} s ({rows / (t1 - t0):,.0f}/s), "
        f"rollups built in {t2 - t1:.0f} s, VACUUM ANALYZE {t3 - t2:.0f} s"
    )


_PERCENTILE_FIELDS = frozenset(
    {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "ttft_p50_ms", "ttft_p95_ms"}
)


def _same_figures(a: Report, b: Report) -> bool:
    """Every figure equal, percentiles within 3 % (histograms against exact values)."""
    groups = ("totals", "by_model", "by_task", "by_day", "by_client", "by_member")
    for name in groups:
        left, right = getattr(a, name), getattr(b, name)
        pairs = [(left, right)] if name == "totals" else list(zip(left, right, strict=False))
        if name != "totals" and len(left) != len(right):
            return False
        for x, y in pairs:
            if x.model_dump(exclude=_PERCENTILE_FIELDS) != y.model_dump(exclude=_PERCENTILE_FIELDS):
                return False
            for field in _PERCENTILE_FIELDS:
                u, v = getattr(x, field), getattr(y, field)
                if (u is None) != (v is None) or (u is not None and abs(u - v) > 0.031 * abs(v)):
                    return False
    return a.escalations == b.escalations and a.savings == b.savings


def report_figures(cluster: TempCluster, tmp: Path, rows: int, sqlite_rows: int, runs: int) -> None:
    now = time.time()
    prices = {m: dict(p) for m, p in PRICES.items()}
    print(f"== reports over {rows:,} requests (90 days) in PostgreSQL, median of {runs} runs")
    database = cluster.create_database()
    stores = {"postgresql": AnalyticsStore(tmp / "unused.db", url=cluster.url(database))}
    try:
        load_pg_rows(cluster, database, rows, 90, now)
        if sqlite_rows:
            stores["sqlite"] = AnalyticsStore(tmp / "report.db")
            t0 = time.perf_counter()
            bulk_load(stores["sqlite"], synthetic_rows(sqlite_rows, 90, now))
            print(
                f"sqlite: {sqlite_rows:,} rows with their rollups through the store's write "
                f"path, in bulk, in {time.perf_counter() - t0:.0f} s"
            )
        windows = ("24h", "7d", "30d", "all")
        results = {
            name: {
                since: median_ms(
                    functools.partial(build_report, store, since=since, prices=prices, now=now),
                    runs,
                )
                for since in windows
            }
            for name, store in stores.items()
        }
        header = f"{'report --since':<16} {'postgres ms':>12}"
        if sqlite_rows:
            header += f" {'sqlite ms':>10} (over {sqlite_rows:,} rows)"
        print(header)
        for since in windows:
            pg = results["postgresql"][since]
            line = f"{since:<16} {pg:>12.1f}"
            if sqlite_rows:
                line += f" {results['sqlite'][since]:>10.1f}"
            mark = "" if pg < REPORT_TARGET_MS else "  (over the 200 ms target)"
            print(line + mark)
        pg_store = stores["postgresql"]
        report = build_report(pg_store, since="all", prices=prices, now=now)
        print(
            f"all time: {report.totals.requests:,} requests, {report.totals.cost_usd} USD, "
            f"{len(report.by_member)} members, {len(report.by_client)} clients, "
            f"{sum(e.escalated for e in report.escalations):,} escalated answers"
        )
        t0 = time.perf_counter()
        rows_report = build_report(pg_store, since="24h", prices=prices, now=now, from_rows=True)
        elapsed = time.perf_counter() - t0
        same = _same_figures(
            build_report(pg_store, since="24h", prices=prices, now=now), rows_report
        )
        print(
            f"check: the 24h report added up from its {rows_report.totals.requests:,} rows "
            f"({elapsed:.1f} s) has the same figures as the rollups' (percentiles within 3 %): "
            f"{same}"
        )
    finally:
        for store in stores.values():
            store.close()


# What each client times, one round after another: (label, kind). `floor` is a `SELECT 1`
# round trip in place of the reservation and another in place of its release: the same
# clients, connections and pacing with no budget lock, i.e. what the machine, the harness
# and the server cost; the reservations' excess over it is what the budget lock adds.
_WORKLOADS = (
    ("SELECT 1 (floor)", "floor"),
    ("devflow_reserve", "server"),
    ("client transaction", "client"),
)


class _ClientRounds(NamedTuple):
    times: list[float]
    began: float
    ended: float
    cpu_s: float


class _Outcome(NamedTuple):
    """One workload's run: every client's timed steps (sorted), rounds per second, and the
    CPU time per round of the clients and of their server processes (load hardly changes
    CPU time, unlike latency: the machine is shared)."""

    times: list[float]
    rate: float
    client_cpu_ms: float
    server_cpu_ms: float


def _client_rounds(
    store: AnalyticsStore,
    settings: BudgetSettings,
    kind: str,
    seed: int,
    rounds: int,
    pause_ms: float,
    wait: Callable[[], object],
) -> _ClientRounds:
    """One client's rounds: the milliseconds of each timed step, when it began and ended
    (perf_counter is the system's monotonic clock: comparable across processes), and the
    CPU time of its process meanwhile."""
    budget = BudgetManager(store, settings, reserve_in_server=kind != "client")
    rnd = random.Random(seed)
    times = []
    wait()
    began, cpu = time.perf_counter(), time.process_time()
    for i in range(rounds):
        if pause_ms:
            time.sleep(rnd.uniform(0, 2 * pause_ms) / 1000)
        start = time.perf_counter()
        if kind == "floor":
            store.fetch_row("SELECT 1")
            times.append((time.perf_counter() - start) * 1000)
            store.fetch_row("SELECT 1")  # where the release goes
        else:
            held = budget.reserve(f"bench-{seed}-{i}", Decimal("0.01"))
            times.append((time.perf_counter() - start) * 1000)
            budget.release(held)  # (the request would run here)
    return _ClientRounds(times, began, time.perf_counter(), time.process_time() - cpu)


def _process_client(
    pipe: Connection, go: EventType, url: str, settings: BudgetSettings, seed: int
) -> None:
    """A contender in a process of its own (as separate serve instances and CLIs are): opens
    its store, then runs each (kind, rounds, pause) it is sent when `go` is set."""
    with AnalyticsStore(Path("unused.db"), url=url) as store:
        while (order := pipe.recv()) is not None:
            kind, rounds, pause_ms = order
            pipe.send("ready")
            pipe.send(_client_rounds(store, settings, kind, seed, rounds, pause_ms, go.wait))


class _Contenders:
    """`n` clients, each with its own connection, as threads of this process or as processes."""

    def __init__(self, url: str, n: int, settings: BudgetSettings, tmp: Path) -> None:
        self.settings = settings
        # Forked before this process opens a connection: no child inherits one.
        context = multiprocessing.get_context("fork")
        self.go = context.Event()
        self.pipes: list[Connection] = []
        self.procs = []
        for seed in range(n):
            parent, child = context.Pipe()
            proc = context.Process(
                target=_process_client, args=(child, self.go, url, settings, seed), daemon=True
            )
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        self.stores = [AnalyticsStore(tmp / "unused.db", url=url) for _ in range(n)]

    def run(self, mode: str, kind: str, rounds: int, pause_ms: float) -> _Outcome:
        """Every client at once, as threads or as processes; or (`alone`) the first only."""
        server0, this0 = self._server_cpu(), _own_cpu()
        if mode == "alone":
            results = [
                _client_rounds(self.stores[0], self.settings, kind, 0, rounds, 0, lambda: None)
            ]
            client_cpu = _own_cpu() - this0
        elif mode == "threads":
            results = self._threads(kind, rounds, pause_ms)
            client_cpu = _own_cpu() - this0
        else:
            for pipe in self.pipes:
                pipe.send((kind, rounds, pause_ms))
            for pipe in self.pipes:
                pipe.recv()  # ready
            self.go.set()
            results = [pipe.recv() for pipe in self.pipes]
            self.go.clear()
            client_cpu = sum(r.cpu_s for r in results)
        server_cpu = self._server_cpu() - server0
        times = sorted(t for result in results for t in result.times)
        wall = max(r.ended for r in results) - min(r.began for r in results)
        n = len(times)
        return _Outcome(times, n / wall, client_cpu * 1000 / n, server_cpu * 1000 / n)

    def _server_cpu(self) -> float:
        """CPU seconds so far of the server processes of every client's connections (on this
        machine: /proc; zero elsewhere)."""
        with self.stores[0].transaction() as conn:
            pids = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'devflow'"
            ).fetchall()
        return sum(_proc_cpu(pid) for (pid,) in pids)

    def _threads(self, kind: str, rounds: int, pause_ms: float) -> list[_ClientRounds]:
        go = threading.Event()
        results: list[_ClientRounds] = []

        def contend(store: AnalyticsStore, seed: int) -> None:
            result = _client_rounds(store, self.settings, kind, seed, rounds, pause_ms, go.wait)
            results.append(result)  # list.append is atomic

        threads = [
            threading.Thread(target=contend, args=(store, seed))
            for seed, store in enumerate(self.stores)
        ]
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:
            thread.join()
        return results

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join(timeout=30)
        for store in self.stores:
            store.close()


def reservation_figures(
    tmp: Path, contenders: int, rounds: int, pace_ms: float, durable: bool
) -> None:
    """On a server of its own: two connections per client (a store's writer and reader) for
    threads and processes at once; `durable`: every commit flushed to disk before it returns
    (fsync, synchronous_commit), as a team's server runs, where a row lock is released only
    once its transaction's commit is on disk."""
    settings = {"max_connections": str(4 * contenders + 50)}
    if durable:
        settings |= {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    cluster = TempCluster(settings)
    try:
        _reservation_figures(cluster, tmp, contenders, rounds, pace_ms, durable)
    finally:
        cluster.stop()


def _reservation_figures(
    cluster: TempCluster,
    tmp: Path,
    contenders: int,
    rounds: int,
    pace_ms: float,
    durable: bool,
) -> None:
    print(
        f"== budget reservation on PostgreSQL, {contenders} clients, each with its own "
        "connection: threads of this process, then separate processes (as serve instances "
        "and CLIs are); commits "
        + ("flushed to disk" if durable else "not flushed")
        + "; load average before: "
        + " ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    url = cluster.url(cluster.create_database())
    settings = BudgetSettings(limit_usd=Decimal(10**9), monthly_usd=Decimal(10**9))
    clients = _Contenders(url, contenders, settings, tmp)
    sys.setswitchinterval(0.0005)  # threads stand in for processes: hand the GIL over quickly
    try:
        cores = os.cpu_count() or 1
        print(
            f"{'clients':<28} {'workload':<19} {'mode':<9} {'p50 ms':>7} {'p95 ms':>8} "
            f"{'per s':>6} {'p95/floor':>9} {'CPU ms: server':>14} {'clients':>7} "
            f"{'ceiling/s':>9} {'machine busy %':>14}"
        )
        for label, pause, modes in (
            ("1 alone", 0.0, ("alone",)),
            (f"{contenders} back to back", 0.0, ("threads", "processes")),
            (f"{contenders} each every ~{pace_ms:.0f} ms", pace_ms, ("threads", "processes")),
        ):
            floors: dict[str, float] = {}
            for mode in modes:
                for how, kind in _WORKLOADS:
                    busy0, total0 = _machine_busy()
                    run = clients.run(mode, kind, 200 if mode == "alone" else rounds, pause)
                    busy1, total1 = _machine_busy()
                    busy = 100 * (busy1 - busy0) / max(total1 - total0, 1)
                    times = run.times
                    p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95)]
                    floors.setdefault(mode, p95)
                    # The rate the machine's cores could sustain if CPU were all a round
                    # needed: what is over the observed rate is waiting (locks, scheduling).
                    ceiling = cores * 1000 / (run.server_cpu_ms + run.client_cpu_ms)
                    mark = "" if kind == "floor" or p95 < RESERVE_TARGET_MS else "  (over 5 ms)"
                    print(
                        f"{label:<28} {how:<19} {mode:<9} {p50:>7.2f} "
                        f"{p95:>8.2f} {run.rate:>6.0f} {p95 / floors[mode]:>9.2f} "
                        f"{run.server_cpu_ms:>14.3f} {run.client_cpu_ms:>7.3f} {ceiling:>9.0f} "
                        f"{busy:>14.0f}{mark}"
                    )
    finally:
        sys.setswitchinterval(0.005)
        clients.close()
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _proc_cpu(pid: int) -> float:
    """CPU seconds of a process so far, as the scheduler counts it (exact, unlike the ticks
    of /proc/PID/stat, which miss processes that run in short bursts); 0 without /proc."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def _own_cpu() -> float:
    """CPU seconds of this process so far (all its threads)."""
    times = os.times()
    return times.user + times.system


def _machine_busy() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far (/proc/stat; zeros elsewhere)."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="requests loaded into PostgreSQL (10 M: ~N min)"
    )
    parser.add_argument(
        "--sqlite-rows",
        type=int,
        default=200_000,
        help="requests loaded into SQLite through the store's bulk path, for comparison (0: none)",
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--contenders", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--pace-ms", type=float, default=500.0, help="mean pause between a client's reservations"
    )
    parser.add_argument(
        "--commits",
        choices=["fast", "durable", "both"],
        default="both",
        help="reservations on a server that does not flush commits to disk (fast, as the "
        "tests' and the other figures' server), on one that does (durable, as a team's "
        "server would), or both in turn",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["serve", "reports", "reservations"]
    )
    args = parser.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    # A team's server has more than the tests' 64 MB of shared buffers; hash aggregates of the
    # rollup rebuild get room to run in memory.
    cluster = TempCluster({"shared_buffers": "1GB", "work_mem": "64MB", "max_wal_size": "8GB"})
    try:
        with tempfile.TemporaryDirectory(prefix="devflow-team-bench-") as folder:
            tmp = Path(folder)
            if "serve" not in args.skip:
                serve_figures(cluster, tmp)
            if "reservations" not in args.skip:
                for durable in {"fast": (False,), "durable": (True,)}.get(
                    args.commits, (False, True)
                ):
                    reservation_figures(tmp, args.contenders, args.rounds, args.pace_ms, durable)
            if "reports" not in args.skip:
                report_figures(cluster, tmp, args.rows, args.sqlite_rows, args.runs)
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
