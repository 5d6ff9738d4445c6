"""Versioned schema migrations of the PostgreSQL backend: literal SQL, frozen once released.

PostgreSQL has its own list because its history starts later than SQLite's: its first
migration is the schema SQLite had reached by then (after `m008_routing_escalations`), and
from there both lists gain the same changes, each in its backend's words. The queries the store
runs are the same on both backends; the SQL functions SQLite gets from Python (`dec_add`,
`dec_sum`, `hist_bucket`, and its built-in `total` and `sum` of booleans) are defined here in
SQL, so that those queries mean the same on PostgreSQL.

Each migration runs once, in its own transaction together with its `_migrations` row, under a
transaction-level advisory lock, so two processes starting together on an empty database apply
it once; DDL is transactional in PostgreSQL, so a crash half-way leaves the previous version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devflow_tui.accounting.database import Connection

PgMigration = Callable[["Connection"], None]
MIGRATIONS: list[PgMigration] = []
# Any constant: the advisory lock every devflow process takes while migrating.
_MIGRATION_LOCK = 0x64657666  # "devf"


def migration(fn: PgMigration) -> PgMigration:
    MIGRATIONS.append(fn)
    return fn


def applied(conn: Connection) -> set[str]:
    """Names of the migrations already applied."""
    exists = conn.execute("SELECT to_regclass('_migrations') IS NOT NULL").fetchone()
    if not exists[0]:
        return set()
    return {row[0] for row in conn.execute("SELECT name FROM _migrations")}


def migrate(conn: Connection) -> list[str]:
    """Apply every migration the database has not had yet; returns the names applied.
    `conn` is in autocommit mode: each migration is its own transaction."""
    applied_now: list[str] = []
    for fn in MIGRATIONS:
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations "
                "(name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION)"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
            if fn.__name__ not in done:
                fn(conn)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (fn.__name__, time.time()),
                )
                applied_now.append(fn.__name__)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied_now


_PG001_SUMS = (
    "n BIGINT NOT NULL DEFAULT 0, ok BIGINT NOT NULL DEFAULT 0, "
    "failed BIGINT NOT NULL DEFAULT 0, cancelled BIGINT NOT NULL DEFAULT 0, "
    "refused BIGINT NOT NULL DEFAULT 0, cache_hits BIGINT NOT NULL DEFAULT 0, "
    "unknown_cost BIGINT NOT NULL DEFAULT 0, prompt BIGINT NOT NULL DEFAULT 0, "
    "completion BIGINT NOT NULL DEFAULT 0, reasoning BIGINT NOT NULL DEFAULT 0, "
    "cached BIGINT NOT NULL DEFAULT 0, cost_reported TEXT NOT NULL DEFAULT '0', "
    "cost_estimated TEXT NOT NULL DEFAULT '0', saved_cache TEXT NOT NULL DEFAULT '0', "
    "priced_n BIGINT NOT NULL DEFAULT 0, priced_prompt BIGINT NOT NULL DEFAULT 0, "
    "priced_completion BIGINT NOT NULL DEFAULT 0, priced_cached BIGINT NOT NULL DEFAULT 0, "
    "priced_reasoning BIGINT NOT NULL DEFAULT 0, tps_sum DOUBLE PRECISION NOT NULL DEFAULT 0, "
    "tps_n BIGINT NOT NULL DEFAULT 0, gen_tokens BIGINT NOT NULL DEFAULT 0, "
    "gen_ms DOUBLE PRECISION NOT NULL DEFAULT 0"
)

_PG001 = (
    # SQLite's functions, in SQL. Money is a decimal string, summed exactly as numeric.
    "CREATE FUNCTION dec_add(a TEXT, b TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE PARALLEL SAFE "
    "AS $$ SELECT (coalesce(a, '0')::numeric + coalesce(b, '0')::numeric)::text $$",
    "CREATE FUNCTION dec_sum_step(s NUMERIC, v TEXT) RETURNS NUMERIC LANGUAGE sql IMMUTABLE "
    "STRICT PARALLEL SAFE AS $$ SELECT s + v::numeric $$",
    "CREATE FUNCTION dec_sum_final(s NUMERIC) RETURNS TEXT LANGUAGE sql IMMUTABLE "
    "PARALLEL SAFE AS $$ SELECT s::text $$",
    "CREATE AGGREGATE dec_sum(TEXT) (SFUNC = dec_sum_step, STYPE = NUMERIC, "
    "FINALFUNC = dec_sum_final, INITCOND = '0')",
    # SQLite sums booleans (they are 0 and 1 there); total() is its float sum, 0 over no rows.
    "CREATE FUNCTION bool_sum_step(s BIGINT, v BOOLEAN) RETURNS BIGINT LANGUAGE sql IMMUTABLE "
    "STRICT PARALLEL SAFE AS $$ SELECT s + v::int $$",
    "CREATE AGGREGATE sum(BOOLEAN) (SFUNC = bool_sum_step, STYPE = BIGINT, INITCOND = '0')",
    "CREATE AGGREGATE total(DOUBLE PRECISION) (SFUNC = float8pl, STYPE = DOUBLE PRECISION, "
    "INITCOND = '0')",
    # The 6 % histogram bucket of a duration in ms (rollup.bucket_of), zero in its own bucket.
    "CREATE FUNCTION hist_bucket(v DOUBLE PRECISION) RETURNS INTEGER LANGUAGE sql IMMUTABLE "
    "PARALLEL SAFE AS $$ SELECT CASE WHEN v IS NULL THEN NULL WHEN v <= 0 THEN -100000 "
    "ELSE floor(ln(v) / ln(1.06::double precision))::integer END $$",
    "CREATE TABLE requests (id TEXT PRIMARY KEY, ts DOUBLE PRECISION, prompt_hash TEXT, "
    "task_type TEXT, complexity TEXT, requested_model TEXT, model TEXT, routing_reason TEXT, "
    "status TEXT, error_category TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, "
    "cost_usd TEXT, cost_source TEXT, latency_ms DOUBLE PRECISION, generation_id TEXT, "
    "updated DOUBLE PRECISION, conversation_id TEXT, project TEXT, error_message TEXT, "
    "reasoning_tokens INTEGER, cached_tokens INTEGER, billed_cost_usd TEXT, saved_usd TEXT, "
    "ttft_ms DOUBLE PRECISION, tokens_per_s DOUBLE PRECISION, finish_reason TEXT, "
    "cache_hit INTEGER, complete INTEGER, partial_text TEXT, pid INTEGER, client TEXT, "
    "comparison TEXT, escalation_of TEXT)",
    "CREATE TABLE attempts (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "request_id TEXT REFERENCES requests (id), n INTEGER, model TEXT, status INTEGER, "
    "error TEXT, latency_ms DOUBLE PRECISION, wait_before_s DOUBLE PRECISION, "
    "ts DOUBLE PRECISION, message TEXT)",
    "CREATE TABLE catalog_cache (id INTEGER PRIMARY KEY, models_json TEXT, "
    "fetched_at DOUBLE PRECISION)",
    "CREATE TABLE budget_reservations (id TEXT PRIMARY KEY, request_id TEXT, amount TEXT, "
    "created DOUBLE PRECISION, state TEXT, pid INTEGER)",
    "CREATE TABLE response_cache (key TEXT PRIMARY KEY, created DOUBLE PRECISION, "
    "expires DOUBLE PRECISION, model TEXT, text TEXT, prompt_tokens INTEGER, "
    "completion_tokens INTEGER, reasoning_tokens INTEGER, cached_tokens INTEGER, "
    "cost_usd TEXT, hits INTEGER, last_hit DOUBLE PRECISION)",
    "CREATE TABLE notes (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, text TEXT, "
    "project TEXT, created DOUBLE PRECISION)",
    # `rowid`: SQLite's implicit insertion order, which the conversation list breaks ties by.
    "CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT, created DOUBLE PRECISION, "
    "updated DOUBLE PRECISION, project TEXT, "
    "rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE)",
    "CREATE TABLE messages (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
    "conversation_id TEXT REFERENCES conversations (id), request_id TEXT, role TEXT, "
    "content TEXT, ts DOUBLE PRECISION)",
    "CREATE TABLE rollup_day (day BIGINT NOT NULL, model TEXT NOT NULL, "
    f"task_type TEXT NOT NULL, complexity TEXT NOT NULL, {_PG001_SUMS}, "
    "PRIMARY KEY (day, model, task_type, complexity))",
    f"CREATE TABLE rollup_total (day BIGINT PRIMARY KEY, {_PG001_SUMS})",
    "CREATE TABLE rollup_hist (day BIGINT NOT NULL, dim TEXT NOT NULL, key TEXT NOT NULL, "
    "metric INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL, "
    "PRIMARY KEY (day, dim, key, metric, bucket))",
    "CREATE INDEX idx_requests_ts ON requests (ts)",
    "CREATE INDEX idx_requests_running ON requests (status) WHERE status = 'running'",
    "CREATE INDEX idx_requests_unbilled ON requests (ts) "
    "WHERE generation_id IS NOT NULL AND billed_cost_usd IS NULL",
    "CREATE INDEX idx_attempts_request ON attempts (request_id)",
    "CREATE INDEX idx_reservations_created ON budget_reservations (created)",
    "CREATE INDEX idx_cache_expires ON response_cache (expires)",
    "CREATE INDEX idx_messages_conv ON messages (conversation_id, ts)",
    "CREATE INDEX idx_conversations_updated ON conversations (updated)",
    "CREATE INDEX idx_requests_reconcilable ON requests (ts, model) "
    "WHERE cost_usd IS NULL AND generation_id IS NOT NULL AND billed_cost_usd IS NULL",
    "CREATE INDEX idx_requests_client ON requests (client, ts)",
    "CREATE INDEX idx_requests_comparison ON requests (comparison) WHERE comparison IS NOT NULL",
    "CREATE INDEX idx_requests_escalation_of ON requests (escalation_of) "
    "WHERE escalation_of IS NOT NULL",
    # Budget reservations lock this row (SELECT ... FOR UPDATE): one at a time, database-wide.
    "CREATE TABLE budget_locks (name TEXT PRIMARY KEY)",
    "INSERT INTO budget_locks (name) VALUES ('all')",
)


@migration
def pg001_schema(conn: Connection) -> None:
    """The schema as SQLite had it after m008_routing_escalations, plus the budget lock row."""
    for statement in _PG001:
        conn.execute(statement)


@migration
def pg002_holder_host(conn: Connection) -> None:
    """SQLite's m_team_holder_host: the machine of a running request's or a reservation's
    process, whose id means something only there."""
    conn.execute("ALTER TABLE requests ADD COLUMN host TEXT")
    conn.execute("ALTER TABLE budget_reservations ADD COLUMN host TEXT")


@migration
def pg003_members(conn: Connection) -> None:
    """SQLite's m_team_members: team members, and the member of each request and reservation."""
    conn.execute(
        "CREATE TABLE members (name TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, "
        "budget_monthly_usd TEXT, created DOUBLE PRECISION NOT NULL, rotated DOUBLE PRECISION)"
    )
    conn.execute("ALTER TABLE requests ADD COLUMN member TEXT")
    conn.execute("ALTER TABLE budget_reservations ADD COLUMN member TEXT")
    conn.execute("CREATE INDEX idx_requests_member ON requests (member, ts)")


_PG004_MONEY = {
    "requests": ("cost_usd", "billed_cost_usd", "saved_usd"),
    "rollup_day": ("cost_reported", "cost_estimated", "saved_cache"),
    "rollup_total": ("cost_reported", "cost_estimated", "saved_cache"),
    "budget_reservations": ("amount",),
    "response_cache": ("cost_usd",),
    "members": ("budget_monthly_usd",),
}


@migration
def pg004_numeric_money(conn: Connection) -> None:
    """Money as NUMERIC rather than decimal strings: exact all the same, and summed by the
    built-in numeric addition instead of an SQL function that parses text on every row
    (about 5 µs a row: reports over many rows were several times slower than SQLite's).
    `dec_add` and `dec_sum` get NUMERIC versions, so the store's queries stay as they are."""
    conn.execute(
        "CREATE FUNCTION dec_add(a NUMERIC, b NUMERIC) RETURNS NUMERIC LANGUAGE sql IMMUTABLE "
        "PARALLEL SAFE AS $$ SELECT coalesce(a, 0) + coalesce(b, 0) $$"
    )
    conn.execute(
        "CREATE AGGREGATE dec_sum(NUMERIC) (SFUNC = numeric_add, STYPE = NUMERIC, "
        "INITCOND = '0', PARALLEL = SAFE)"
    )
    for table, columns in _PG004_MONEY.items():
        rollup = table.startswith("rollup_")
        changes = []
        for column in columns:
            if rollup:
                changes.append(f"ALTER COLUMN {column} DROP DEFAULT")
            changes.append(f"ALTER COLUMN {column} TYPE NUMERIC USING {column}::numeric")
            if rollup:
                changes.append(f"ALTER COLUMN {column} SET DEFAULT 0")
        conn.execute(f"ALTER TABLE {table} " + ", ".join(changes))


_PG005_PRICED = (
    "(coalesce(cache_hit, 0) = 0 AND cost_usd IS NOT NULL "
    "AND coalesce(cost_source, 'unknown') != 'unsent')"
)
_PG005_TIMED = (
    "(status = 'ok' AND coalesce(cache_hit, 0) = 0 AND latency_ms IS NOT NULL "
    "AND ttft_ms IS NOT NULL AND latency_ms > ttft_ms)"
)
_PG005_COLUMNS = (
    "n", "ok", "failed", "cancelled", "refused", "cache_hits", "unknown_cost", "prompt",
    "completion", "reasoning", "cached", "cost_reported", "cost_estimated", "saved_cache",
    "priced_n", "priced_prompt", "priced_completion", "priced_cached", "priced_reasoning",
    "gen_tokens", "gen_ms", "escalated",
)  # fmt: skip
# One request row's contribution to each column, summed over a group of rows.
_PG005_SUMS = ", ".join(
    f"{expression} AS {name}"
    for expression, name in zip(
        (
            "count(*)",
            "count(*) FILTER (WHERE status = 'ok')",
            "count(*) FILTER (WHERE status IN ('error', 'interrupted'))",
            "count(*) FILTER (WHERE status = 'cancelled')",
            "count(*) FILTER (WHERE status = 'refused')",
            "count(*) FILTER (WHERE coalesce(cache_hit, 0) != 0)",
            "count(*) FILTER (WHERE coalesce(cache_hit, 0) = 0 AND coalesce(cost_source, "
            "'unknown') != 'unsent' AND cost_usd IS NULL AND status != 'refused')",
            "coalesce(sum(prompt_tokens), 0)",
            "coalesce(sum(completion_tokens), 0)",
            "coalesce(sum(reasoning_tokens), 0)",
            "coalesce(sum(cached_tokens), 0)",
            f"coalesce(sum(cost_usd) FILTER (WHERE {_PG005_PRICED} "
            "AND cost_source = 'reported'), 0)",
            f"coalesce(sum(cost_usd) FILTER (WHERE {_PG005_PRICED} "
            "AND coalesce(cost_source, 'unknown') != 'reported'), 0)",
            "coalesce(sum(coalesce(saved_usd, 0)) FILTER (WHERE coalesce(cache_hit, 0) != 0), 0)",
            f"count(*) FILTER (WHERE {_PG005_PRICED})",
            f"coalesce(sum(prompt_tokens) FILTER (WHERE {_PG005_PRICED}), 0)",
            f"coalesce(sum(completion_tokens) FILTER (WHERE {_PG005_PRICED}), 0)",
            f"coalesce(sum(cached_tokens) FILTER (WHERE {_PG005_PRICED}), 0)",
            f"coalesce(sum(reasoning_tokens) FILTER (WHERE {_PG005_PRICED}), 0)",
            f"coalesce(sum(completion_tokens) FILTER (WHERE {_PG005_TIMED}), 0)",
            f"coalesce(sum(latency_ms - ttft_ms) FILTER (WHERE {_PG005_TIMED}), 0)",
            "count(*) FILTER (WHERE status = 'ok' AND coalesce(escalated, 0) != 0)",
        ),
        _PG005_COLUMNS,
        strict=True,
    )
)
_PG005_RESUM = ", ".join(f"sum({c})" for c in _PG005_COLUMNS)  # sums of sums
_PG005_LIST = ", ".join(_PG005_COLUMNS)
_PG005_REBUILD = (  # built from the constants above only
    # Per hour first (one pass over the rows, both groupings at once), then every block size
    # and all time from the hours: a rebuild reads the rows once, not once per block size.
    "CREATE TEMPORARY TABLE pg005_hours ON COMMIT DROP AS "  # noqa: S608
    "SELECT hour, k_model AS model, k_task AS task_type, k_complexity AS complexity, "
    "k_client AS client, k_member AS member, GROUPING(k_model, k_client) AS kind, "
    f"{_PG005_SUMS} FROM (SELECT r.*, floor(ts / 3600)::bigint AS hour, "
    "coalesce(model, '') AS k_model, coalesce(task_type, '') AS k_task, "
    "coalesce(complexity, '') AS k_complexity, coalesce(client, '') AS k_client, "
    "coalesce(member, '') AS k_member FROM requests r WHERE status != 'running') AS f "
    "GROUP BY GROUPING SETS ((hour, k_model, k_task, k_complexity), (hour, k_client, k_member))",
    "CREATE TEMPORARY TABLE pg005_sizes (size) ON COMMIT DROP AS VALUES (96), (24), (6), (1)",
    f"INSERT INTO rollup_day (day, model, task_type, complexity, {_PG005_LIST}) "  # noqa: S608
    f"SELECT size * 10000000 + hour / size, model, task_type, complexity, {_PG005_RESUM} "
    "FROM pg005_hours, pg005_sizes WHERE kind = 1 GROUP BY 1, 2, 3, 4 "
    f"UNION ALL SELECT -1, model, task_type, complexity, {_PG005_RESUM} FROM pg005_hours "
    "WHERE kind = 1 GROUP BY 2, 3, 4",
    f"INSERT INTO rollup_party (day, client, member, {_PG005_LIST}) "  # noqa: S608
    f"SELECT size * 10000000 + hour / size, client, member, {_PG005_RESUM} "
    "FROM pg005_hours, pg005_sizes WHERE kind = 2 GROUP BY 1, 2, 3 "
    f"UNION ALL SELECT -1, client, member, {_PG005_RESUM} FROM pg005_hours "
    "WHERE kind = 2 GROUP BY 2, 3",
    f"INSERT INTO rollup_total (day, {_PG005_LIST}) "  # noqa: S608
    f"SELECT hour / 24, {_PG005_RESUM} FROM pg005_hours WHERE kind = 1 GROUP BY 1 "
    f"UNION ALL SELECT -1, {_PG005_RESUM} FROM pg005_hours WHERE kind = 1 "
    "HAVING count(*) > 0",
    # Histograms of successful non-cached requests: per 6-hour block and key first, then the
    # 24- and 96-hour blocks and all time from those.
    "CREATE TEMPORARY TABLE pg005_points ON COMMIT DROP AS "
    "SELECT floor(ts / 21600)::bigint AS block, coalesce(model, '') AS model, "
    "coalesce(task_type, '') AS task_type, coalesce(client, '') AS client, "
    "coalesce(member, '') AS member, v.metric, hist_bucket(v.value) AS bucket "
    "FROM requests CROSS JOIN LATERAL (VALUES (0, latency_ms), (1, ttft_ms)) AS v (metric, value) "
    "WHERE status = 'ok' AND coalesce(cache_hit, 0) = 0 AND v.value IS NOT NULL",
    "CREATE TEMPORARY TABLE pg005_hist6 ON COMMIT DROP AS "
    "SELECT block, CASE WHEN GROUPING(model) = 0 THEN 'model' "
    "WHEN GROUPING(task_type) = 0 THEN 'task' WHEN GROUPING(client) = 0 THEN 'client' "
    "WHEN GROUPING(member) = 0 THEN 'member' ELSE 'all' END AS dim, "
    "coalesce(model, task_type, client, member, '') AS key, metric, bucket, count(*) AS n "
    "FROM pg005_points GROUP BY GROUPING SETS ((block, model, metric, bucket), "
    "(block, task_type, metric, bucket), (block, client, metric, bucket), "
    "(block, member, metric, bucket), (block, metric, bucket))",
    "CREATE TEMPORARY TABLE pg005_divisors (size, per) ON COMMIT DROP AS "
    "VALUES (6, 1), (24, 4), (96, 16)",
    "INSERT INTO rollup_hist (day, dim, key, metric, bucket, n) "
    "SELECT size * 10000000 + block / per, dim, key, metric, bucket, sum(n) "
    "FROM pg005_hist6, pg005_divisors GROUP BY 1, 2, 3, 4, 5 "
    "UNION ALL SELECT -1, dim, key, metric, bucket, sum(n) FROM pg005_hist6 "
    "GROUP BY 2, 3, 4, 5",
)
_PG005_TABLE = (
    "n BIGINT NOT NULL DEFAULT 0, ok BIGINT NOT NULL DEFAULT 0, "
    "failed BIGINT NOT NULL DEFAULT 0, cancelled BIGINT NOT NULL DEFAULT 0, "
    "refused BIGINT NOT NULL DEFAULT 0, cache_hits BIGINT NOT NULL DEFAULT 0, "
    "unknown_cost BIGINT NOT NULL DEFAULT 0, prompt BIGINT NOT NULL DEFAULT 0, "
    "completion BIGINT NOT NULL DEFAULT 0, reasoning BIGINT NOT NULL DEFAULT 0, "
    "cached BIGINT NOT NULL DEFAULT 0, cost_reported NUMERIC NOT NULL DEFAULT 0, "
    "cost_estimated NUMERIC NOT NULL DEFAULT 0, saved_cache NUMERIC NOT NULL DEFAULT 0, "
    "priced_n BIGINT NOT NULL DEFAULT 0, priced_prompt BIGINT NOT NULL DEFAULT 0, "
    "priced_completion BIGINT NOT NULL DEFAULT 0, priced_cached BIGINT NOT NULL DEFAULT 0, "
    "priced_reasoning BIGINT NOT NULL DEFAULT 0, gen_tokens BIGINT NOT NULL DEFAULT 0, "
    "gen_ms DOUBLE PRECISION NOT NULL DEFAULT 0, escalated BIGINT NOT NULL DEFAULT 0"
)


def pg005_rebuild_rollups(conn: Connection) -> None:
    """Empty the rollups of pg005's schema and rebuild them from the request rows, in the
    caller's transaction (pg005's backfill; benchmarks/team.py also builds its rollups with
    it after loading rows in bulk)."""
    for table in ("rollup_day", "rollup_party", "rollup_total", "rollup_hist"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - constant table names
    for statement in _PG005_REBUILD:
        conn.execute(statement)


@migration
def pg005_rollup_parties(conn: Connection) -> None:
    """SQLite's m_team_rollup_parties: rollups per client and team member (`rollup_party`),
    histograms from 6-hour blocks up with client, member and "all" keys, and escalations
    counted on write (`escalated` on the re-asked request and in the rollups). The rollups are
    rebuilt from the rows."""
    conn.execute("ALTER TABLE requests ADD COLUMN escalated INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE rollup_day ADD COLUMN escalated BIGINT NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE rollup_total ADD COLUMN escalated BIGINT NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE requests SET escalated = 1 WHERE id IN (SELECT escalation_of FROM requests "
        "WHERE escalation_of IS NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE rollup_party (day BIGINT NOT NULL, client TEXT NOT NULL, "
        f"member TEXT NOT NULL, {_PG005_TABLE}, PRIMARY KEY (day, client, member))"
    )
    pg005_rebuild_rollups(conn)


# A budget reservation in one statement: lock, read, check and insert run in the server, so
# the lock is held for the server's work only, not for the round trips of a client that may
# be busy (each statement of a VOLATILE function sees what committed before it started, so
# everything read after the lock includes the previous holder's reservation). Arguments: the
# reservation; the lease cutoff; whether an unknown cost is allowed; per budget the first
# whole UTC day of its period (-1: all time), the partial first day [start, end) and the
# limit; the start of the member's month. Returns (outcome, budget index from 1, spent,
# reserved, limit): outcome "held", "unheld" (nothing to reserve against), "unknown" (a member's
# budget and an unknown cost), "budget" or "member" (refused).
_PG006_RESERVE = """
CREATE FUNCTION devflow_reserve(
    p_id TEXT, p_request TEXT, p_amount NUMERIC, p_now DOUBLE PRECISION, p_pid INTEGER,
    p_host TEXT, p_member TEXT, p_cutoff DOUBLE PRECISION, p_allow_unknown BOOLEAN,
    p_days BIGINT[], p_starts DOUBLE PRECISION[], p_ends DOUBLE PRECISION[],
    p_limits NUMERIC[], p_month DOUBLE PRECISION
) RETURNS TABLE (outcome TEXT, budget INTEGER, spent NUMERIC, reserved NUMERIC,
    limit_usd NUMERIC)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    member_limit NUMERIC;
    held NUMERIC;
    oldest DOUBLE PRECISION;
    used NUMERIC;
    wanted NUMERIC := coalesce(p_amount, 0);
    n INTEGER := coalesce(array_length(p_limits, 1), 0);
BEGIN
    PERFORM 1 FROM budget_locks WHERE name = 'all' FOR UPDATE;
    IF p_member IS NOT NULL THEN
        SELECT m.budget_monthly_usd INTO member_limit FROM members m WHERE m.name = p_member;
    END IF;
    IF n = 0 AND member_limit IS NULL THEN
        RETURN QUERY SELECT 'unheld'::text, 0, NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    IF p_amount IS NULL AND NOT p_allow_unknown THEN
        RETURN QUERY SELECT 'unknown'::text, 0, NULL::numeric, NULL::numeric, member_limit;
        RETURN;
    END IF;
    SELECT coalesce(sum(r.amount) FILTER (WHERE r.created >= p_cutoff), 0), min(r.created)
        INTO held, oldest FROM budget_reservations r;
    IF oldest < p_cutoff THEN
        DELETE FROM budget_reservations r WHERE r.created < p_cutoff;
    END IF;
    IF p_amount IS DISTINCT FROM 0 THEN
        FOR i IN 1 .. n LOOP
            SELECT coalesce((SELECT sum(t.cost_reported + t.cost_estimated) FROM rollup_total t
                WHERE (p_days[i] = -1 AND t.day = -1) OR (p_days[i] >= 0 AND t.day >= p_days[i])),
                0) + coalesce((SELECT sum(q.cost_usd) FROM requests q WHERE q.ts >= p_starts[i]
                AND q.ts < p_ends[i] AND q.status != 'running'), 0) INTO used;
            IF used + held + wanted > p_limits[i] THEN
                RETURN QUERY SELECT 'budget'::text, i, used, held, p_limits[i];
                RETURN;
            END IF;
        END LOOP;
        IF member_limit IS NOT NULL THEN
            SELECT coalesce(sum(q.cost_usd), 0) INTO used FROM requests q
                WHERE q.member = p_member AND q.ts >= p_month AND q.status != 'running';
            SELECT coalesce(sum(r.amount) FILTER (WHERE r.created >= p_cutoff), 0) INTO held
                FROM budget_reservations r WHERE r.member = p_member;
            IF used + held + wanted > member_limit THEN
                RETURN QUERY SELECT 'member'::text, 0, used, held, member_limit;
                RETURN;
            END IF;
        END IF;
    END IF;
    INSERT INTO budget_reservations (id, request_id, amount, created, state, pid, host, member)
        VALUES (p_id, p_request, p_amount, p_now, 'held', p_pid, p_host, p_member);
    RETURN QUERY SELECT 'held'::text, 0, NULL::numeric, held, NULL::numeric;
END
$$
"""


@migration
def pg006_reserve_function(conn: Connection) -> None:
    """`devflow_reserve`: a budget reservation in one round trip (lock, check, insert in the
    server), so the budget lock is held for the server's work only. PostgreSQL only: SQLite
    runs in the process and has no round trips to save."""
    conn.execute(_PG006_RESERVE)


@migration
def pg007_rollup_hist_covering_key(conn: Connection) -> None:
    """The histogram rows' primary key also holds their count (INCLUDE), so a report sums a
    window's buckets from the index alone (an index-only scan) instead of fetching rows
    scattered over the table: about 4x fewer pages read. SQLite needs nothing: its table is
    stored in key order (WITHOUT ROWID)."""
    conn.execute(
        "ALTER TABLE rollup_hist DROP CONSTRAINT rollup_hist_pkey, "
        "ADD PRIMARY KEY (day, dim, key, metric, bucket) INCLUDE (n)"
    )


# pg006's reservation with the member's month read from the per-member rollups (whole UTC
# days of `rollup_party`, between p_member_first and p_member_last) plus the request rows of
# a partial first day [p_member_start, p_member_end): pg006 summed every request row of the
# member's month, which at millions of rows held the budget lock for milliseconds. The
# reservations are read in one pass for the team and the member. Arguments and result as
# pg006's, the member's month given by those four bounds instead of its start.
_PG008_RESERVE = """
CREATE FUNCTION devflow_reserve(
    p_id TEXT, p_request TEXT, p_amount NUMERIC, p_now DOUBLE PRECISION, p_pid INTEGER,
    p_host TEXT, p_member TEXT, p_cutoff DOUBLE PRECISION, p_allow_unknown BOOLEAN,
    p_days BIGINT[], p_starts DOUBLE PRECISION[], p_ends DOUBLE PRECISION[],
    p_limits NUMERIC[], p_member_first BIGINT, p_member_last BIGINT,
    p_member_start DOUBLE PRECISION, p_member_end DOUBLE PRECISION
) RETURNS TABLE (outcome TEXT, budget INTEGER, spent NUMERIC, reserved NUMERIC,
    limit_usd NUMERIC)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    member_limit NUMERIC;
    held NUMERIC;
    member_held NUMERIC;
    oldest DOUBLE PRECISION;
    used NUMERIC;
    wanted NUMERIC := coalesce(p_amount, 0);
    n INTEGER := coalesce(array_length(p_limits, 1), 0);
BEGIN
    PERFORM 1 FROM budget_locks WHERE name = 'all' FOR UPDATE;
    IF p_member IS NOT NULL THEN
        SELECT m.budget_monthly_usd INTO member_limit FROM members m WHERE m.name = p_member;
    END IF;
    IF n = 0 AND member_limit IS NULL THEN
        RETURN QUERY SELECT 'unheld'::text, 0, NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    IF p_amount IS NULL AND NOT p_allow_unknown THEN
        RETURN QUERY SELECT 'unknown'::text, 0, NULL::numeric, NULL::numeric, member_limit;
        RETURN;
    END IF;
    SELECT coalesce(sum(r.amount) FILTER (WHERE r.created >= p_cutoff), 0),
        coalesce(sum(r.amount) FILTER (WHERE r.created >= p_cutoff AND r.member = p_member), 0),
        min(r.created) INTO held, member_held, oldest FROM budget_reservations r;
    IF oldest < p_cutoff THEN
        DELETE FROM budget_reservations r WHERE r.created < p_cutoff;
    END IF;
    IF p_amount IS DISTINCT FROM 0 THEN
        FOR i IN 1 .. n LOOP
            SELECT coalesce((SELECT sum(t.cost_reported + t.cost_estimated) FROM rollup_total t
                WHERE (p_days[i] = -1 AND t.day = -1) OR (p_days[i] >= 0 AND t.day >= p_days[i])),
                0) + coalesce((SELECT sum(q.cost_usd) FROM requests q WHERE q.ts >= p_starts[i]
                AND q.ts < p_ends[i] AND q.status != 'running'), 0) INTO used;
            IF used + held + wanted > p_limits[i] THEN
                RETURN QUERY SELECT 'budget'::text, i, used, held, p_limits[i];
                RETURN;
            END IF;
        END LOOP;
        IF member_limit IS NOT NULL THEN
            SELECT coalesce((SELECT sum(t.cost_reported + t.cost_estimated) FROM rollup_party t
                WHERE t.member = p_member AND t.day >= p_member_first
                AND t.day <= p_member_last), 0) + coalesce((SELECT sum(q.cost_usd)
                FROM requests q WHERE q.member = p_member AND q.ts >= p_member_start
                AND q.ts < p_member_end AND q.status != 'running'), 0) INTO used;
            IF used + member_held + wanted > member_limit THEN
                RETURN QUERY SELECT 'member'::text, 0, used, member_held, member_limit;
                RETURN;
            END IF;
        END IF;
    END IF;
    INSERT INTO budget_reservations (id, request_id, amount, created, state, pid, host, member)
        VALUES (p_id, p_request, p_amount, p_now, 'held', p_pid, p_host, p_member);
    RETURN QUERY SELECT 'held'::text, 0, NULL::numeric, held, NULL::numeric;
END
$$
"""


@migration
def pg008_reserve_member_rollups(conn: Connection) -> None:
    """`devflow_reserve` reads a member's month from the per-member rollups instead of
    summing their request rows (pg006's version is dropped: its arguments differ)."""
    conn.execute(
        "DROP FUNCTION devflow_reserve(TEXT, TEXT, NUMERIC, DOUBLE PRECISION, INTEGER, TEXT, "
        "TEXT, DOUBLE PRECISION, BOOLEAN, BIGINT[], DOUBLE PRECISION[], DOUBLE PRECISION[], "
        "NUMERIC[], DOUBLE PRECISION)"
    )
    conn.execute(_PG008_RESERVE)


# pg009: one histogram row per (block, dimension, key, metric), the bucket counts in one
# BIGINT[] whose subscripts are the buckets (PostgreSQL arrays may start at any subscript;
# assigning past either end extends them, NULL in the gaps), zero durations in `zeros`.
_PG009_FUNCTIONS = (
    # One bucket's count added to an array (NULL: none yet).
    "CREATE FUNCTION hist_put(a BIGINT[], bucket INTEGER, n BIGINT) RETURNS BIGINT[] "
    "LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$ BEGIN "
    "a[bucket] := coalesce(a[bucket], 0) + n; RETURN a; END $$",
    "CREATE AGGREGATE hist_agg(INTEGER, BIGINT) (SFUNC = hist_put, STYPE = BIGINT[])",
    # Two arrays added bucket by bucket (a request's write: one bucket in b).
    "CREATE FUNCTION hist_add(a BIGINT[], b BIGINT[]) RETURNS BIGINT[] LANGUAGE plpgsql "
    "IMMUTABLE PARALLEL SAFE AS $$ BEGIN "
    "IF b IS NULL OR cardinality(b) = 0 THEN RETURN a; END IF; "
    "FOR i IN array_lower(b, 1) .. array_upper(b, 1) LOOP "
    "IF b[i] IS NOT NULL AND b[i] != 0 THEN a[i] := coalesce(a[i], 0) + b[i]; END IF; "
    "END LOOP; RETURN a; END $$",
)
_PG009_REBUILD_HISTOGRAMS = (
    # Per hour and key first (one pass over the rows), then every block size and all time.
    "CREATE TEMPORARY TABLE pg009_points ON COMMIT DROP AS "
    "SELECT floor(ts / 3600)::bigint AS hour, coalesce(model, '') AS model, "
    "coalesce(task_type, '') AS task_type, coalesce(client, '') AS client, "
    "coalesce(member, '') AS member, v.metric, hist_bucket(v.value) AS bucket "
    "FROM requests CROSS JOIN LATERAL (VALUES (0, latency_ms), (1, ttft_ms)) AS v (metric, value) "
    "WHERE status = 'ok' AND coalesce(cache_hit, 0) = 0 AND v.value IS NOT NULL",
    "CREATE TEMPORARY TABLE pg009_hours ON COMMIT DROP AS "
    "SELECT hour, CASE WHEN GROUPING(model) = 0 THEN 'model' "
    "WHEN GROUPING(task_type) = 0 THEN 'task' WHEN GROUPING(client) = 0 THEN 'client' "
    "WHEN GROUPING(member) = 0 THEN 'member' ELSE 'all' END AS dim, "
    "coalesce(model, task_type, client, member, '') AS key, metric, bucket, count(*) AS n "
    "FROM pg009_points GROUP BY GROUPING SETS ((hour, model, metric, bucket), "
    "(hour, task_type, metric, bucket), (hour, client, metric, bucket), "
    "(hour, member, metric, bucket), (hour, metric, bucket))",
    # Each block size from the next smaller one (an hour's block of 6 is its 6-hour block's,
    # and so on up), so each step groups the rows of the one before, not every hour's again.
    "CREATE TEMPORARY TABLE pg009_blocks ON COMMIT DROP AS "
    "SELECT 10000000 + hour AS day, dim, key, metric, bucket, n FROM pg009_hours",
    "INSERT INTO pg009_blocks SELECT 60000000 + (day - 10000000) / 6, dim, key, metric, "
    "bucket, sum(n) FROM pg009_blocks WHERE day < 20000000 GROUP BY 1, 2, 3, 4, 5",
    "INSERT INTO pg009_blocks SELECT 240000000 + (day - 60000000) / 4, dim, key, metric, "
    "bucket, sum(n) FROM pg009_blocks WHERE day >= 60000000 AND day < 70000000 "
    "GROUP BY 1, 2, 3, 4, 5",
    "INSERT INTO pg009_blocks SELECT 960000000 + (day - 240000000) / 4, dim, key, metric, "
    "bucket, sum(n) FROM pg009_blocks WHERE day >= 240000000 AND day < 250000000 "
    "GROUP BY 1, 2, 3, 4, 5",
    "INSERT INTO pg009_blocks SELECT -1, dim, key, metric, bucket, sum(n) FROM pg009_blocks "
    "WHERE day >= 960000000 GROUP BY 2, 3, 4, 5",
    "INSERT INTO rollup_histogram (day, dim, key, metric, zeros, counts) "
    "SELECT day, dim, key, metric, coalesce(sum(n) FILTER (WHERE bucket = -100000), 0), "
    "hist_agg(bucket, n) FILTER (WHERE bucket != -100000) FROM pg009_blocks "
    "GROUP BY 1, 2, 3, 4",
)


def pg009_rebuild_rollups(conn: Connection) -> None:
    """Empty every rollup of pg009's schema and rebuild it from the request rows, in the
    caller's transaction (what the tests hold the rollups kept on write to; benchmarks/team.py
    builds its rollups with it after loading rows in bulk)."""
    for table in ("rollup_day", "rollup_party", "rollup_total", "rollup_histogram"):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608 - constant table names
    # pg005's statements for the other rollups (the hours, the sizes, three tables).
    for statement in (*_PG005_REBUILD[:5], *_PG009_REBUILD_HISTOGRAMS):
        conn.execute(statement)


@migration
def pg009_histogram_arrays(conn: Connection) -> None:
    """SQLite's m_team_histogram_arrays: histograms as one row per (block, dimension, key,
    metric) holding every bucket's count (`rollup_histogram`), for 1-hour blocks too, instead
    of one row per bucket (`rollup_hist`, dropped): a 30-day window sums ~1,000 rows instead of
    ~70,000 (whose hash aggregate took most of a report's time), and a report reads at most its
    partial first hour of rows. Rebuilt from the rows."""
    for statement in _PG009_FUNCTIONS:
        conn.execute(statement)
    conn.execute(
        "CREATE TABLE rollup_histogram (day BIGINT NOT NULL, dim TEXT NOT NULL, "
        "key TEXT NOT NULL, metric INTEGER NOT NULL, zeros BIGINT NOT NULL DEFAULT 0, "
        "counts BIGINT[], PRIMARY KEY (day, dim, key, metric))"
    )
    conn.execute("DROP TABLE rollup_hist")
    for statement in _PG009_REBUILD_HISTOGRAMS:
        conn.execute(statement)


@migration
def pg010_party_member_index(conn: Connection) -> None:
    """SQLite's m_team_party_member_index: `devflow_reserve` reads the member's month from
    `rollup_party` by member and day while it holds the budget lock; the table's key starts
    with the day, so without this index it walked every party's rows of the month."""
    conn.execute("CREATE INDEX idx_rollup_party_member ON rollup_party (member, day)")


# Escrow (pg011): the money a budget has left is handed out in advance to `ESCROW_SHARDS`
# rows of `budget_escrow`, and a reservation takes its amount from any one of them that has
# room (FOR UPDATE SKIP LOCKED: it waits for no other reservation), so reservations no longer
# queue behind one lock row. Each budget a reservation is checked against is a key: a team
# budget (scope '') by its period's bounds and its limit, a member's monthly budget (scope:
# the member) by its month and the member's limit; a changed limit or a new period is a new
# key. What keeps every budget exact, for each key registered:
#     spent + held + (the allowances of its rows) <= limit
# where held is every live reservation the budget counts (all of them for a team budget, the
# member's for a member budget). The slow path establishes it: under the exclusive escrow
# lock (no fast path in flight; they hold it shared) it checks the budgets as pg008 did,
# then hands out what is left (a reservation that took from the rows moved its amount from
# the allowances to held). Every other change to spent + held must be a decrease, or be
# taken out of the allowances of the budgets that count it (a cost recorded above what its
# request had reserved: a fallback to a dearer model, an unknown cost allowed; a
# reservation settled above its amount: the triggers below), or empty the escrow so that
# the next reservation takes the slow path (a reservation taken without the escrow: the
# client-side transaction). A reservation whose keys are not exactly those
# registered (another configuration of budgets, or a key of another period) takes the slow
# path, which drops the keys it does not have: so a reservation is never left out of a key
# that counts it. Money given back (a release, a cost under the worst case, an expired
# lease, a dead holder) is a decrease: it comes back to the allowances at the next slow
# path, which runs when no row has room for a reservation, so none is refused while the
# budget has room (the slow path decides every refusal, exactly as pg008 did).
ESCROW_SHARDS = 16
ESCROW_LOCK = 0x64657662  # "devb": the advisory lock of the escrow (shared: fast path)

_PG011_TABLE = (
    "CREATE TABLE budget_escrow (scope TEXT NOT NULL, key TEXT NOT NULL, shard INTEGER NOT "
    "NULL, allowance NUMERIC NOT NULL, PRIMARY KEY (scope, key, shard))",
    # A request's reservations are looked up by it when it finishes (and by the trigger).
    "CREATE INDEX idx_reservations_request ON budget_reservations (request_id)",
)

# What a key has left, over as many rows as hold at least one more reservation of the size
# just asked for (up to ESCROW_SHARDS); each row's share rounded down, so together they never
# hold more than `room`. A key with no room keeps one empty row: it stays registered.
_PG011_FILL = f"""
CREATE FUNCTION devflow_escrow_fill(p_scope TEXT, p_key TEXT, p_room NUMERIC,
    p_size NUMERIC) RETURNS VOID LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    room NUMERIC := greatest(p_room, 0);
    parts INTEGER := CASE WHEN p_size > 0
        THEN least({ESCROW_SHARDS}, greatest(1, floor(room / p_size)))::integer
        ELSE {ESCROW_SHARDS} END;
BEGIN
    INSERT INTO budget_escrow (scope, key, shard, allowance)
        SELECT p_scope, p_key, s, trunc(room / parts, 12) FROM generate_series(1, parts) s
        ON CONFLICT DO NOTHING;  -- two budgets with the same key: the same room
END
$$
"""  # noqa: S608 - built from this module's constants only

# What keeps the escrow exact under concurrency (a review of its first version found each):
# - A member's limit is read under the escrow lock (shared on the fast path, exclusive on the
#   slow path), never only before it: a limit lowered while a reservation waited for the
#   lock would be checked at its old value. Changing a member's limit (`members_escrow`
#   trigger, whoever writes it) takes the exclusive lock and drops that member's rows, so a
#   reservation is decided either wholly before the change or wholly after it.
# - The slow path deletes expired leases first, skipping any row another transaction holds
#   (SKIP LOCKED), then counts every reservation left: a lease renewed at the instant it
#   expired stays counted (summing the live ones and then deleting counts a renewal
#   committed in between nowhere), and a holder settling its expired lease (its row locked,
#   its trigger waiting for the shared lock) is not waited for by the exclusive holder (that
#   deadlocked). An expired lease left because it was locked counts: at worst a refusal too
#   many, never an overshoot.
# - Limits are written without trailing zeros in the keys (10 and 10.00: one key).
# - The requests trigger fires only for a row whose cost counts (not running, cost known):
#   not for every running row `begin_request` inserts.
# Not handled (documented): devflow_reserve assumes its transaction holds no shared escrow
# lock yet. Called after an earlier reservation, or after a statement whose trigger took
# from the escrow, in the same transaction, its slow path would ask for the exclusive lock
# while holding the shared one, and two such transactions deadlock (PostgreSQL detects it
# and fails one). Every caller reserves in a transaction of its own (one statement).
_PG011_RESERVE = f"""
CREATE OR REPLACE FUNCTION devflow_reserve(
    p_id TEXT, p_request TEXT, p_amount NUMERIC, p_now DOUBLE PRECISION, p_pid INTEGER,
    p_host TEXT, p_member TEXT, p_cutoff DOUBLE PRECISION, p_allow_unknown BOOLEAN,
    p_days BIGINT[], p_starts DOUBLE PRECISION[], p_ends DOUBLE PRECISION[],
    p_limits NUMERIC[], p_member_first BIGINT, p_member_last BIGINT,
    p_member_start DOUBLE PRECISION, p_member_end DOUBLE PRECISION
) RETURNS TABLE (outcome TEXT, budget INTEGER, spent NUMERIC, reserved NUMERIC,
    limit_usd NUMERIC)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    member_limit NUMERIC;
    held NUMERIC;
    member_held NUMERIC;
    oldest DOUBLE PRECISION;
    used NUMERIC;
    wanted NUMERIC := coalesce(p_amount, 0);
    n INTEGER := coalesce(array_length(p_limits, 1), 0);
    team_keys TEXT[] := '{{}}';
    team_rooms NUMERIC[] := '{{}}';
    member_key TEXT;
    member_room NUMERIC;
    registered TEXT[];
    taken INTEGER;
    k TEXT;
    sc TEXT;
    failed INTEGER := 0;
    failed_used NUMERIC;
BEGIN
    -- Read without the lock only to tell whether any budget applies; read again under it.
    IF p_member IS NOT NULL THEN
        SELECT m.budget_monthly_usd INTO member_limit FROM members m WHERE m.name = p_member;
    END IF;
    IF n = 0 AND member_limit IS NULL THEN
        RETURN QUERY SELECT 'unheld'::text, 0, NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    IF p_amount IS NULL AND NOT p_allow_unknown THEN
        RETURN QUERY SELECT 'unknown'::text, 0, NULL::numeric, NULL::numeric, member_limit;
        RETURN;
    END IF;
    IF p_amount = 0 THEN  -- it cannot cost anything: no budget to check or take from
        INSERT INTO budget_reservations (id, request_id, amount, created, state, pid, host,
            member) VALUES (p_id, p_request, p_amount, p_now, 'held', p_pid, p_host, p_member);
        RETURN QUERY SELECT 'held'::text, 0, NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
    END IF;
    FOR i IN 1 .. n LOOP
        team_keys := team_keys || format('%s|%s|%s|%s', p_days[i], p_starts[i], p_ends[i],
            trim_scale(p_limits[i]));
    END LOOP;
    -- Fast path: one row of each key with room, none waited for but when every row with
    -- room is taken this instant. Its own block: failing rolls back what it took and
    -- releases its locks (row locks and the shared lock taken in it), then the slow path.
    BEGIN
        PERFORM pg_advisory_xact_lock_shared({ESCROW_LOCK});
        IF p_member IS NOT NULL THEN  -- a change of it waits for us, or we see it
            SELECT m.budget_monthly_usd INTO member_limit FROM members m
                WHERE m.name = p_member;
            member_key := CASE WHEN member_limit IS NOT NULL THEN format('%s|%s|%s|%s',
                p_member_first, p_member_start, p_member_end, trim_scale(member_limit)) END;
        END IF;
        SELECT coalesce(array_agg(DISTINCT e.key ORDER BY e.key), '{{}}') INTO registered
            FROM budget_escrow e WHERE e.scope = '';
        IF registered IS DISTINCT FROM ARRAY(SELECT DISTINCT x FROM unnest(team_keys) x
                ORDER BY x) THEN
            RAISE EXCEPTION USING ERRCODE = 'DFE01';
        END IF;
        IF p_member IS NOT NULL AND (EXISTS (SELECT 1 FROM budget_escrow e
                WHERE e.scope = p_member AND e.key IS DISTINCT FROM member_key)
                OR (member_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM budget_escrow e
                WHERE e.scope = p_member AND e.key = member_key))) THEN
            RAISE EXCEPTION USING ERRCODE = 'DFE01';
        END IF;
        -- In (scope, key) order, the same for every reservation: waits never go round.
        FOR sc, k IN SELECT '', x FROM unnest(team_keys) x UNION
                SELECT p_member, member_key WHERE member_key IS NOT NULL ORDER BY 1, 2 LOOP
            SELECT e.shard INTO taken FROM budget_escrow e WHERE e.scope = sc AND e.key = k
                AND e.allowance >= wanted AND e.allowance > 0
                ORDER BY (e.shard + pg_backend_pid()) % {ESCROW_SHARDS}
                LIMIT 1 FOR UPDATE SKIP LOCKED;
            IF NOT FOUND THEN  -- every row with room is taken this instant: wait for one
                SELECT e.shard INTO taken FROM budget_escrow e WHERE e.scope = sc
                    AND e.key = k AND e.allowance >= wanted AND e.allowance > 0
                    ORDER BY e.allowance DESC LIMIT 1 FOR UPDATE;
                IF NOT FOUND THEN
                    RAISE EXCEPTION USING ERRCODE = 'DFE01';
                END IF;
            END IF;
            UPDATE budget_escrow e SET allowance = e.allowance - wanted
                WHERE e.scope = sc AND e.key = k AND e.shard = taken;
        END LOOP;
        INSERT INTO budget_reservations (id, request_id, amount, created, state, pid, host,
            member) VALUES (p_id, p_request, p_amount, p_now, 'held', p_pid, p_host, p_member);
        RETURN QUERY SELECT 'held'::text, 0, NULL::numeric, NULL::numeric, NULL::numeric;
        RETURN;
    EXCEPTION WHEN SQLSTATE 'DFE01' THEN
        NULL;  -- on to the slow path
    END;
    -- Slow path: alone (every fast path finished), pg008's check, then the escrow refilled.
    PERFORM pg_advisory_xact_lock({ESCROW_LOCK});
    IF p_member IS NOT NULL THEN
        SELECT m.budget_monthly_usd INTO member_limit FROM members m WHERE m.name = p_member;
        member_key := CASE WHEN member_limit IS NOT NULL THEN format('%s|%s|%s|%s',
            p_member_first, p_member_start, p_member_end, trim_scale(member_limit)) END;
    END IF;
    -- Expired leases first (none a live holder is renewing or settling: those are locked,
    -- skipped and counted), then every reservation left counts.
    SELECT min(r.created) INTO oldest FROM budget_reservations r;
    IF oldest < p_cutoff THEN
        DELETE FROM budget_reservations r WHERE r.id IN (SELECT x.id
            FROM budget_reservations x WHERE x.created < p_cutoff FOR UPDATE SKIP LOCKED);
    END IF;
    SELECT coalesce(sum(r.amount), 0),
        coalesce(sum(r.amount) FILTER (WHERE r.member = p_member), 0)
        INTO held, member_held FROM budget_reservations r;
    FOR i IN 1 .. n LOOP
        SELECT coalesce((SELECT sum(t.cost_reported + t.cost_estimated) FROM rollup_total t
            WHERE (p_days[i] = -1 AND t.day = -1) OR (p_days[i] >= 0 AND t.day >= p_days[i])),
            0) + coalesce((SELECT sum(q.cost_usd) FROM requests q WHERE q.ts >= p_starts[i]
            AND q.ts < p_ends[i] AND q.status != 'running'), 0) INTO used;
        team_rooms := team_rooms || (p_limits[i] - used - held);
        IF failed = 0 AND used + held + wanted > p_limits[i] THEN
            failed := i;
            failed_used := used;
        END IF;
    END LOOP;
    IF failed = 0 AND member_limit IS NOT NULL THEN
        SELECT coalesce((SELECT sum(t.cost_reported + t.cost_estimated) FROM rollup_party t
            WHERE t.member = p_member AND t.day >= p_member_first
            AND t.day <= p_member_last), 0) + coalesce((SELECT sum(q.cost_usd)
            FROM requests q WHERE q.member = p_member AND q.ts >= p_member_start
            AND q.ts < p_member_end AND q.status != 'running'), 0) INTO used;
        member_room := member_limit - used - member_held;
        IF used + member_held + wanted > member_limit THEN
            failed := -1;
            failed_used := used;
        END IF;
    END IF;
    -- Refill: the keys of this reservation get what their budgets have left (after it, if
    -- held); every other key it counts in is dropped (scope '' and this member's).
    DELETE FROM budget_escrow e WHERE e.scope = '' OR e.scope = p_member;
    IF failed = 0 THEN
        INSERT INTO budget_reservations (id, request_id, amount, created, state, pid, host,
            member) VALUES (p_id, p_request, p_amount, p_now, 'held', p_pid, p_host, p_member);
    END IF;
    FOR i IN 1 .. n LOOP
        PERFORM devflow_escrow_fill('', team_keys[i],
            team_rooms[i] - CASE WHEN failed = 0 THEN wanted ELSE 0 END, wanted);
    END LOOP;
    IF member_room IS NOT NULL THEN
        PERFORM devflow_escrow_fill(p_member, member_key,
            member_room - CASE WHEN failed = 0 THEN wanted ELSE 0 END, wanted);
    END IF;
    IF failed > 0 THEN
        RETURN QUERY SELECT 'budget'::text, failed, failed_used, held, p_limits[failed];
    ELSIF failed < 0 THEN
        RETURN QUERY SELECT 'member'::text, 0, failed_used, member_held, member_limit;
    ELSE
        RETURN QUERY SELECT 'held'::text, 0, NULL::numeric, held, NULL::numeric;
    END IF;
END
$$
"""  # noqa: S608 - built from this module's constants only

# A member's limit changed: under the exclusive lock (no reservation in flight), their rows
# are dropped; the next reservation of theirs registers the new limit's key.
_PG011_LIMIT_TRIGGER = f"""
CREATE FUNCTION devflow_escrow_on_limit() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({ESCROW_LOCK});
    DELETE FROM budget_escrow e WHERE e.scope = NEW.name OR e.scope = OLD.name;
    RETURN NULL;
END
$$
"""  # noqa: S608 - built from this module's constants only

# Money counted that no reservation took (a cost above what its request reserved, a
# settlement above its amount) is taken out of the rows of the budgets that count it (the
# team's keys, scope '', and that request's member's): each key gives up that much (or all
# it has), the rows with the lowest shards first, so its rows still hold exactly what the
# budget has left and the reservations after it keep their fast path (emptying the rows
# instead sent the next reservation of every process to the exclusive lock: with a process
# or member without a budget, on every request). The rows are locked in the order
# reservations lock them.
_PG011_TAKE = f"""
CREATE FUNCTION devflow_escrow_take(p_member TEXT, p_excess NUMERIC) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({ESCROW_LOCK});
    PERFORM 1 FROM budget_escrow e WHERE e.scope = '' OR e.scope = p_member
        ORDER BY e.scope, e.key, e.shard FOR UPDATE;
    UPDATE budget_escrow e
        SET allowance = greatest(e.allowance - greatest(p_excess - c.before, 0), 0)
        FROM (SELECT x.scope, x.key, x.shard, coalesce(sum(x.allowance) OVER (
                PARTITION BY x.scope, x.key ORDER BY x.shard
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
            FROM budget_escrow x WHERE x.scope = '' OR x.scope = p_member) c
        WHERE e.scope = c.scope AND e.key = c.key AND e.shard = c.shard
        AND c.before < p_excess AND e.allowance > 0;
END
$$
"""  # noqa: S608 - built from this module's constants only

_PG011_COST_TRIGGER = """
CREATE OR REPLACE FUNCTION devflow_escrow_on_cost() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    before NUMERIC := 0;
    excess NUMERIC;
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status != 'running' THEN
        before := coalesce(OLD.cost_usd, 0);
    END IF;
    excess := NEW.cost_usd - before - (SELECT coalesce(sum(r.amount), 0)
        FROM budget_reservations r WHERE r.request_id = NEW.id);
    IF excess > 0 THEN
        PERFORM devflow_escrow_take(NEW.member, excess);
    END IF;
    RETURN NULL;
END
$$
"""

_PG011_SETTLE_TRIGGER = """
CREATE OR REPLACE FUNCTION devflow_escrow_on_settle() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM devflow_escrow_take(NEW.member, coalesce(NEW.amount, 0) - coalesce(OLD.amount, 0));
    RETURN NULL;
END
$$
"""


@migration
def pg011_escrow_reservations(conn: Connection) -> None:
    """Budget reservations take their money from escrow rows (`budget_escrow`, one of
    ESCROW_SHARDS per budget with room) instead of all passing one lock row; the check of
    pg008 runs when no row has room, under an exclusive lock (see above). Same signature as
    pg008's `devflow_reserve`: a process started before this migration calls this version."""
    for statement in (
        *_PG011_TABLE,
        _PG011_FILL,
        _PG011_RESERVE,
        _PG011_TAKE,
        _PG011_COST_TRIGGER,
        _PG011_SETTLE_TRIGGER,
        _PG011_LIMIT_TRIGGER,
        "CREATE TRIGGER requests_escrow AFTER INSERT OR UPDATE OF cost_usd, status ON requests "
        "FOR EACH ROW WHEN (NEW.status <> 'running' AND NEW.cost_usd IS NOT NULL) "
        "EXECUTE FUNCTION devflow_escrow_on_cost()",
        "CREATE TRIGGER reservations_escrow AFTER UPDATE OF amount ON budget_reservations "
        "FOR EACH ROW WHEN (coalesce(NEW.amount, 0) > coalesce(OLD.amount, 0)) "
        "EXECUTE FUNCTION devflow_escrow_on_settle()",
        "CREATE TRIGGER members_escrow AFTER UPDATE OF budget_monthly_usd ON members "
        "FOR EACH ROW WHEN (OLD.budget_monthly_usd IS DISTINCT FROM NEW.budget_monthly_usd) "
        "EXECUTE FUNCTION devflow_escrow_on_limit()",
    ):
        conn.execute(statement)
