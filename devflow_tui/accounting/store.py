"""The analytics store: every request, attempt, budget reservation, cached answer, note and
conversation, in one SQLite file (WAL), or in a PostgreSQL database a team shares (the
backends are in `database`; every query here is written once, for both).

Threading: one write connection (`check_same_thread=False`) serialised by a re-entrant lock,
so the gateway may call it from the event loop or a thread worker; plus one read connection
with its own lock for reports, which in WAL mode read a committed snapshot without blocking
writers. Across processes, every multi-statement write runs in `BEGIN IMMEDIATE` and waits
up to `busy_timeout_s` for another process's write lock.

Durability: every write commits before the method returns (`synchronous=NORMAL` in WAL: a
committed request survives the process being killed; only an OS crash or power loss can lose
the last transactions). Nothing here ever deletes or recreates the database file.

On PostgreSQL the write transactions run concurrently (READ COMMITTED): a transaction that
reads a row and then changes it locks it first (`for_update`), rollup rows are added to by
atomic upserts, and budget reservations take the budget escrow's rows or its lock
(`devflow_reserve`, `lock_budgets`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devflow_tui.accounting import rollup
from devflow_tui.accounting.database import Connection, Cursor, Listener, backend_for
from devflow_tui.accounting.errors import StoreError
from devflow_tui.accounting.records import (
    TERMINAL_STATUSES,
    AttemptRow,
    Conversation,
    Message,
    Note,
    RequestOutcome,
    RequestRow,
    RequestStart,
)
from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.redaction import redact
from devflow_tui.routing.health import HealthSample

if TYPE_CHECKING:
    from devflow_tui.config import Settings

# A row still "running" after this long is taken as abandoned even if its pid is alive
# (the pid may have been reused by an unrelated process).
STALE_RUNNING_S = 6 * 3600.0
# This machine, recorded with every running request and reservation next to the process id:
# on a shared PostgreSQL a pid names a process only on its own machine, so a holder on another
# machine is never judged by a local pid; its reservations end by lease expiry instead.
HOST = socket.gethostname()[:255] or "localhost"

_REQUEST_COLUMNS = tuple(RequestRow.model_fields)
_ATTEMPT_COLUMNS = ("request_id", "n", "model", "status", "error", "message", "latency_ms",
                    "wait_before_s", "ts")  # fmt: skip
# Column lists are constants of this module, never user input.
_SELECT_FINISHED = f"SELECT {rollup.FINISHED_COLUMNS} FROM requests WHERE id = ?"  # noqa: S608
_SELECT_FINISHED_AND_ATTEMPTS = (
    f"SELECT {rollup.FINISHED_COLUMNS}, "  # noqa: S608
    "(SELECT count(*) FROM attempts WHERE request_id = requests.id) FROM requests WHERE id = ?"
)
_SELECT_RUNNING = (
    "SELECT id, pid, coalesce(updated, ts) FROM requests WHERE status = 'running' "
    "AND coalesce(host, ?) = ?"
)
_INSERT_RUNNING = (
    "INSERT INTO requests (id, ts, updated, conversation_id, project, prompt_hash, "
    "task_type, complexity, requested_model, model, routing_reason, status, "
    "prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost_source, "
    "cache_hit, complete, pid, host, client, member, comparison, escalation_of) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, 0, 0, 0, 'unknown', 0, 0, "
    "?, ?, ?, ?, ?, ?)"
)
# Sets the flag once (a second escalation of the same request changes nothing) and returns
# the row, so its rollups can count it in the same transaction.
_MARK_ESCALATED = (
    "UPDATE requests SET escalated = 1 WHERE id = ? AND escalated = 0 "  # noqa: S608
    f"RETURNING {rollup.FINISHED_COLUMNS}"
)
_SELECT_REQUESTS = f"SELECT {', '.join(_REQUEST_COLUMNS)} FROM requests"  # noqa: S608
_SELECT_ATTEMPTS = f"SELECT {', '.join(_ATTEMPT_COLUMNS)} FROM attempts"  # noqa: S608


_log = logging.getLogger(__name__)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else, or we cannot tell: assume alive
    return True


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class AnalyticsStore:
    """Opens (creating or migrating) the analytics database: the SQLite file at `path`, or
    the PostgreSQL database at `url` when one is given (see `database`)."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_s: float = 5.0,
        url: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self._backend = backend_for(self.path, url, busy_timeout_s)
        self._lock = threading.RLock()
        self._read_lock = threading.Lock()
        self._depth = 0
        # No Python-level open() of the file, ever: closing any descriptor of the database
        # would drop the POSIX locks SQLite holds on it in this process, and another process
        # could then checkpoint and delete the WAL under us (a classic way to corrupt SQLite).
        # A file that is not a database fails SQLite's first read, before anything is written.
        self._conn = self._backend.connect()
        try:
            self._backend.run(lambda: self._backend.initialise(self._conn))
            self._read_conn = self._backend.connect(reader=True)
        except BaseException:
            self._backend.close(self._conn)
            raise
        self._listeners: list[Listener] = []
        self._closed = False

    @classmethod
    def open(cls, settings: Settings, **kwargs: Any) -> AnalyticsStore:
        """The store the settings name: `DEVFLOW_DATABASE_URL`, else the SQLite file."""
        url = settings.database_url.get_secret_value() if settings.database_url else None
        return cls(settings.db_path, url=url, **kwargs)

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._backend.kind

    @property
    def location(self) -> str:
        """Where the data is (a path, or a database URL without its password)."""
        return self._backend.location

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Database errors of either backend become a StoreError that says what to do."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            error = self._backend.translate(exc)
            if error is None:
                raise
            raise error from None

    def close(self) -> None:
        """Close both connections; the store cannot be used afterwards."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with self._read_lock:
                self._backend.close(self._read_conn)
            for listener in self._listeners:
                listener.close()
            self._backend.close(self._conn)

    def __enter__(self) -> AnalyticsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """How many migrations the database has had."""
        with self._lock:
            return len(self._backend.applied(self._conn))

    # ------------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def transaction(self, wait_s: float | None = None) -> Iterator[Connection]:
        """A write transaction (`BEGIN IMMEDIATE` on SQLite); nested use joins the outer one.
        `wait_s` bounds the wait for another process's lock (default: `busy_timeout_s`)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            with self._translated():
                self._backend.begin(self._conn, wait_s)
            self._depth = 1
            try:
                yield self._conn
            except BaseException as exc:
                self._depth = 0
                if self._backend.in_transaction(self._conn):
                    self._conn.execute("ROLLBACK")
                error = self._backend.translate(exc) if isinstance(exc, Exception) else None
                if error is not None:
                    raise error from None
                raise
            self._depth = 0
            try:
                with self._translated():
                    self._conn.execute("COMMIT")
            except StoreError:
                if self._backend.in_transaction(self._conn):
                    self._conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def pipelined_transaction(self) -> Iterator[Connection]:
        """A write transaction whose statements are sent without waiting for each one's
        result (PostgreSQL's pipeline mode): a statement whose result is read waits for
        those before it, the rest go with the COMMIT, so a transaction of many writes costs
        a round trip or two, not one per statement. The same as `transaction` on SQLite."""
        with self._lock:
            if self._depth:
                with self.transaction() as conn:
                    yield conn
                return
            try:
                with (
                    self._translated(),
                    self._backend.pipeline(self._conn),
                    self.transaction() as conn,
                ):
                    yield conn
            except BaseException:
                # An error reported when the pipeline ended leaves the transaction aborted.
                if self._backend.in_transaction(self._conn):
                    with self._translated():
                        self._conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """The read connection, for reports: a committed snapshot that never blocks writers."""
        # Database errors become the StoreError that says what to do, as writes' do: a
        # damaged file gave `devflow report` a traceback (two: the read's, then COMMIT's).
        with self._read_lock, self._translated():
            self._backend.begin_read(self._read_conn)  # one snapshot for all the caller's queries
            try:
                yield self._read_conn
            except BaseException:
                # The read's own error is the one to report, not a failed end of the snapshot.
                with contextlib.suppress(Exception):
                    self._read_conn.execute("COMMIT")
                raise
            self._read_conn.execute("COMMIT")

    def lock_budgets(self, conn: Connection) -> None:
        """Serialise budget reservations across processes and machines, in `conn`'s
        transaction (a row lock on PostgreSQL; SQLite's write lock already does it)."""
        self._backend.lock_budgets(conn)

    def fetch_row(self, sql: str, params: Sequence[Any] = (), *, reader: bool = False) -> Any:
        """The first row of one statement, run on its own (its own transaction, unless the
        caller holds one open): one round trip on PostgreSQL. `reader`: on the read
        connection, for a lookup that must not wait behind the writer's transactions."""
        if not reader:
            return self._execute(sql, params).fetchone()
        with self._read_lock, self._translated():
            return self._read_conn.execute(sql, params).fetchone()

    @contextlib.contextmanager
    def batched(self) -> Iterator[None]:
        """Statements run in this block, each on its own (no transaction), are sent without
        waiting for their results and answered together when the block ends: one round trip
        on PostgreSQL (its pipeline mode), one implicit transaction. Read results sent with
        `send` after the block. SQLite runs each statement as it comes."""
        with self._lock, self._translated(), self._backend.pipeline(self._conn):
            yield

    def send(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """One statement on its own, its result left unread (in a `batched` block it is
        answered with the block's others)."""
        return self._execute(sql, params)

    def notify(self, conn: Connection, channel: str) -> None:
        """In `conn`'s transaction: tell the listeners of `channel` in other processes, when
        it commits, that something changed (PostgreSQL; nothing on SQLite)."""
        self._backend.notify(conn, channel)

    def listen(self, channel: str) -> Listener | None:
        """A listener of `channel` on a connection of its own, closed with the store; None on
        SQLite, which has no notifications."""
        with self._translated():
            listener = self._backend.listen(channel)
        if listener is not None:
            self._listeners.append(listener)
        return listener

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        with self._lock, self._translated():
            return self._backend.run(lambda: self._conn.execute(sql, params))

    # ------------------------------------------------------------------ request lifecycle

    def begin_request(self, start: RequestStart) -> str:
        """Record a request as "running" (committed at once); returns its id."""
        request_id = start.request_id or str(uuid.uuid4())
        now = self.clock()
        if start.escalation_of is None:
            self._execute(_INSERT_RUNNING, self._running_values(start, request_id, now))
            return request_id
        with self.transaction() as conn:
            conn.execute(_INSERT_RUNNING, self._running_values(start, request_id, now))
            # The request it re-asks counts as escalated once, however often it is re-asked;
            # its rollup rows learn it now (when it has finished: else when it finishes).
            row = conn.execute(_MARK_ESCALATED, (start.escalation_of,)).fetchone()
            if row is not None and row[4] in TERMINAL_STATUSES:
                rollup.add_escalation(conn, rollup.finished_from_row(row))
        return request_id

    @staticmethod
    def _running_values(start: RequestStart, request_id: str, now: float) -> tuple[Any, ...]:
        return (
            request_id,
            start.ts if start.ts is not None else now,
            now,
            start.conversation_id,
            start.project,
            start.prompt_hash,
            start.task_type,
            start.complexity,
            start.requested_model,
            start.model,
            start.routing_reason,
            start.prompt_tokens,
            os.getpid(),
            HOST,
            start.client,
            start.member,
            start.comparison,
            start.escalation_of,
        )

    def record_attempt(self, request_id: str, attempt: AttemptRecord, *, n: int) -> None:
        """Write attempt number `n` of a request (1, 2, ... in call order, as the caller counts
        them: a number taken from the rows already written would shift after one failed write).

        Like progress, best effort while the request runs: when it cannot be written (a full
        disk) the call goes on, and `finish_request` adds the attempts still missing."""
        try:
            self._write_attempt(request_id, attempt, n)
        except StoreError as exc:
            _log.warning("cannot save an attempt of request %s: %s", request_id, exc.message)

    def _write_attempt(self, request_id: str, attempt: AttemptRecord, n: int) -> None:
        self._execute(
            "INSERT INTO attempts (request_id, n, model, status, error, message, latency_ms, "
            "wait_before_s, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                request_id,
                n,
                attempt.model,
                attempt.status,
                attempt.error,
                redact(attempt.message) if attempt.message else None,
                attempt.latency_ms,
                attempt.wait_before_s,
                self.clock(),
            ),
        )

    def _insert_attempts(self, request_id: str, attempts: Sequence[AttemptRecord]) -> None:
        """Write the attempts (numbered from 1) whose number has no row yet."""
        now = self.clock()
        with self.transaction() as conn:
            found = conn.execute("SELECT n FROM attempts WHERE request_id = ?", (request_id,))
            written = {row[0] for row in found.fetchall()}
            missing = [
                (
                    request_id,
                    n,
                    a.model,
                    a.status,
                    a.error,
                    redact(a.message) if a.message else None,
                    a.latency_ms,
                    a.wait_before_s,
                    now,
                )
                for n, a in enumerate(attempts, start=1)
                if n not in written
            ]
            if missing:
                conn.executemany(
                    "INSERT INTO attempts (request_id, n, model, status, error, message, "
                    "latency_ms, wait_before_s, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    missing,
                )

    def record_progress(
        self,
        request_id: str,
        *,
        completion_tokens: int,
        reasoning_tokens: int = 0,
        prompt_tokens: int | None = None,
        model: str | None = None,
        partial_text: str | None = None,
        generation_id: str | None = None,
    ) -> None:
        """Save how far a running stream got, so a killed process leaves its partial counts
        (and the generation, whose billed cost `reconcile` can then fetch).

        Each call commits (about 0.05 ms): call it every few hundred milliseconds of a stream,
        not for every token. Progress is a safety net, not the record: when it cannot be
        written (a full disk, a long-held lock) the stream goes on and the final
        `finish_request` decides.
        """
        try:
            self._write_progress(
                request_id,
                completion_tokens,
                reasoning_tokens,
                prompt_tokens,
                model,
                partial_text,
                generation_id,
            )
        except StoreError as exc:
            _log.warning("cannot save the progress of request %s: %s", request_id, exc.message)

    def _write_progress(
        self,
        request_id: str,
        completion_tokens: int,
        reasoning_tokens: int,
        prompt_tokens: int | None,
        model: str | None,
        partial_text: str | None,
        generation_id: str | None,
    ) -> None:
        now = self.clock()
        self._execute(
            "UPDATE requests SET completion_tokens = ?, reasoning_tokens = ?, "
            "prompt_tokens = coalesce(?, prompt_tokens), model = coalesce(?, model), "
            "partial_text = coalesce(?, partial_text), "
            "generation_id = coalesce(?, generation_id), updated = ? "
            "WHERE id = ? AND status = 'running'",
            (
                completion_tokens,
                reasoning_tokens,
                prompt_tokens,
                model,
                partial_text,
                generation_id,
                now,
                request_id,
            ),
        )
        # A stream still making progress renews its budget reservation's lease, so a long
        # answer keeps its money reserved while a crashed holder's lease runs out.
        self._execute(
            "UPDATE budget_reservations SET created = ? WHERE request_id = ? AND created < ?",
            (now, request_id, now),
        )

    def finish_request(
        self,
        request_id: str,
        outcome: RequestOutcome,
        *,
        saved_usd: Decimal | None = None,
        spend_since: Sequence[float] = (),
    ) -> list[Decimal]:
        """Write the outcome of a request and update the rollups, in one transaction.

        Attempts in `outcome.attempts` beyond those already recorded with `record_attempt` are
        added, so the caller may either record attempts as they happen or only pass the outcome.
        A cache hit costs exactly zero and `saved_usd` (the cached answer's original cost) is
        what it saved. The request's budget reservations (settled or still held) are removed
        in the same transaction, because its cost now counts in the request row: a caller
        finishing a request need not settle or release its reservation first.

        On PostgreSQL the transaction is pipelined: about two round trips in all. Returns the
        known spend since each time of `spend_since` as the transaction leaves it (the budgets'
        status after the request, read in the same round trips).
        """
        now = self.clock()
        cost = outcome.cost_usd
        source: str = outcome.cost_source
        if outcome.cache_hit:
            cost, source = Decimal(0), "cache"
        elif cost is None and rollup.never_billed(
            outcome.status, outcome.prompt_tokens, outcome.completion_tokens, outcome.generation_id
        ):
            cost, source = Decimal(0), rollup.UNSENT
        elif cost is None:
            source = "unknown"
        with self.pipelined_transaction() as conn:
            old = conn.execute(
                _SELECT_FINISHED_AND_ATTEMPTS + self._backend.for_update, (request_id,)
            ).fetchone()
            if old is None:
                conn.execute(
                    "INSERT INTO requests (id, ts, status, pid, host) "
                    "VALUES (?, ?, 'running', ?, ?)",
                    (request_id, now, os.getpid(), HOST),
                )
                ts, model, task_type, complexity, recorded_attempts = now, None, None, None, 0
                client, member, escalated = None, None, False
            else:
                ts, model, task_type, complexity = old[0], old[1], old[2], old[3]
                client, member, escalated = old[16], old[17], bool(old[18])
                recorded_attempts = old[-1]
            if old is not None and old[4] in TERMINAL_STATUSES:
                # Finished twice (e.g. marked interrupted by another process first): replace.
                rollup.apply(conn, [rollup.finished_from_row(old)], sign=-1)
            conn.execute(
                "UPDATE requests SET updated = ?, model = coalesce(?, model), "
                "requested_model = coalesce(?, requested_model), "
                "task_type = coalesce(?, task_type), complexity = coalesce(?, complexity), "
                "status = ?, error_category = ?, error_message = ?, prompt_tokens = ?, "
                "completion_tokens = ?, reasoning_tokens = ?, cached_tokens = ?, cost_usd = ?, "
                "cost_source = ?, saved_usd = ?, latency_ms = ?, ttft_ms = ?, tokens_per_s = ?, "
                "generation_id = ?, finish_reason = ?, cache_hit = ?, complete = ?, "
                "partial_text = ? WHERE id = ?",
                (
                    now,
                    outcome.model,
                    outcome.requested_model,
                    outcome.task_type,
                    outcome.complexity,
                    outcome.status,
                    outcome.error_category,
                    redact(outcome.error_message) if outcome.error_message else None,
                    outcome.prompt_tokens,
                    outcome.completion_tokens,
                    outcome.reasoning_tokens,
                    outcome.cached_tokens,
                    _dec(cost),
                    source,
                    _dec(saved_usd) if outcome.cache_hit else None,
                    outcome.latency_ms,
                    outcome.ttft_ms,
                    outcome.tokens_per_s,
                    outcome.generation_id,
                    outcome.finish_reason,
                    int(outcome.cache_hit),
                    int(outcome.complete),
                    outcome.text if outcome.status != "ok" and outcome.text else None,
                    request_id,
                ),
            )
            if len(outcome.attempts) > recorded_attempts:
                self._insert_attempts(request_id, outcome.attempts)
            finished = rollup.Finished(
                ts=ts,
                model=outcome.model or model,
                task_type=outcome.task_type or task_type,
                complexity=outcome.complexity or complexity,
                status=outcome.status,
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                reasoning_tokens=outcome.reasoning_tokens,
                cached_tokens=outcome.cached_tokens,
                cost_usd=cost,
                cost_source=source,
                cache_hit=outcome.cache_hit,
                saved_usd=saved_usd if outcome.cache_hit else None,
                latency_ms=outcome.latency_ms,
                ttft_ms=outcome.ttft_ms,
                tokens_per_s=outcome.tokens_per_s,
                client=client,
                member=member,
                escalated=escalated,
            )
            rollup.apply(conn, [finished])
            # Its cost counts in the row now: whatever it still held (settled or not) goes.
            conn.execute("DELETE FROM budget_reservations WHERE request_id = ?", (request_id,))
            spends = [_send_spend_since(conn, ts) for ts in spend_since]
            if self.backend == "sqlite":  # read before COMMIT; PostgreSQL's come with it
                return [_spend_of(cursor.fetchone()) for cursor in spends]
        return [_spend_of(cursor.fetchone()) for cursor in spends]

    def mark_stale_running_as_interrupted(
        self, *, older_than_s: float = STALE_RUNNING_S, wait_s: float | None = None
    ) -> int:
        """Rows left "running" by a process of this machine that is gone become
        "interrupted", and budget reservations of such a process are released; returns how
        many rows.

        A row whose process is still alive is left alone (another devflow may be streaming),
        unless it is older than `older_than_s`. Partial token counts are kept. Rows of other
        machines (a shared PostgreSQL) are never judged by a pid that means nothing here:
        their reservations end when their lease expires (see `budget`).
        """
        now = self.clock()
        me = os.getpid()
        with self.transaction(wait_s) as conn:
            rows = conn.execute(_SELECT_RUNNING + self._backend.for_update, (HOST, HOST)).fetchall()
            stale = [
                request_id
                for request_id, pid, updated in rows
                if now - updated > older_than_s
                or (pid is not None and pid != me and not _pid_alive(pid))
            ]
            for request_id in stale:
                conn.execute(
                    "UPDATE requests SET status = 'interrupted', error_category = 'interrupted', "
                    "error_message = 'The process ended before the request finished.', "
                    "complete = 0, updated = ? WHERE id = ?",
                    (now, request_id),
                )
                row = conn.execute(_SELECT_FINISHED, (request_id,)).fetchone()
                rollup.apply(conn, [rollup.finished_from_row(row)])
                conn.execute("DELETE FROM budget_reservations WHERE request_id = ?", (request_id,))
            # Money held by a process that is gone is never settled by it: give it back now
            # rather than when the reservation expires.
            holders = conn.execute(
                "SELECT DISTINCT pid FROM budget_reservations WHERE pid IS NOT NULL AND pid != ? "
                "AND coalesce(host, ?) = ?",
                (me, HOST, HOST),
            ).fetchall()
            for (pid,) in holders:
                if not _pid_alive(pid):
                    conn.execute(
                        "DELETE FROM budget_reservations WHERE pid = ? AND coalesce(host, ?) = ?",
                        (pid, HOST, HOST),
                    )
        return len(stale)

    def set_billed_cost(self, request_id: str, billed: Decimal) -> None:
        """Record what OpenRouter billed for a request (from `/generation`)."""
        self._execute(
            "UPDATE requests SET billed_cost_usd = ? WHERE id = ?", (str(billed), request_id)
        )

    # ------------------------------------------------------------------ reading requests

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[RequestRow]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [RequestRow.model_validate(dict(zip(names, r, strict=True))) for r in cursor]

    def get_request(self, request_id: str) -> RequestRow | None:
        """One request by id."""
        rows = self._rows(_SELECT_REQUESTS + " WHERE id = ?", (request_id,))
        return rows[0] if rows else None

    def recent_requests(self, limit: int = 50) -> list[RequestRow]:
        """The latest requests, newest first."""
        return self._rows(
            _SELECT_REQUESTS + " ORDER BY ts DESC LIMIT ?",
            (limit,),
        )

    def unbilled_requests(self, limit: int = 50) -> list[RequestRow]:
        """Finished requests with a generation id and no billed cost yet, newest first."""
        return self._rows(
            _SELECT_REQUESTS + " WHERE generation_id IS NOT NULL AND billed_cost_usd IS NULL "
            "AND status != 'running' ORDER BY ts DESC LIMIT ?",
            (limit,),
        )

    def attempts_for(self, request_id: str) -> list[AttemptRow]:
        """The attempts of a request, in order."""
        with self._lock:
            rows = self._conn.execute(
                _SELECT_ATTEMPTS + " WHERE request_id = ? ORDER BY n",
                (request_id,),
            ).fetchall()
        return [
            AttemptRow.model_validate(dict(zip(_ATTEMPT_COLUMNS, r, strict=True))) for r in rows
        ]

    def health_samples(self, limit_per_model: int = 50, *, scan: int = 5000) -> list[HealthSample]:
        """The latest finished requests per model (up to `limit_per_model`, among the newest
        `scan` such requests), oldest first, to warm the health tracker.

        Cancelled, refused and cache-hit requests say nothing about a model's health and are
        left out. Bounded by `scan` so start-up stays fast on a large database, and no index
        on model is needed (it would cost every write).
        """
        with self._lock:
            rows = self._conn.execute(
                "SELECT model, status, latency_ms, ttft_ms, tokens_per_s, error_category "
                "FROM requests WHERE status IN ('ok', 'error', 'interrupted') AND cache_hit = 0 "
                "AND model IS NOT NULL ORDER BY ts DESC LIMIT ?",
                (scan,),
            ).fetchall()
        per_model: dict[str, list[HealthSample]] = {}
        for model, status, latency, ttft, tps, category in rows:
            kept = per_model.setdefault(model, [])
            if len(kept) < limit_per_model:
                kept.append(HealthSample(model, status == "ok", latency, ttft, tps, category))
        return [sample for kept in per_model.values() for sample in reversed(kept)]

    def spend_since(self, ts: float) -> Decimal:
        """Known spend (reported + estimated) of requests that started at or after `ts`."""
        with self._lock:
            return spend_since(self._conn, ts)

    def member_spend_since(self, member: str, ts: float) -> Decimal:
        """Known spend of one team member's requests that started at or after `ts`."""
        with self._lock:
            return member_spend_since(self._conn, member, ts)

    # ------------------------------------------------------------------ catalog cache

    def load_catalog(self) -> tuple[list[dict[str, Any]], float] | None:
        """The cached `/models` entries and when they were fetched, or None."""
        row = self._execute("SELECT models_json, fetched_at FROM catalog_cache WHERE id = 1")
        found = row.fetchone()
        if found is None:
            return None
        try:
            models = json.loads(found[0])
        except (TypeError, ValueError):
            return None  # a damaged cache is a cache miss; the next fetch overwrites it
        if not isinstance(models, list):
            return None
        return models, float(found[1])

    def save_catalog(self, models: list[dict[str, Any]], fetched_at: float) -> None:
        """Replace the cached `/models` entries."""
        self._execute(
            "INSERT INTO catalog_cache (id, models_json, fetched_at) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET models_json = excluded.models_json, "
            "fetched_at = excluded.fetched_at",
            (json.dumps(models), fetched_at),
        )

    # ------------------------------------------------------------------ notes

    def add_note(self, text: str, project: str | None) -> int:
        """Add a note (global when `project` is None); returns its id."""
        cursor = self._execute(
            "INSERT INTO notes (text, project, created) VALUES (?, ?, ?) RETURNING id",
            (text, project, self.clock()),
        )
        return int(cursor.fetchone()[0])

    def list_notes(self, project: str | None, include_global: bool = True) -> list[Note]:
        """Notes of a project (and the global ones), oldest first."""
        params: tuple[str, ...] = ()
        if project is None:
            sql = "SELECT id, text, project, created FROM notes WHERE project IS NULL"
        elif include_global:
            sql = (
                "SELECT id, text, project, created FROM notes WHERE project = ? OR project IS NULL"
            )
            params = (project,)
        else:
            sql = "SELECT id, text, project, created FROM notes WHERE project = ?"
            params = (project,)
        rows = self._execute(sql + " ORDER BY created, id", params).fetchall()
        return [Note(id=r[0], text=r[1], project=r[2], created=r[3]) for r in rows]

    def remove_note(self, note_id: int) -> bool:
        """Delete a note; False when there was none with that id."""
        return self._execute("DELETE FROM notes WHERE id = ?", (note_id,)).rowcount > 0

    # ------------------------------------------------------------------ conversations

    def save_message(
        self,
        conversation_id: str | None,
        role: str,
        content: str,
        *,
        request_id: str | None = None,
        title: str | None = None,
        project: str | None = None,
    ) -> str:
        """Append a message, creating the conversation when needed; returns the conversation id.

        The conversation's title defaults to the start of its first message.
        """
        now = self.clock()
        conversation_id = conversation_id or str(uuid.uuid4())
        with self.transaction() as conn:
            first_line = content.strip().splitlines()[0] if content.strip() else "(empty)"
            # Insert-or-nothing, then update: two processes adding to one new conversation
            # at once (PostgreSQL runs them concurrently) both succeed.
            created = conn.execute(
                "INSERT INTO conversations (id, title, created, updated, project) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (conversation_id, title or first_line[:80], now, now, project),
            ).rowcount
            if not created:
                conn.execute(
                    "UPDATE conversations SET updated = ?, title = coalesce(?, title) WHERE id = ?",
                    (now, title, conversation_id),
                )
            conn.execute(
                "INSERT INTO messages (conversation_id, request_id, role, content, ts) "
                "VALUES (?, ?, ?, ?, ?)",
                (conversation_id, request_id, role, content, now),
            )
        return conversation_id

    def list_conversations(self, search: str | None = None, limit: int = 50) -> list[Conversation]:
        """Conversations, most recently updated first; `search` matches titles and messages."""
        sql = (
            "SELECT c.id, c.title, c.created, c.updated, c.project, "
            "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) FROM conversations c"
        )
        params: list[Any] = []
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern += "%"
            sql += (
                " WHERE c.title LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages m "
                "WHERE m.conversation_id = c.id AND m.content LIKE ? ESCAPE '\\')"
            )
            params += [pattern, pattern]
        sql += " ORDER BY c.updated DESC, c.rowid DESC LIMIT ?"
        params.append(limit)
        rows = self._execute(sql, params).fetchall()
        return [
            Conversation(
                id=r[0], title=r[1], created=r[2], updated=r[3], project=r[4], messages=r[5]
            )
            for r in rows
        ]

    def load_conversation(self, conversation_id: str) -> list[Message]:
        """The messages of a conversation, in order."""
        rows = self._execute(
            "SELECT id, conversation_id, request_id, role, content, ts FROM messages "
            "WHERE conversation_id = ? ORDER BY ts, id",
            (conversation_id,),
        ).fetchall()
        return [
            Message(
                id=r[0], conversation_id=r[1], request_id=r[2], role=r[3], content=r[4], ts=r[5]
            )
            for r in rows
        ]

    def export_markdown(self, conversation_id: str) -> str:
        """A conversation as Markdown: a title, then one section per message."""
        row = self._execute(
            "SELECT title FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise StoreError(
                f"No conversation with id {conversation_id}.",
                hint="List conversations with `devflow history` to find its id.",
            )
        parts = [f"# {row[0]}\n"]
        for message in self.load_conversation(conversation_id):
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(message.ts))
            parts.append(f"## {message.role} ({stamp} UTC)\n\n{message.content}\n")
        return "\n".join(parts)


def spend_bounds(ts: float) -> tuple[int, float, float]:
    """Where spend since `ts` is read: the first whole UTC day in the rollups (ALL_TIME for
    all time), and the partial first day [start, end) in the request rows."""
    if ts <= 0:
        return rollup.ALL_TIME, ts, 0.0
    first_full_day = rollup.first_full_day(ts)
    return first_full_day, ts, first_full_day * rollup.DAY_S


def spend_since(conn: Connection, ts: float) -> Decimal:
    """Known spend since `ts` on a connection: whole UTC days from the rollups, the partial
    first day from the request rows."""
    return _spend_of(_send_spend_since(conn, ts).fetchone())


def _send_spend_since(conn: Connection, ts: float) -> Cursor:
    first_full_day, ts, first_day_start = spend_bounds(ts)
    # Whole days only: the all-time row (-1) is below any day.
    days = "day = ?" if first_full_day == rollup.ALL_TIME else "day >= ?"
    # One statement (a budget reservation runs it while holding the budget lock).
    return conn.execute(
        "SELECT (SELECT dec_sum(dec_add(cost_reported, cost_estimated)) FROM rollup_total "  # noqa: S608
        f"WHERE {days}), (SELECT dec_sum(cost_usd) FROM requests WHERE ts >= ? AND ts < ? "
        "AND status != 'running')",
        (first_full_day, ts, first_day_start),
    )


def _spend_of(row: Sequence[Any]) -> Decimal:
    whole, partial = row
    return Decimal(whole or 0) + Decimal(partial or 0)


def member_spend_bounds(ts: float) -> tuple[int, int, float, float]:
    """Where a member's spend since `ts` is read: the `rollup_party` periods from the first
    to the last possible whole UTC day (both ALL_TIME for all time), and the partial first day
    [start, end) in the request rows."""
    first_full_day, start, end = spend_bounds(ts)
    if first_full_day == rollup.ALL_TIME:
        return rollup.ALL_TIME, rollup.ALL_TIME, start, end
    return rollup.day_period(first_full_day), rollup.day_period(rollup.PERIOD_KEY - 1), start, end


def member_spend_since(conn: Connection, member: str, ts: float) -> Decimal:
    """Known spend of a team member since `ts` on a connection: whole UTC days from the
    per-member rollups (a month is ~30 rows per client, however many requests it had), the
    partial first day from the member's request rows (index on (member, ts))."""
    first, last, start, end = member_spend_bounds(ts)
    return _spend_of(
        conn.execute(
            "SELECT (SELECT dec_sum(dec_add(cost_reported, cost_estimated)) FROM rollup_party "
            "WHERE member = ? AND day >= ? AND day <= ?), (SELECT dec_sum(cost_usd) FROM "
            "requests WHERE member = ? AND ts >= ? AND ts < ? AND status != 'running')",
            (member, first, last, member, start, end),
        ).fetchone()
    )
