"""A throw-away PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary folder,
`postgres` on a free 127.0.0.1 port with its socket in that folder, stopped and deleted after.

The binaries come from PATH or the distribution's /usr/lib/postgresql/<version>/bin (`make
test` installs them with apt when it can). PostgreSQL refuses to run as root, so when we are
root the server runs as an unprivileged account (`postgres` when the package created it, else
`nobody`): the folder is made in /tmp and handed to that account, and the processes are
started with `subprocess`'s `user=`/`group=` (setuid/setgid before exec; no `su` or `sudo`).
Durability is switched off (fsync, full page writes): the data is thrown away anyway.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
_START_TIMEOUT_S = 30.0


class ClusterUnavailable(RuntimeError):
    """PostgreSQL cannot be run here; the message says why (tests skip with it)."""


def find_bin_dir() -> Path:
    """The folder of `initdb` and `postgres`: PATH first, then the newest distribution one."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name)
        if Path(p).parent.parent.name.isdigit()
        else 0,
    )
    if not candidates:
        raise ClusterUnavailable(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); "
            "`make test` installs it with apt when run as root, or: apt-get install postgresql"
        )
    return Path(candidates[-1]).parent


def _run_as() -> pwd.struct_passwd | None:
    """The account the server runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ClusterUnavailable(
        "running as root and there is no `postgres` or `nobody` account to run PostgreSQL as"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TempCluster:
    """One PostgreSQL server in a temporary folder. `url(db)` is a libpq URL for a database."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = settings or {}  # server settings over the defaults below
        self.bin_dir = find_bin_dir()
        self.account = _run_as()
        self.folder = Path(tempfile.mkdtemp(prefix="devflow-pg-"))
        self.port = 0
        self._server: subprocess.Popen[bytes] | None = None
        try:
            self._init()
            self._start()
        except BaseException:
            self.stop()
            raise

    @property
    def _uid(self) -> int | None:
        return None if self.account is None else self.account.pw_uid

    @property
    def _gid(self) -> int | None:
        return None if self.account is None else self.account.pw_gid

    @property
    def _groups(self) -> list[int] | None:
        return None if self.account is None else []  # drop root's supplementary groups

    def _init(self) -> None:
        if self.account is not None:
            os.chown(self.folder, self.account.pw_uid, self.account.pw_gid)
        os.chmod(self.folder, 0o700)
        result = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.folder / "data"),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            check=False,
            cwd=self.folder,
            user=self._uid,
            group=self._gid,
            extra_groups=self._groups,
        )
        if result.returncode:
            raise ClusterUnavailable(
                "initdb failed: " + result.stderr.decode(errors="replace").strip()[-500:]
            )

    def _start(self) -> None:
        for _ in range(5):  # the free port may be taken between probing and binding: retry
            self.port = _free_port()
            log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the server owns it
            try:
                self._server = subprocess.Popen(
                    [
                        str(self.bin_dir / "postgres"),
                        "-D",
                        str(self.folder / "data"),
                        "-p",
                        str(self.port),
                        "-k",
                        str(self.folder),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "fsync=off",
                        "-c",
                        "synchronous_commit=off",
                        "-c",
                        "full_page_writes=off",
                        "-c",
                        "max_connections=300",
                        "-c",
                        "shared_buffers=64MB",
                        *(f"-c{name}={value}" for name, value in self.settings.items()),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.folder,
                    user=self._uid,
                    group=self._gid,
                    extra_groups=self._groups,
                )
            finally:
                log.close()
            if self._wait_ready():
                return
            self._stop_server()
        tail = (self.folder / "server.log").read_text(errors="replace")[-800:]
        raise ClusterUnavailable(f"postgres did not start: {tail}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self._server is not None
            if self._server.poll() is not None:
                return False
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def url(self, database: str) -> str:
        """A libpq URL of `database` on this cluster (the superuser, no password)."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit superuser connection to `database`."""
        return psycopg.connect(self.url(database), autocommit=True)

    def create_database(self, template: str = "template0") -> str:
        """A new database, a copy of `template` (empty by default); returns its name."""
        name = "t_" + uuid.uuid4().hex[:16]
        with self.connect("postgres") as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'.encode())
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        with self.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is None or server.poll() is not None:
            return
        server.terminate()  # SIGTERM: "smart" shutdown; clients are gone by now
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        self._stop_server()
        shutil.rmtree(self.folder, ignore_errors=True)
