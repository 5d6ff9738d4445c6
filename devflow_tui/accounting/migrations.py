"""Versioned schema migrations for the analytics database (after simonw/llm's migrations.py).

Each migration runs once, in order, in its own `BEGIN IMMEDIATE` transaction together with its
row in `_migrations`, so two processes starting together cannot apply one twice and a crash
half-way leaves the previous version intact. Migrations only add: a database written by an
older version keeps all its rows. The schema version is the number of applied migrations.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

from devflow_tui.accounting import rollup

Migration = Callable[["sqlite_utils.Database"], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def schema_version(conn: sqlite3.Connection) -> int:
    """How many migrations this database has had applied."""
    return len(applied(conn))


def applied(conn: sqlite3.Connection) -> set[str]:
    """Names of the migrations already applied (plain SQL: no sqlite-utils import needed)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if exists is None:
        return set()
    return {row[0] for row in conn.execute("SELECT name FROM _migrations")}


def pending(conn: sqlite3.Connection) -> bool:
    """True when some migration has not been applied to this database yet."""
    return not {fn.__name__ for fn in MIGRATIONS} <= applied(conn)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration the database has not had yet; returns the names applied."""
    conn = db.conn
    applied_now: list[str] = []
    for fn in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not db["_migrations"].exists():
                db.table("_migrations").create({"name": str, "applied_at": float}, pk="name")
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
            if fn.__name__ not in done:
                fn(db)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (fn.__name__, time.time()),
                )
                applied_now.append(fn.__name__)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return applied_now


@migration
def m001_requests_and_attempts(db: sqlite_utils.Database) -> None:
    db.table("requests").create(
        {
            "id": str,
            "ts": float,
            "prompt_hash": str,
            "task_type": str,
            "complexity": str,
            "requested_model": str,
            "model": str,
            "routing_reason": str,
            "status": str,
            "error_category": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "cost_usd": str,
            "cost_source": str,
            "latency_ms": float,
            "generation_id": str,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("attempts").create(
        {
            "id": int,
            "request_id": str,
            "n": int,
            "model": str,
            "status": int,
            "error": str,
            "latency_ms": float,
            "wait_before_s": float,
            "ts": float,
        },
        pk="id",
        foreign_keys=[("request_id", "requests", "id")],
        if_not_exists=True,
    )


@migration
def m002_request_details(db: sqlite_utils.Database) -> None:
    requests = db.table("requests")
    columns = requests.columns_dict
    for name, kind in (
        ("updated", float),
        ("conversation_id", str),
        ("project", str),
        ("error_message", str),
        ("reasoning_tokens", int),
        ("cached_tokens", int),
        ("billed_cost_usd", str),
        ("saved_usd", str),
        ("ttft_ms", float),
        ("tokens_per_s", float),
        ("finish_reason", str),
        ("cache_hit", int),
        ("complete", int),
        ("partial_text", str),
        ("pid", int),
    ):
        if name not in columns:
            requests.add_column(name, kind)
    if "message" not in db.table("attempts").columns_dict:
        db.table("attempts").add_column("message", str)
    # Rows written before these columns existed: counts are zero, not unknown.
    db.execute(
        "UPDATE requests SET reasoning_tokens = coalesce(reasoning_tokens, 0), "
        "cached_tokens = coalesce(cached_tokens, 0), cache_hit = coalesce(cache_hit, 0), "
        "complete = coalesce(complete, status = 'ok')"
    )


@migration
def m003_catalog_budget_cache(db: sqlite_utils.Database) -> None:
    db.table("catalog_cache").create(
        {"id": int, "models_json": str, "fetched_at": float}, pk="id", if_not_exists=True
    )
    db.table("budget_reservations").create(
        {
            "id": str,
            "request_id": str,
            "amount": str,
            "created": float,
            "state": str,
            "pid": int,
        },
        pk="id",
        if_not_exists=True,
    )
    db.table("response_cache").create(
        {
            "key": str,
            "created": float,
            "expires": float,
            "model": str,
            "text": str,
            "prompt_tokens": int,
            "completion_tokens": int,
            "reasoning_tokens": int,
            "cached_tokens": int,
            "cost_usd": str,
            "hits": int,
            "last_hit": float,
        },
        pk="key",
        if_not_exists=True,
    )


@migration
def m004_notes_and_conversations(db: sqlite_utils.Database) -> None:
    db.table("notes").create(
        {"id": int, "text": str, "project": str, "created": float}, pk="id", if_not_exists=True
    )
    db.table("conversations").create(
        {"id": str, "title": str, "created": float, "updated": float, "project": str},
        pk="id",
        if_not_exists=True,
    )
    db.table("messages").create(
        {
            "id": int,
            "conversation_id": str,
            "request_id": str,
            "role": str,
            "content": str,
            "ts": float,
        },
        pk="id",
        foreign_keys=[("conversation_id", "conversations", "id")],
        if_not_exists=True,
    )


@migration
def m005_indexes(db: sqlite_utils.Database) -> None:
    db.execute("CREATE INDEX IF NOT EXISTS idx_requests_ts ON requests (ts)")
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_requests_running ON requests (status) "
        "WHERE status = 'running'"
    )
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_requests_unbilled ON requests (ts) "
        "WHERE generation_id IS NOT NULL AND billed_cost_usd IS NULL"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_attempts_request ON attempts (request_id)")
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_reservations_created ON budget_reservations (created)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS idx_cache_expires ON response_cache (expires)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_messages_conv ON messages (conversation_id, ts)")
    db.execute("CREATE INDEX IF NOT EXISTS idx_conversations_updated ON conversations (updated)")


def _rollup_column(name: str) -> str:
    """The SQL definition of a rollup column (money as decimal strings)."""
    if name in {"cost_reported", "cost_estimated", "saved_cache"}:
        return f"{name} TEXT NOT NULL DEFAULT '0'"
    if name in {"tps_sum", "gen_ms"}:
        return f"{name} REAL NOT NULL DEFAULT 0"
    return f"{name} INTEGER NOT NULL DEFAULT 0"


@migration
def m006_rollups(db: sqlite_utils.Database) -> None:
    defs = ", ".join(_rollup_column(c) for c in rollup.COLUMNS)
    db.execute(
        "CREATE TABLE IF NOT EXISTS rollup_day (day INTEGER NOT NULL, model TEXT NOT NULL, "
        f"task_type TEXT NOT NULL, complexity TEXT NOT NULL, {defs}, "
        "PRIMARY KEY (day, model, task_type, complexity)) WITHOUT ROWID"
    )
    db.execute(f"CREATE TABLE IF NOT EXISTS rollup_total (day INTEGER PRIMARY KEY, {defs})")
    db.execute(
        "CREATE TABLE IF NOT EXISTS rollup_hist (day INTEGER NOT NULL, dim TEXT NOT NULL, "
        "key TEXT NOT NULL, metric INTEGER NOT NULL, bucket INTEGER NOT NULL, "
        "n INTEGER NOT NULL, PRIMARY KEY (day, dim, key, metric, bucket)) WITHOUT ROWID"
    )
    # Backfill from the rows an older version wrote, in chunks to bound memory.
    conn: sqlite3.Connection = db.conn
    cursor = conn.execute(
        f"SELECT {rollup.FINISHED_COLUMNS} FROM requests WHERE status != 'running'"  # noqa: S608
    )
    while chunk := cursor.fetchmany(10_000):
        rollup.apply(conn, [rollup.finished_from_row(row) for row in chunk])


@migration
def m007_unsent_cost_and_generation_time(db: sqlite_utils.Database) -> None:
    """Failed requests never billed cost a known $0; tokens/s becomes total completion tokens
    over total generation time. Both change the rollups, so they are rebuilt from the rows."""
    conn: sqlite3.Connection = db.conn
    for table in ("rollup_day", "rollup_total"):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for column in rollup.COLUMNS:
            if column not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {_rollup_column(column)}")
    conn.execute(
        "UPDATE requests SET cost_usd = '0', cost_source = ? WHERE status = 'error' "
        "AND cost_usd IS NULL AND coalesce(cache_hit, 0) = 0 AND coalesce(prompt_tokens, 0) = 0 "
        "AND coalesce(completion_tokens, 0) = 0 AND coalesce(generation_id, '') = ''",
        (rollup.UNSENT,),
    )
    # Unknown-cost requests `devflow reconcile` can still price: few, so a small index, and
    # it covers the report's count of them per model.
    conn.execute(
        "CREATE INDEX IF NOT EXISTS idx_requests_reconcilable ON requests (ts, model) "
        "WHERE cost_usd IS NULL AND generation_id IS NOT NULL AND billed_cost_usd IS NULL"
    )
    for table in ("rollup_day", "rollup_total", "rollup_hist"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - constant table names
    cursor = conn.execute(
        f"SELECT {rollup.FINISHED_COLUMNS} FROM requests WHERE status != 'running'"  # noqa: S608
    )
    while chunk := cursor.fetchmany(10_000):
        rollup.apply(conn, [rollup.finished_from_row(row) for row in chunk])


@migration
def m_serve_request_client(db: sqlite_utils.Database) -> None:
    """Which client sent each request (claude-code, openai-sdk, anthropic-sdk, dashboard, cli,
    mcp, ...), for spend per client; older rows stay NULL and report as "(unknown)"."""
    conn: sqlite3.Connection = db.conn
    have = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
    if "client" not in have:
        conn.execute("ALTER TABLE requests ADD COLUMN client TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS idx_requests_client ON requests (client, ts)")


@migration
def m_dashboard_comparison_tag(db: sqlite_utils.Database) -> None:
    """Requests sent side by side by the dashboard's compare mode share a comparison id."""
    conn: sqlite3.Connection = db.conn
    have = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
    if "comparison" not in have:
        conn.execute("ALTER TABLE requests ADD COLUMN comparison TEXT")
    conn.execute(
        "CREATE INDEX IF NOT EXISTS idx_requests_comparison ON requests (comparison) "
        "WHERE comparison IS NOT NULL"
    )
