"""The two storage backends of the analytics store: the SQLite file (the default) and
PostgreSQL (`DEVFLOW_DATABASE_URL=postgresql://...`, for a team sharing one database).

The store owns every query and writes it once, in SQLite's words (`?` placeholders, upserts
with `ON CONFLICT ... DO UPDATE`, the SQL functions `dec_add`, `dec_sum`, `hist_bucket`,
`total` and sums of booleans). A backend supplies what differs: how to connect, migrate and
start a transaction, the placeholder style, how to lock a row, and how its errors read.
PostgreSQL's migrations define SQLite's functions in SQL, so a query means the same on both.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from devflow_tui.accounting import migrations, migrations_pg, rollup
from devflow_tui.accounting.errors import StoreError

if TYPE_CHECKING:
    import psycopg

_T = TypeVar("_T")


class Cursor(Protocol):
    """What the store reads from an executed statement (sqlite3's and psycopg's cursors)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection as the store's queries use it: `?` placeholders, both backends."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


class Listener(Protocol):
    """Notifications of one channel, polled without waiting."""

    def changed(self) -> bool:
        """True when a notification came since the last call, or when that cannot be known
        any more (the listening connection failed)."""
        ...

    def close(self) -> None: ...


class Backend(abc.ABC):
    """What differs between SQLite and PostgreSQL, for one store."""

    kind: str  # "sqlite" or "postgresql"
    # Appended to a SELECT that reads a row the transaction then changes: a row lock on
    # PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the whole database.
    for_update: str = ""

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the data is, for messages (never a password)."""

    @abc.abstractmethod
    def connect(self, *, reader: bool = False) -> Connection:
        """A new connection (autocommit: transactions are begun explicitly)."""

    @abc.abstractmethod
    def initialise(self, conn: Connection) -> None:
        """Check the database and apply pending migrations."""

    @abc.abstractmethod
    def applied(self, conn: Connection) -> set[str]:
        """Names of the migrations the database has had."""

    @abc.abstractmethod
    def begin(self, conn: Connection, wait_s: float | None) -> None:
        """Start a write transaction."""

    @abc.abstractmethod
    def in_transaction(self, conn: Connection) -> bool:
        """True while `conn` has a transaction open."""

    @abc.abstractmethod
    def begin_read(self, conn: Connection) -> None:
        """Start a read-only snapshot for a report."""

    @abc.abstractmethod
    def run(self, statement: Callable[[], _T], wait_s: float | None = None) -> _T:
        """Run `statement`, waiting for another process's lock where the backend needs it."""

    @abc.abstractmethod
    def translate(self, exc: Exception) -> StoreError | None:
        """A StoreError for a database error of this backend; None for anything else."""

    @abc.abstractmethod
    def close(self, conn: Connection) -> None:
        """Close a connection."""

    def lock_budgets(self, conn: Connection) -> None:  # noqa: B027 - SQLite needs nothing
        """Serialise budget reservations database-wide, inside the caller's transaction."""

    def pipeline(self, conn: Connection) -> contextlib.AbstractContextManager[object]:
        """Statements in this block are sent without waiting for each result; a result read
        waits for everything before it (PostgreSQL: one round trip instead of one each)."""
        return contextlib.nullcontext()

    def notify(self, conn: Connection, channel: str) -> None:  # noqa: B027 - SQLite: nothing
        """Tell other processes' listeners of `channel` (at commit) that something changed."""

    def listen(self, channel: str) -> Listener | None:
        """A listener of `channel`'s notifications; None where there are none (SQLite)."""
        return None

    def unknown_migrations(self, conn: Connection) -> list[str]:
        """Migrations the database has that this version does not know (a newer devflow)."""
        known = {fn.__name__ for fn in self.migration_list()}
        return sorted(name for name in self.applied(conn) if name not in known)

    @abc.abstractmethod
    def migration_list(self) -> Sequence[Callable[..., None]]:
        """This backend's migrations, in order."""

    def newer_error(self, newer: list[str]) -> StoreError:
        return StoreError(
            f"The analytics database {self.location} was written by a newer version of "
            f"devflow (it has migration {newer[-1]!r}, unknown to this one); nothing "
            "was changed or sent.",
            hint="Upgrade devflow, or point devflow at another database.",
        )


# ---------------------------------------------------------------------- SQLite

# SQLite waits this long for a lock in C (where signals are not seen); `run` retries.
_SQLITE_BUSY_S = 0.05
_BUSY_POLL_S = 0.01


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class SqliteBackend(Backend):
    """One SQLite file in WAL mode; writers serialise on the file's write lock."""

    kind = "sqlite"

    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s

    @property
    def location(self) -> str:
        return str(self.path)

    def connect(self, *, reader: bool = False) -> Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=_SQLITE_BUSY_S,
                isolation_level=None,
                check_same_thread=False,
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"Cannot open the analytics database {self.path}: {exc}.",
                hint="Check the folder exists and is writable, or set DEVFLOW_HOME elsewhere.",
            ) from None
        rollup.register_functions(conn)
        if reader:
            # Reports read many pages: give the read connection a larger cache (64 MB).
            conn.execute("PRAGMA cache_size=-65536")
        return conn

    def _corrupt(self) -> StoreError:
        return StoreError(
            f"The analytics database {self.path} is not a valid SQLite database; "
            "it was left untouched.",
            hint="Move it aside (it may hold your history) and devflow will start a new one, "
            "or set DEVFLOW_HOME to another folder.",
        )

    def _locked(self) -> StoreError:
        error = StoreError(
            f"The analytics database {self.path} is locked by another program "
            f"(waited {self.busy_timeout_s:g} s).",
            hint="Close the other devflow instance or database tool and try again.",
        )
        error.locked = True
        return error

    def run(self, statement: Callable[[], _T], wait_s: float | None = None) -> _T:
        """Run `statement`, waiting up to `busy_timeout_s` while another process holds the
        lock. SQLite's own wait is kept short and the loop is here, in Python, so Ctrl-C (or
        SIGTERM) interrupts the wait at once instead of after the whole timeout."""
        deadline = time.monotonic() + (self.busy_timeout_s if wait_s is None else wait_s)
        while True:
            try:
                return statement()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            except StoreError as exc:  # initialise translates its own errors
                if not exc.locked or time.monotonic() >= deadline:
                    raise
            time.sleep(_BUSY_POLL_S)

    def translate(self, exc: Exception) -> StoreError | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return self._locked()
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return self._corrupt()
        return StoreError(
            f"The analytics database {self.path} failed: {str(exc).rstrip('.')}.",
            hint="Check free disk space and the file's permissions.",
        )

    def initialise(self, conn: Connection) -> None:
        assert isinstance(conn, sqlite3.Connection)
        try:
            # Read first: a corrupt or locked file fails here, before anything is written.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"The analytics database {self.path} cannot use WAL mode "
                    f"(journal mode stayed {mode!r}); concurrent access would not be safe.",
                    hint="Set DEVFLOW_HOME to a folder on a local disk.",
                )
            conn.execute("PRAGMA synchronous=NORMAL")
            # Keep the hot pages (rollups, recent index pages) cached: a write then touches
            # memory only, even on a large database.
            conn.execute("PRAGMA cache_size=-32768")
            conn.execute("PRAGMA foreign_keys=ON")
            newer = migrations.unknown(conn)
            if newer:
                raise self.newer_error(newer)
            if migrations.pending(conn):
                import sqlite_utils  # only when the schema must change: ~25 ms of import

                migrations.migrate(sqlite_utils.Database(conn))
        except sqlite3.Error as exc:
            raise self.translate(exc) from None  # type: ignore[misc]

    def applied(self, conn: Connection) -> set[str]:
        assert isinstance(conn, sqlite3.Connection)
        return migrations.applied(conn)

    def migration_list(self) -> Sequence[Callable[..., None]]:
        return migrations.MIGRATIONS

    def begin(self, conn: Connection, wait_s: float | None) -> None:
        self.run(lambda: conn.execute("BEGIN IMMEDIATE"), wait_s)

    def in_transaction(self, conn: Connection) -> bool:
        assert isinstance(conn, sqlite3.Connection)
        return conn.in_transaction

    def begin_read(self, conn: Connection) -> None:
        conn.execute("BEGIN")  # in WAL mode: a snapshot from the first read on

    def close(self, conn: Connection) -> None:
        assert isinstance(conn, sqlite3.Connection)
        conn.close()


# ---------------------------------------------------------------------- PostgreSQL


@functools.lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """A query in the store's words (`?` placeholders) as psycopg wants it (`%s`, and a
    literal `%` doubled). The store's SQL has no `?` inside string literals."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection that speaks the store's dialect (the `Connection` protocol)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        cursor = self.raw.cursor()
        if parameters:
            cursor.execute(pg_sql(sql), parameters)
        else:
            cursor.execute(sql.encode())  # no parameters: sent as written
        return cursor

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(pg_sql(sql), parameters)

    def close(self) -> None:
        self.raw.close()


def redact_url(url: str) -> str:
    """A database URL without its password (for messages and logs)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unparsable database URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc[-1]))


_PG_CONNECT_TIMEOUT_S = 10


class PostgresBackend(Backend):
    """A PostgreSQL database shared by every devflow of a team. Writers run concurrently
    (READ COMMITTED) and lock what they change: the request row they finish, the rollup rows
    they add to (in one order, so two writers never deadlock), the budget escrow's rows."""

    kind = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def location(self) -> str:
        return redact_url(self.url)

    def connect(self, *, reader: bool = False) -> Connection:
        import psycopg  # only for a PostgreSQL database: SQLite users never pay the import

        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=_PG_CONNECT_TIMEOUT_S,
                application_name="devflow",
            )
        except psycopg.Error as exc:
            raise StoreError(
                f"Cannot connect to the PostgreSQL database {self.location}: {_first_line(exc)}.",
                hint="Check DEVFLOW_DATABASE_URL (host, port, user, database) and that the "
                "server is running; unset it to use the local SQLite file.",
            ) from None
        return PgConnection(raw)

    def run(self, statement: Callable[[], _T], wait_s: float | None = None) -> _T:
        return statement()  # PostgreSQL waits for locks itself (and Ctrl-C cancels it)

    def translate(self, exc: Exception) -> StoreError | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        return StoreError(
            f"The PostgreSQL database {self.location} failed: {_first_line(exc)}.",
            hint="Check the server is running and reachable, and that its disk is not full.",
        )

    def initialise(self, conn: Connection) -> None:
        try:
            newer = self.unknown_migrations(conn)
            if newer:
                raise self.newer_error(newer)
            if {fn.__name__ for fn in migrations_pg.MIGRATIONS} - self.applied(conn):
                migrations_pg.migrate(conn)
        except StoreError:
            raise
        except Exception as exc:
            error = self.translate(exc)
            if error is None:
                raise
            raise error from None

    def applied(self, conn: Connection) -> set[str]:
        return migrations_pg.applied(conn)

    def migration_list(self) -> Sequence[Callable[..., None]]:
        return migrations_pg.MIGRATIONS

    def begin(self, conn: Connection, wait_s: float | None) -> None:
        conn.execute("BEGIN")

    def in_transaction(self, conn: Connection) -> bool:
        from psycopg.pq import TransactionStatus

        assert isinstance(conn, PgConnection)
        return conn.raw.info.transaction_status != TransactionStatus.IDLE

    def begin_read(self, conn: Connection) -> None:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def lock_budgets(self, conn: Connection) -> None:
        # The escrow's lock, exclusive: no reservation is being taken from the escrow rows
        # (migration pg011); this transaction's reservation will not be taken from them, so
        # they are emptied and the next reservation refills them from the budgets.
        conn.execute(f"SELECT pg_advisory_xact_lock({migrations_pg.ESCROW_LOCK})")
        conn.execute("DELETE FROM budget_escrow")

    def pipeline(self, conn: Connection) -> contextlib.AbstractContextManager[object]:
        assert isinstance(conn, PgConnection)
        return conn.raw.pipeline()

    def notify(self, conn: Connection, channel: str) -> None:
        conn.execute(f"NOTIFY {_channel(channel)}")

    def listen(self, channel: str) -> Listener | None:
        conn = self.connect()
        assert isinstance(conn, PgConnection)
        return PgListener(conn, channel)

    def close(self, conn: Connection) -> None:
        assert isinstance(conn, PgConnection)
        conn.close()


def _channel(name: str) -> str:
    if not name.isidentifier():  # channels are constants of the code; never input
        raise ValueError(f"not a channel name: {name!r}")
    return name


class PgListener:
    """LISTEN on its own connection; `changed` polls the socket (no round trip, no wait)."""

    def __init__(self, conn: PgConnection, channel: str) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._broken = False
        conn.execute(f"LISTEN {_channel(channel)}")

    def changed(self) -> bool:
        import psycopg

        with self._lock:
            if self._broken:
                return True
            try:
                return any(True for _ in self._conn.raw.notifies(timeout=0))
            except psycopg.Error:
                self._broken = True  # from now on nothing is known: always "changed"
                return True

    def close(self) -> None:
        with self._lock:
            self._broken = True
            self._conn.close()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


_PG_URL = re.compile(r"^postgres(ql)?://", re.IGNORECASE)


def backend_for(path: Path, url: str | None, busy_timeout_s: float) -> Backend:
    """PostgreSQL when a `postgresql://` URL is given, else the SQLite file at `path`."""
    if url:
        if not _PG_URL.match(url):
            raise StoreError(
                f"DEVFLOW_DATABASE_URL {redact_url(url)!r} is not a PostgreSQL URL.",
                hint="Use postgresql://user:password@host:5432/database, or unset it to use "
                "the local SQLite file.",
            )
        return PostgresBackend(url)
    return SqliteBackend(path, busy_timeout_s)
