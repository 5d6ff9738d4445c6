"""Versioned schema migrations for the analytics database (after simonw/llm's migrations.py).

Each migration runs once, in order, in its own `BEGIN IMMEDIATE` transaction together with its
row in `_migrations`, so two processes starting together cannot apply one twice and a crash
half-way leaves the previous version intact. Migrations only add: a database written by an
older version keeps all its rows. The schema version is the number of applied migrations.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils

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


def unknown(conn: sqlite3.Connection) -> list[str]:
    """Migrations this database has that this version does not know: a newer devflow wrote
    it, and its schema may mean things this version would get wrong."""
    known = {fn.__name__ for fn in MIGRATIONS}
    return sorted(name for name in applied(conn) if name not in known)


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


# Below, every migration is frozen: literal SQL and literal column lists as they were when it
# was written, never today's rollup code (which names columns a later migration may add, so an
# old database would break as soon as that code moves on). A migration that needs a helper
# carries its own copy, suffixed with its number.

_M006_SUMS = (
    "n INTEGER NOT NULL DEFAULT 0, ok INTEGER NOT NULL DEFAULT 0, "
    "failed INTEGER NOT NULL DEFAULT 0, cancelled INTEGER NOT NULL DEFAULT 0, "
    "refused INTEGER NOT NULL DEFAULT 0, cache_hits INTEGER NOT NULL DEFAULT 0, "
    "unknown_cost INTEGER NOT NULL DEFAULT 0, prompt INTEGER NOT NULL DEFAULT 0, "
    "completion INTEGER NOT NULL DEFAULT 0, reasoning INTEGER NOT NULL DEFAULT 0, "
    "cached INTEGER NOT NULL DEFAULT 0, cost_reported TEXT NOT NULL DEFAULT '0', "
    "cost_estimated TEXT NOT NULL DEFAULT '0', saved_cache TEXT NOT NULL DEFAULT '0', "
    "priced_n INTEGER NOT NULL DEFAULT 0, priced_prompt INTEGER NOT NULL DEFAULT 0, "
    "priced_completion INTEGER NOT NULL DEFAULT 0, priced_cached INTEGER NOT NULL DEFAULT 0, "
    "priced_reasoning INTEGER NOT NULL DEFAULT 0, tps_sum REAL NOT NULL DEFAULT 0, "
    "tps_n INTEGER NOT NULL DEFAULT 0"
)


@migration
def m006_rollups(db: sqlite_utils.Database) -> None:
    """The rollup tables as version 0.1 defined them. Their backfill then is not repeated here:
    m007, which always runs after this one, empties the rollups and rebuilds them from the rows,
    so an old backfill would be thrown away unread."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS rollup_day (day INTEGER NOT NULL, model TEXT NOT NULL, "
        f"task_type TEXT NOT NULL, complexity TEXT NOT NULL, {_M006_SUMS}, "
        "PRIMARY KEY (day, model, task_type, complexity)) WITHOUT ROWID"
    )
    db.execute(f"CREATE TABLE IF NOT EXISTS rollup_total (day INTEGER PRIMARY KEY, {_M006_SUMS})")
    db.execute(
        "CREATE TABLE IF NOT EXISTS rollup_hist (day INTEGER NOT NULL, dim TEXT NOT NULL, "
        "key TEXT NOT NULL, metric INTEGER NOT NULL, bucket INTEGER NOT NULL, "
        "n INTEGER NOT NULL, PRIMARY KEY (day, dim, key, metric, bucket)) WITHOUT ROWID"
    )


class _M007DecSum:
    """m007's own exact sum of decimal strings (as a decimal string)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += Decimal(value)

    def finalize(self) -> str:
        return str(self.total)


def _m007_bucket(value: float | None) -> int | None:
    """m007's histogram bucket of a duration in ms: buckets 6 % wide, zero in its own."""
    if value is None:
        return None
    if value <= 0:
        return -100_000
    return math.floor(math.log(value) / math.log(1.06))


# One request row's contribution to every rollup column of version 0.2, summed over a group.
_M007_PRICED = (
    "(coalesce(cache_hit, 0) = 0 AND cost_usd IS NOT NULL "
    "AND coalesce(cost_source, 'unknown') != 'unsent')"
)
_M007_TIMED = (
    "(status = 'ok' AND coalesce(cache_hit, 0) = 0 AND latency_ms IS NOT NULL "
    "AND ttft_ms IS NOT NULL AND latency_ms > ttft_ms)"
)
_M007_COLUMNS = (
    "n, ok, failed, cancelled, refused, cache_hits, unknown_cost, prompt, completion, "
    "reasoning, cached, cost_reported, cost_estimated, saved_cache, priced_n, priced_prompt, "
    "priced_completion, priced_cached, priced_reasoning, gen_tokens, gen_ms"
)
_M007_SUMS = ", ".join(
    (
        "count(*)",
        "total(status = 'ok')",
        "total(status IN ('error', 'interrupted'))",
        "total(status = 'cancelled')",
        "total(status = 'refused')",
        "total(coalesce(cache_hit, 0) != 0)",
        "total(coalesce(cache_hit, 0) = 0 AND coalesce(cost_source, 'unknown') != 'unsent' "
        "AND cost_usd IS NULL AND status != 'refused')",
        "total(coalesce(prompt_tokens, 0))",
        "total(coalesce(completion_tokens, 0))",
        "total(coalesce(reasoning_tokens, 0))",
        "total(coalesce(cached_tokens, 0))",
        f"m007_dec_sum(CASE WHEN {_M007_PRICED} AND cost_source = 'reported' THEN cost_usd END)",
        f"m007_dec_sum(CASE WHEN {_M007_PRICED} AND coalesce(cost_source, 'unknown') "
        "!= 'reported' THEN cost_usd END)",
        "m007_dec_sum(CASE WHEN coalesce(cache_hit, 0) != 0 THEN coalesce(saved_usd, '0') END)",
        f"total({_M007_PRICED})",
        f"total(CASE WHEN {_M007_PRICED} THEN coalesce(prompt_tokens, 0) END)",
        f"total(CASE WHEN {_M007_PRICED} THEN coalesce(completion_tokens, 0) END)",
        f"total(CASE WHEN {_M007_PRICED} THEN coalesce(cached_tokens, 0) END)",
        f"total(CASE WHEN {_M007_PRICED} THEN coalesce(reasoning_tokens, 0) END)",
        f"total(CASE WHEN {_M007_TIMED} THEN coalesce(completion_tokens, 0) END)",
        f"total(CASE WHEN {_M007_TIMED} THEN latency_ms - ttft_ms END)",
    )
)
# Integer sums come out of total() as REAL; SQLite stores them back as INTEGER (column affinity).
_M007_FINISHED = (
    "SELECT *, CAST(ts / 3600 AS INTEGER) AS hour, coalesce(model, '') AS k_model, "
    "coalesce(task_type, '') AS k_task, coalesce(complexity, '') AS k_complexity "
    "FROM requests WHERE status != 'running'"
)
# Rollup periods of version 0.2: aligned blocks of 96, 24, 6 and 1 hours (key: size * 10^7 +
# block index), and -1 for all time; UTC days (and -1) in rollup_total.
_M007_REBUILD = (  # built from the constants above only
    f"WITH r AS ({_M007_FINISHED}), sizes(size) AS (VALUES (96), (24), (6), (1)) "  # noqa: S608
    f"INSERT INTO rollup_day (day, model, task_type, complexity, {_M007_COLUMNS}) "
    f"SELECT size * 10000000 + hour / size, k_model, k_task, k_complexity, {_M007_SUMS} "
    "FROM r, sizes GROUP BY 1, 2, 3, 4 "
    f"UNION ALL SELECT -1, k_model, k_task, k_complexity, {_M007_SUMS} "
    "FROM r GROUP BY 2, 3, 4",
    f"WITH r AS ({_M007_FINISHED}) "  # noqa: S608
    f"INSERT INTO rollup_total (day, {_M007_COLUMNS}) "
    f"SELECT hour / 24, {_M007_SUMS} FROM r GROUP BY 1 "
    f"UNION ALL SELECT -1, {_M007_SUMS} FROM r HAVING count(*) > 0",
    # Histograms: successful non-cached requests, per (96- and 24-hour block or all time,
    # model or task), and per UTC day for all requests together.
    "WITH r AS (SELECT CAST(ts / 3600 AS INTEGER) AS hour, coalesce(model, '') AS k_model, "
    "coalesce(task_type, '') AS k_task, latency_ms, ttft_ms FROM requests "
    "WHERE status = 'ok' AND coalesce(cache_hit, 0) = 0), "
    "points AS (SELECT hour, k_model, k_task, 0 AS metric, m007_bucket(latency_ms) AS bucket "
    "FROM r WHERE latency_ms IS NOT NULL UNION ALL SELECT hour, k_model, k_task, 1, "
    "m007_bucket(ttft_ms) FROM r WHERE ttft_ms IS NOT NULL), "
    "periods(size) AS (VALUES (96), (24), (0)), "
    "keyed AS (SELECT CASE WHEN size = 0 THEN -1 ELSE size * 10000000 + hour / size END "
    "AS day, k_model, k_task, metric, bucket FROM points, periods) "
    "INSERT INTO rollup_hist (day, dim, key, metric, bucket, n) "
    "SELECT day, 'model', k_model, metric, bucket, count(*) FROM keyed GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'task', k_task, metric, bucket, count(*) FROM keyed "
    "GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT 240000000 + hour / 24, 'all', '', metric, bucket, count(*) FROM points "
    "GROUP BY 1, 4, 5",
)


@migration
def m007_unsent_cost_and_generation_time(db: sqlite_utils.Database) -> None:
    """Failed requests never billed cost a known $0; tokens/s becomes total completion tokens
    over total generation time. Both change the rollups, so they are rebuilt from the rows."""
    conn: sqlite3.Connection = db.conn
    conn.create_aggregate("m007_dec_sum", 1, _M007DecSum)  # type: ignore[arg-type]
    conn.create_function("m007_bucket", 1, _m007_bucket, deterministic=True)
    for table in ("rollup_day", "rollup_total"):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "gen_tokens" not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN gen_tokens INTEGER NOT NULL DEFAULT 0")
        if "gen_ms" not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN gen_ms REAL NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE requests SET cost_usd = '0', cost_source = 'unsent' WHERE status = 'error' "
        "AND cost_usd IS NULL AND coalesce(cache_hit, 0) = 0 AND coalesce(prompt_tokens, 0) = 0 "
        "AND coalesce(completion_tokens, 0) = 0 AND coalesce(generation_id, '') = ''"
    )
    # Unknown-cost requests `devflow reconcile` can still price: few, so a small index, and
    # it covers the report's count of them per model.
    conn.execute(
        "CREATE INDEX IF NOT EXISTS idx_requests_reconcilable ON requests (ts, model) "
        "WHERE cost_usd IS NULL AND generation_id IS NOT NULL AND billed_cost_usd IS NULL"
    )
    for table in ("rollup_day", "rollup_total", "rollup_hist"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - constant table names
    for statement in _M007_REBUILD:
        conn.execute(statement)


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


@migration
def m008_routing_escalations(db: sqlite_utils.Database) -> None:
    """A request re-asked with a stronger model points at the one it escalates; the report's
    escalation rate per model and task joins on it."""
    if "escalation_of" not in db.table("requests").columns_dict:
        db.table("requests").add_column("escalation_of", str)
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_requests_escalation_of ON requests (escalation_of) "
        "WHERE escalation_of IS NOT NULL"
    )


@migration
def m_team_holder_host(db: sqlite_utils.Database) -> None:
    """The machine of the process holding a running request or a budget reservation: a
    process id says whether its holder is alive only on the holder's own machine. Older rows
    stay NULL: written on this machine (SQLite is one machine's file)."""
    conn: sqlite3.Connection = db.conn
    for table in ("requests", "budget_reservations"):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "host" not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN host TEXT")


@migration
def m_team_members(db: sqlite_utils.Database) -> None:
    """Team members (a name, the hash of their proxy token, a monthly budget), and the member
    each request and budget reservation is for; older rows have none."""
    conn: sqlite3.Connection = db.conn
    conn.execute(
        "CREATE TABLE IF NOT EXISTS members (name TEXT PRIMARY KEY, "
        "token_hash TEXT NOT NULL UNIQUE, budget_monthly_usd TEXT, created REAL NOT NULL, "
        "rotated REAL)"
    )
    for table in ("requests", "budget_reservations"):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "member" not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN member TEXT")
    conn.execute("CREATE INDEX IF NOT EXISTS idx_requests_member ON requests (member, ts)")


# m_team_rollup_parties: rollups per client and member, and escalations counted on write.
# m007's frozen sums, plus the escalations.
_MTRP_COLUMNS = _M007_COLUMNS + ", escalated"
_MTRP_SUMS = _M007_SUMS + ", total(status = 'ok' AND coalesce(escalated, 0) != 0)"
_MTRP_FINISHED = (
    "SELECT *, CAST(ts / 3600 AS INTEGER) AS hour, coalesce(model, '') AS k_model, "
    "coalesce(task_type, '') AS k_task, coalesce(complexity, '') AS k_complexity, "
    "coalesce(client, '') AS k_client, coalesce(member, '') AS k_member "
    "FROM requests WHERE status != 'running'"
)
_MTRP_REBUILD = (  # built from the constants above only
    f"WITH r AS ({_MTRP_FINISHED}), sizes(size) AS (VALUES (96), (24), (6), (1)) "  # noqa: S608
    f"INSERT INTO rollup_day (day, model, task_type, complexity, {_MTRP_COLUMNS}) "
    f"SELECT size * 10000000 + hour / size, k_model, k_task, k_complexity, {_MTRP_SUMS} "
    "FROM r, sizes GROUP BY 1, 2, 3, 4 "
    f"UNION ALL SELECT -1, k_model, k_task, k_complexity, {_MTRP_SUMS} "
    "FROM r GROUP BY 2, 3, 4",
    f"WITH r AS ({_MTRP_FINISHED}), sizes(size) AS (VALUES (96), (24), (6), (1)) "  # noqa: S608
    f"INSERT INTO rollup_party (day, client, member, {_MTRP_COLUMNS}) "
    f"SELECT size * 10000000 + hour / size, k_client, k_member, {_MTRP_SUMS} "
    "FROM r, sizes GROUP BY 1, 2, 3 "
    f"UNION ALL SELECT -1, k_client, k_member, {_MTRP_SUMS} FROM r GROUP BY 2, 3",
    f"WITH r AS ({_MTRP_FINISHED}) "  # noqa: S608
    f"INSERT INTO rollup_total (day, {_MTRP_COLUMNS}) "
    f"SELECT hour / 24, {_MTRP_SUMS} FROM r GROUP BY 1 "
    f"UNION ALL SELECT -1, {_MTRP_SUMS} FROM r HAVING count(*) > 0",
    # Histograms: successful non-cached requests, per (96-, 24- and 6-hour block or all time;
    # model, task, client, member, or all of them).
    "WITH r AS (SELECT CAST(ts / 3600 AS INTEGER) AS hour, coalesce(model, '') AS k_model, "
    "coalesce(task_type, '') AS k_task, coalesce(client, '') AS k_client, "
    "coalesce(member, '') AS k_member, latency_ms, ttft_ms FROM requests "
    "WHERE status = 'ok' AND coalesce(cache_hit, 0) = 0), "
    "points AS (SELECT hour, k_model, k_task, k_client, k_member, 0 AS metric, "
    "m007_bucket(latency_ms) AS bucket FROM r WHERE latency_ms IS NOT NULL "
    "UNION ALL SELECT hour, k_model, k_task, k_client, k_member, 1, m007_bucket(ttft_ms) "
    "FROM r WHERE ttft_ms IS NOT NULL), "
    "periods(size) AS (VALUES (96), (24), (6), (0)), "
    "keyed AS (SELECT CASE WHEN size = 0 THEN -1 ELSE size * 10000000 + hour / size END "
    "AS day, k_model, k_task, k_client, k_member, metric, bucket FROM points, periods) "
    "INSERT INTO rollup_hist (day, dim, key, metric, bucket, n) "
    "SELECT day, 'model', k_model, metric, bucket, count(*) FROM keyed GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'task', k_task, metric, bucket, count(*) FROM keyed "
    "GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'client', k_client, metric, bucket, count(*) FROM keyed "
    "GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'member', k_member, metric, bucket, count(*) FROM keyed "
    "GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'all', '', metric, bucket, count(*) FROM keyed GROUP BY 1, 4, 5",
)
# rollup_party's columns are those rollup_day has by now (m006's, m007's, and escalated).
_MTRP_SUMS_COLUMNS = (
    f"{_M006_SUMS}, gen_tokens INTEGER NOT NULL DEFAULT 0, gen_ms REAL NOT NULL DEFAULT 0, "
    "escalated INTEGER NOT NULL DEFAULT 0"
)


@migration
def m_team_rollup_parties(db: sqlite_utils.Database) -> None:
    """Rollups per client and team member (`rollup_party`), histograms from 6-hour blocks up
    with client, member and "all" keys, and escalations counted on write (`escalated` on the
    re-asked request and in the rollups): a report no longer scans the window's request rows
    for those. The rollups are rebuilt from the rows."""
    conn: sqlite3.Connection = db.conn
    # m007's sums and helpers are frozen too.
    conn.create_aggregate("m007_dec_sum", 1, _M007DecSum)  # type: ignore[arg-type]
    conn.create_function("m007_bucket", 1, _m007_bucket, deterministic=True)
    for table in ("requests", "rollup_day", "rollup_total"):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "escalated" not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE requests SET escalated = 1 WHERE id IN (SELECT escalation_of FROM requests "
        "WHERE escalation_of IS NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS rollup_party (day INTEGER NOT NULL, client TEXT NOT NULL, "
        f"member TEXT NOT NULL, {_MTRP_SUMS_COLUMNS}, PRIMARY KEY (day, client, member)) "
        "WITHOUT ROWID"
    )
    for table in ("rollup_day", "rollup_party", "rollup_total", "rollup_hist"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - constant table names
    for statement in _MTRP_REBUILD:
        conn.execute(statement)


# m_team_histogram_arrays: one histogram row per (block, dimension, key, metric), the bucket
# counts in one value, and histograms for 1-hour blocks too.
class _MthHistogram:
    """The aggregate of (bucket, count) rows into a `counts` value: PostgreSQL's text form of
    an array whose subscripts are the buckets (`[lo:hi]={n,...}`); zero durations (bucket
    -100000) are left to the `zeros` column."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def step(self, bucket: int | None, n: int) -> None:
        if bucket is not None and bucket != -100_000:
            self.counts[bucket] = self.counts.get(bucket, 0) + n

    def finalize(self) -> str | None:
        used = [b for b, n in self.counts.items() if n]
        if not used:
            return None
        lo, hi = min(used), max(used)
        return f"[{lo}:{hi}]={{{','.join(str(self.counts.get(b, 0)) for b in range(lo, hi + 1))}}}"


_MTH_REBUILD_HISTOGRAMS = (
    "WITH r AS (SELECT CAST(ts / 3600 AS INTEGER) AS hour, coalesce(model, '') AS k_model, "
    "coalesce(task_type, '') AS k_task, coalesce(client, '') AS k_client, "
    "coalesce(member, '') AS k_member, latency_ms, ttft_ms FROM requests "
    "WHERE status = 'ok' AND coalesce(cache_hit, 0) = 0), "
    "points AS (SELECT hour, k_model, k_task, k_client, k_member, 0 AS metric, "
    "m007_bucket(latency_ms) AS bucket FROM r WHERE latency_ms IS NOT NULL "
    "UNION ALL SELECT hour, k_model, k_task, k_client, k_member, 1, m007_bucket(ttft_ms) "
    "FROM r WHERE ttft_ms IS NOT NULL), "
    "periods(size) AS (VALUES (96), (24), (6), (1), (0)), "
    "keyed AS (SELECT CASE WHEN size = 0 THEN -1 ELSE size * 10000000 + hour / size END "
    "AS day, k_model, k_task, k_client, k_member, metric, bucket FROM points, periods), "
    "counted AS (SELECT day, 'model' AS dim, k_model AS key, metric, bucket, count(*) AS n "
    "FROM keyed GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'task', k_task, metric, bucket, count(*) FROM keyed "
    "GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'client', k_client, metric, bucket, count(*) FROM keyed "
    "GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'member', k_member, metric, bucket, count(*) FROM keyed "
    "GROUP BY 1, 3, 4, 5 "
    "UNION ALL SELECT day, 'all', '', metric, bucket, count(*) FROM keyed GROUP BY 1, 4, 5) "
    "INSERT INTO rollup_histogram (day, dim, key, metric, zeros, counts) "
    "SELECT day, dim, key, metric, sum(CASE WHEN bucket = -100000 THEN n ELSE 0 END), "
    "mth_histogram(bucket, n) FROM counted GROUP BY 1, 2, 3, 4"
)


def _mth_functions(conn: sqlite3.Connection) -> None:
    conn.create_aggregate("m007_dec_sum", 1, _M007DecSum)  # type: ignore[arg-type]
    conn.create_function("m007_bucket", 1, _m007_bucket, deterministic=True)
    conn.create_aggregate("mth_histogram", 2, _MthHistogram)  # type: ignore[arg-type]


def mth_rebuild_rollups(conn: sqlite3.Connection) -> None:
    """Empty every rollup of m_team_histogram_arrays's schema and rebuild it from the request
    rows, in the caller's transaction (what the tests hold the rollups kept on write to)."""
    _mth_functions(conn)
    for table in ("rollup_day", "rollup_party", "rollup_total", "rollup_histogram"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - constant table names
    for statement in (*_MTRP_REBUILD[:3], _MTH_REBUILD_HISTOGRAMS):
        conn.execute(statement)


@migration
def m_team_histogram_arrays(db: sqlite_utils.Database) -> None:
    """Histograms as one row per (block, dimension, key, metric) holding every bucket's count
    (`rollup_histogram`), for 1-hour blocks too, instead of one row per bucket
    (`rollup_hist`, dropped): a 30-day window sums ~1,000 rows instead of ~70,000, and a
    report reads at most its partial first hour of rows. Rebuilt from the rows."""
    conn: sqlite3.Connection = db.conn
    _mth_functions(conn)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS rollup_histogram (day INTEGER NOT NULL, dim TEXT NOT NULL, "
        "key TEXT NOT NULL, metric INTEGER NOT NULL, zeros INTEGER NOT NULL DEFAULT 0, "
        "counts TEXT, PRIMARY KEY (day, dim, key, metric)) WITHOUT ROWID"
    )
    conn.execute("DROP TABLE IF EXISTS rollup_hist")
    conn.execute("DELETE FROM rollup_histogram")
    conn.execute(_MTH_REBUILD_HISTOGRAMS)


@migration
def m_team_party_member_index(db: sqlite_utils.Database) -> None:
    """A member's month (every budget check of a member) reads `rollup_party` by member and
    day; its key starts with the day, so without this index the read walked every client's
    and member's rows of the month."""
    db.conn.execute(
        "CREATE INDEX IF NOT EXISTS idx_rollup_party_member ON rollup_party (member, day)"
    )
