"""Two `devflow serve` processes on one PostgreSQL database, ten client processes sending
through both under a tiny shared budget: the budget holds, every request that reached the
(simulated) OpenRouter is recorded once, and the report's total is what it billed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

from devflow_tui.accounting.reports import build_report
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.sim import SimServer
from tests.pg_fixture import pg_cluster, pg_template, pg_url  # noqa: F401
from tests.serve.serve_process import start_serve
from tests.sim_fixture import sim  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
TOKEN = "dfp-team-test-token"  # obviously fake
BUDGET = Decimal("0.0004")  # a few dozen requests' worst case, far fewer than are sent
CLIENTS, EACH = 10, 6


def test_two_serve_instances_on_postgresql_share_one_budget(
    sim: SimServer,  # noqa: F811
    fake_key: str,
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OPENROUTER_BASE_URL": sim.base_url,
        "OPENROUTER_API_KEY": fake_key,
        "OPENROUTER_COST_BUDGET_USD": str(BUDGET),
        "DEVFLOW_DATABASE_URL": pg_url,
        "DEVFLOW_PROXY_TOKEN": TOKEN,
    }
    servers = [
        start_serve({**env, "DEVFLOW_HOME": str(tmp_path / f"home{i}")}, str(REPO))
        for i in range(2)
    ]
    try:
        go = tmp_path / "go"
        urls = ",".join(url for _, url in servers)
        clients = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.serve.team_client",
                    urls,
                    TOKEN,
                    str(EACH),
                    str(go),
                    f"client {i}",
                ],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(CLIENTS)
        ]
        go.touch()
        answers: Counter[str] = Counter()
        for client in clients:
            answers.update(json.loads(client.communicate(timeout=120)[0]))
            assert client.returncode == 0
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.communicate(timeout=30)
    assert sum(answers.values()) == CLIENTS * EACH
    assert set(answers) <= {"200", "402"} and answers["200"] > 0 and answers["402"] > 0
    billed = {gen_id: Decimal(str(g["total_cost"])) for gen_id, g in sim.generations.items()}
    with AnalyticsStore(tmp_path / "unused.db", url=pg_url) as store:
        rows = store.recent_requests(10_000)
        report = build_report(store, since="all")
    ok = [r for r in rows if r.status == "ok"]
    # Every request that reached the server is recorded, once; refusals never reached it.
    assert sorted(r.generation_id or "" for r in ok) == sorted(billed)
    assert len(ok) == answers["200"] and len(rows) == CLIENTS * EACH
    assert sum(r.status == "refused" for r in rows) == answers["402"]
    # The report's total is what the server billed, and it is within the budget.
    assert report.totals.cost_usd == sum(billed.values(), Decimal(0))
    assert report.totals.cost_usd is not None and report.totals.cost_usd <= BUDGET
