"""Schema migrations: a database written by an older version is migrated, never wiped."""

from __future__ import annotations

import ast
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils

from devflow_tui.accounting import migrations
from devflow_tui.accounting.errors import StoreError
from devflow_tui.accounting.reports import build_report
from devflow_tui.accounting.store import AnalyticsStore
from tests.accounting.conftest import T0, FakeClock

V1_REQUESTS = """
CREATE TABLE requests (
    id TEXT PRIMARY KEY, ts FLOAT, prompt_hash TEXT, task_type TEXT, complexity TEXT,
    requested_model TEXT, model TEXT, routing_reason TEXT, status TEXT, error_category TEXT,
    prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd TEXT, cost_source TEXT,
    latency_ms FLOAT, generation_id TEXT
)
"""
V1_ATTEMPTS = """
CREATE TABLE attempts (
    id INTEGER PRIMARY KEY, request_id TEXT REFERENCES requests(id), n INTEGER, model TEXT,
    status INTEGER, error TEXT, latency_ms FLOAT, wait_before_s FLOAT, ts FLOAT
)
"""


def build_v1(path: Path) -> None:
    """A database as version 1 (only the first migration) wrote it, built by hand."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at FLOAT)")
    conn.execute("INSERT INTO _migrations VALUES ('m001_requests_and_attempts', ?)", (T0 - 86400,))
    conn.execute(V1_REQUESTS)
    conn.execute(V1_ATTEMPTS)
    rows = [
        ("r1", T0 - 3600, "h1", "coding", "low", "auto", "m/a", "cheap", "ok", None, 100, 50,
         "0.0015", "reported", 900.0, "gen-1"),
        ("r2", T0 - 1800, "h2", "chat", "low", "auto", "m/b", "cheap", "error", "network", 80,
         0, None, "unknown", None, None),
        ("r3", T0 - 60, "h3", "coding", "high", "auto", "m/a", "best", "ok", None, 1000, 500,
         "0.0105", "estimated", 2100.0, "gen-3"),
    ]  # fmt: skip
    conn.executemany("INSERT INTO requests VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.execute(
        "INSERT INTO attempts (request_id, n, model, status, error, latency_ms, wait_before_s, "
        "ts) VALUES ('r2', 1, 'm/b', NULL, 'network', 30.0, 0.0, ?)",
        (T0 - 1800,),
    )
    conn.commit()
    conn.close()


def test_v1_database_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "devflow.db"
    build_v1(path)
    store = AnalyticsStore(path, clock=FakeClock())
    try:
        assert store.schema_version == len(migrations.MIGRATIONS)
        r1 = store.get_request("r1")
        r2 = store.get_request("r2")
        r3 = store.get_request("r3")
        assert r1 is not None and r2 is not None and r3 is not None
        assert (r1.model, r1.cost_usd, r1.cost_source, r1.generation_id) == (
            "m/a",
            Decimal("0.0015"),
            "reported",
            "gen-1",
        )
        assert r2.status == "error" and r2.cost_usd is None and r2.error_category == "network"
        # New columns: counts are zero (not unknown) and `complete` follows the status.
        assert r1.reasoning_tokens == 0 and r1.cached_tokens == 0 and not r1.cache_hit
        assert r1.complete and not r2.complete
        assert [a.model for a in store.attempts_for("r2")] == ["m/b"]
        # The rollups were backfilled from the old rows, so reports and budgets see them.
        assert store.spend_since(0) == Decimal("0.0120")
        report = build_report(store, since="all", now=T0)
        assert report.totals.requests == 3 and report.totals.ok == 2
        assert report.totals.cost_reported_usd == Decimal("0.0015")
        assert report.totals.cost_estimated_usd == Decimal("0.0105")
        assert report.totals.unknown_cost_requests == 1
    finally:
        store.close()


def test_each_migration_applies_once(tmp_path: Path) -> None:
    path = tmp_path / "devflow.db"
    AnalyticsStore(path).close()
    AnalyticsStore(path).close()
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY applied_at")]
    conn.close()
    assert names == [fn.__name__ for fn in migrations.MIGRATIONS]
    db = sqlite_utils.Database(sqlite3.connect(path))
    assert migrations.migrate(db) == []


def test_failed_migration_rolls_back_and_keeps_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "devflow.db"
    build_v1(path)

    def m999_broken(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_broken])
    with pytest.raises(RuntimeError):
        AnalyticsStore(path)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    applied = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    count = conn.execute("SELECT count(*) FROM requests").fetchone()[0]
    conn.close()
    assert "half_done" not in tables and "m999_broken" not in applied
    # Every real migration (all but the broken one) stayed applied.
    assert len(applied) == len(migrations.MIGRATIONS) - 1 and count == 3


def test_schema_version_of_empty_database(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "empty.db")
    assert migrations.schema_version(conn) == 0
    assert migrations.pending(conn)


def test_migrations_are_frozen_and_import_no_application_code() -> None:
    """A migration must not call today's code: that code names columns a later migration may
    add, so an old database would stop migrating as soon as it moved on."""
    tree = ast.parse(Path(migrations.__file__).read_text(encoding="utf-8"))
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [name for name in imported if name.startswith("devflow_tui")]


def test_database_from_a_newer_devflow_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "devflow.db"
    AnalyticsStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 0)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as info:
        AnalyticsStore(path)
    assert "newer version of devflow" in str(info.value)
    assert "m999_from_the_future" in str(info.value)
    assert path.read_bytes() == before
