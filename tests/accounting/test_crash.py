"""Crash safety: a process killed in the middle of a stream leaves a readable database and a
row marked interrupted with its partial counts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from devflow_tui.accounting.reports import build_report
from devflow_tui.accounting.store import AnalyticsStore
from tests.accounting.conftest import record

REPO = Path(__file__).resolve().parents[2]


def _completion_tokens(path: Path, request_id: str) -> int:
    conn = sqlite3.connect(path, timeout=5)
    try:
        row = conn.execute(
            "SELECT completion_tokens FROM requests WHERE id = ?", (request_id,)
        ).fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


def test_killed_mid_stream_leaves_readable_db_and_interrupted_row(db_path: Path) -> None:
    with AnalyticsStore(db_path) as store:
        earlier = record(store, cost="0.01")  # a finished request that must survive
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.accounting.crash_worker", str(db_path), "streaming-1"],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    try:
        deadline = time.monotonic() + 30
        while _completion_tokens(db_path, "streaming-1") < 120:
            assert proc.poll() is None, "worker exited early"
            assert time.monotonic() < deadline, "worker made no progress"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # The worker's WAL must still be there: our readers never made SQLite think it was gone
    # (regression: a Python open/close of the file used to drop SQLite's locks).
    assert db_path.with_name(db_path.name + "-wal").stat().st_size > 0

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    with AnalyticsStore(db_path) as store:
        row = store.get_request("streaming-1")
        assert row is not None and row.status == "running"
        assert store.mark_stale_running_as_interrupted() == 1
        row = store.get_request("streaming-1")
        assert row is not None and row.status == "interrupted" and not row.complete
        assert row.completion_tokens >= 120 and row.prompt_tokens == 120
        assert row.partial_text is not None
        assert row.partial_text == "tok " * row.completion_tokens
        assert row.cost_usd is None  # unknown, not zero
        assert store.get_request(earlier) is not None
        report = build_report(store, since="24h")
        assert report.totals.requests == 2 and report.totals.failed == 1
        assert report.totals.unknown_cost_requests == 1
