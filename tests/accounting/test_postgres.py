"""The PostgreSQL backend: its migrations, its errors, its settings, and reports identical
to SQLite's on the same requests. (Every store, budget, cache and report test also runs on
PostgreSQL: see conftest.py.)"""

from __future__ import annotations

import ast
import random
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from devflow_tui.accounting import migrations_pg
from devflow_tui.accounting.database import PgConnection, backend_for, redact_url
from devflow_tui.accounting.errors import StoreError
from devflow_tui.accounting.reports import build_report, report_to_csv
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import load_settings
from devflow_tui.errors import ConfigError
from tests.accounting.conftest import T0, FakeClock, record
from tests.pg_cluster import TempCluster
from tests.pg_fixture import pg_empty_url  # noqa: F401

_V1_ROW = (
    "INSERT INTO requests (id, ts, model, task_type, complexity, status, prompt_tokens, "
    "completion_tokens, reasoning_tokens, cached_tokens, cost_usd, cost_source, cache_hit, "
    "complete, latency_ms, ttft_ms) VALUES ('old-1', %s, 'm/a', 'coding', 'low', 'ok', 100, "
    "50, 0, 0, '0.0015', 'reported', 0, 1, 900.0, 100.0)"
)


@pytest.mark.parametrize("version", range(len(migrations_pg.MIGRATIONS)))
def test_migrates_from_each_earlier_version_and_keeps_rows(
    pg_empty_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    version: int,
) -> None:
    """A database left at `version` (0: empty) by an older devflow reaches the latest one."""
    raw = psycopg.connect(pg_empty_url, autocommit=True)
    try:
        conn = PgConnection(raw)
        monkeypatch.setattr(migrations_pg, "MIGRATIONS", migrations_pg.MIGRATIONS[:version])
        assert len(migrations_pg.migrate(conn)) == version
        monkeypatch.undo()
        if version:
            raw.execute(_V1_ROW, (T0 - 60,))
    finally:
        raw.close()
    with AnalyticsStore(tmp_path / "x.db", url=pg_empty_url, clock=FakeClock()) as store:
        assert store.backend == "postgresql"
        assert store.schema_version == len(migrations_pg.MIGRATIONS)
        record(store, model="m/b", cost="0.002", ts=T0 - 30)
        report = build_report(store, since="24h", now=T0)
        names = [fn.__name__ for fn in migrations_pg.MIGRATIONS]
        if version:
            old = store.get_request("old-1")
            assert old is not None and old.cost_usd == Decimal("0.0015")
        if 0 < version <= names.index("pg005_rollup_parties"):
            # pg005 rebuilt the rollups from the rows: those written before count too.
            assert report.totals.requests == 2 and report.totals.cost_usd == Decimal("0.0035")
            assert report == build_report(store, since="24h", now=T0, from_rows=True)
        else:
            assert report.totals.requests == 1 and report.totals.cost_usd == Decimal("0.002")


def test_each_migration_applies_once_even_when_two_open_at_once(
    pg_empty_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    first = AnalyticsStore(tmp_path / "x.db", url=pg_empty_url)
    second = AnalyticsStore(tmp_path / "x.db", url=pg_empty_url)
    try:
        with psycopg.connect(pg_empty_url) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY name")]
        assert names == sorted(fn.__name__ for fn in migrations_pg.MIGRATIONS)
        assert first.schema_version == second.schema_version == len(names)
    finally:
        first.close()
        second.close()


def test_failed_migration_rolls_back_and_keeps_the_previous_version(
    pg_empty_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def pg999_broken(conn: object) -> None:
        PgConnection.execute(conn, "CREATE TABLE half_done (x INTEGER)")  # type: ignore[arg-type]
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations_pg, "MIGRATIONS", [*migrations_pg.MIGRATIONS, pg999_broken])
    with pytest.raises(RuntimeError):
        AnalyticsStore(tmp_path / "x.db", url=pg_empty_url)
    with psycopg.connect(pg_empty_url) as conn:
        applied = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
        half = conn.execute("SELECT to_regclass('half_done')").fetchone()
    assert half == (None,)
    assert applied == {fn.__name__ for fn in migrations_pg.MIGRATIONS[:-1]}


def test_database_from_a_newer_devflow_is_refused(pg_url: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO _migrations VALUES ('pg999_from_the_future', 0)")
    with pytest.raises(StoreError) as info:
        AnalyticsStore(tmp_path / "x.db", url=pg_url)
    assert "newer version of devflow" in str(info.value)
    assert "pg999_from_the_future" in str(info.value)


def test_pg_migrations_are_frozen_and_import_no_application_code() -> None:
    tree = ast.parse(Path(migrations_pg.__file__).read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    # Only a type, for annotations (under TYPE_CHECKING): no code of today runs in a migration.
    assert [name for name in imported if name.startswith("devflow_tui")] == [
        "devflow_tui.accounting.database"
    ]


def test_unreachable_server_is_a_clear_error_without_the_password(
    pg_cluster: TempCluster, tmp_path: Path
) -> None:
    url = f"postgresql://devflow:s3cret-pw@127.0.0.1:{pg_cluster.port}/no_such_database"
    with pytest.raises(StoreError) as info:
        AnalyticsStore(tmp_path / "x.db", url=url)
    text = str(info.value)
    assert "Cannot connect to the PostgreSQL database" in text and "DEVFLOW_DATABASE_URL" in text
    assert "s3cret-pw" not in text and "devflow:***@127.0.0.1" in text


def test_a_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="not a PostgreSQL URL"):
        backend_for(tmp_path / "x.db", "mysql://u:pw@host/db", 5.0)
    assert redact_url("postgresql://u:pw@h:5/d") == "postgresql://u:***@h:5/d"
    assert redact_url("postgresql://h/d") == "postgresql://h/d"


def test_setting_chooses_the_backend_and_hides_the_password(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVFLOW_DATABASE_URL", pg_url)
    settings = load_settings()
    assert settings.database_url is not None
    with AnalyticsStore.open(settings) as store:
        assert store.backend == "postgresql" and store.location == pg_url
    monkeypatch.setenv("DEVFLOW_DATABASE_URL", "")
    with AnalyticsStore.open(load_settings()) as store:
        assert store.backend == "sqlite"
    monkeypatch.setenv("DEVFLOW_DATABASE_URL", "mysql://user:hunter2@db/x")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "DEVFLOW_DATABASE_URL" in str(info.value) and "hunter2" not in str(info.value)
    monkeypatch.setenv("DEVFLOW_DATABASE_URL", "postgresql://user:hunter2@db/x")
    assert "hunter2" not in repr(load_settings())


def test_reports_are_identical_on_both_backends(pg_url: str, tmp_path: Path) -> None:
    """The same requests give the same report, to the last digit and in the same order."""
    clock = FakeClock()
    sqlite_store = AnalyticsStore(tmp_path / "devflow.db", clock=clock)
    pg_store = AnalyticsStore(tmp_path / "unused.db", url=pg_url, clock=clock)
    rnd = random.Random(13)
    try:
        for _ in range(150):
            status = rnd.choice(["ok", "ok", "ok", "error", "interrupted", "cancelled", "refused"])
            hit = status == "ok" and rnd.random() < 0.15
            fields = {
                "model": rnd.choice(["m/a", "m/b", None]),
                "task": rnd.choice(["coding", "chat", None]),
                "complexity": rnd.choice(["low", "high"]),
                "status": status,
                "prompt": rnd.choice([0, 10, 1234]),
                "completion": rnd.choice([0, 5, 800]),
                "cost": None if hit else rnd.choice([None, "0", "0.0012", "0.35", "1E-7"]),
                "source": rnd.choice(["reported", "estimated"]),
                "latency": rnd.choice([None, 0.0, 12.5, 950.0, 4100.0]),
                "ttft": rnd.choice([None, 0.0, 3.0, 400.0]),
                "cache_hit": hit,
                "saved": "0.002" if hit else None,
                "ts": T0 - rnd.uniform(0, 40 * 86_400),
            }
            for store in (sqlite_store, pg_store):
                record(store, **fields)  # type: ignore[arg-type]
        for since in ("24h", "7d", "30d", "all"):
            for exact_limit in (20_000, 0):  # exact percentiles, and from the histograms
                reports = [
                    build_report(store, since=since, now=T0, exact_limit=exact_limit)
                    for store in (sqlite_store, pg_store)
                ]
                assert reports[0] == reports[1], since
                assert report_to_csv(reports[0], "day") == report_to_csv(reports[1], "day")
        assert sqlite_store.spend_since(T0 - 86_400 * 3.5) == pg_store.spend_since(
            T0 - 86_400 * 3.5
        )
    finally:
        sqlite_store.close()
        pg_store.close()
