"""The dashboard as a real process in a pseudo-terminal, stopped from outside while an answer is
on its way: its terminal closed (the kernel's hang-up, or a terminal that goes away without a
SIGHUP reaching it) or SIGTERM. It must leave, record the request as cancelled and release its
budget, and print no traceback. It talks to the simulated server of the test process, whose
model never sends its first token, so the request is in flight when the terminal goes."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devflow_tui.sim import Fault, SimServer
from tests.cli.test_signals import query
from tests.sim_fixture import sim  # noqa: F401

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
# The dashboard (`devflow` with no command), as the session leader of its terminal unless told
# otherwise: then closing the terminal's other end hangs it up and the kernel sends SIGHUP.
CHILD = (
    "import fcntl, sys, termios\n"
    "if sys.argv[1] == 'controlling': fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "del sys.argv[1]\n"
    "from devflow_tui.cli import main; main()"
)
HANG_GUARD_S = 60.0  # a safety net against a dashboard that never leaves, not a timing assertion


class PtyDashboard:
    """`devflow` on the slave side of a pseudo-terminal; this side reads all it draws."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        *,
        controlling: bool,
        child: str | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        mode = "controlling" if controlling else "not-controlling"
        command = (
            [sys.executable, "-c", CHILD, mode] if child is None else [sys.executable, "-c", child]
        )
        self.proc = subprocess.Popen(
            [*command, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own session, so the terminal can be its controlling one
        )
        os.close(slave)
        self.output = bytearray()
        self._stop = threading.Event()
        # Drained all the time: a full terminal buffer would block the app's output.
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the dashboard closed its side
                return
            if not data:
                return
            self.output += data

    def wait_for_output(self, text: bytes) -> None:
        self.wait_until(lambda: text in self.output, f"{text!r} on screen")

    def wait_until(self, condition: Callable[[], object], what: str) -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"the dashboard exited early:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what}; last output:\n{self.text()[-2000:]}")
            time.sleep(0.05)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close_terminal(self) -> None:
        """Close the terminal's other end, as a killed tmux or a dropped ssh session does."""
        self._stop.set()
        self._reader.join()
        os.close(self.master)
        self.master = -1

    def wait_exit(self) -> int:
        try:
            code = self.proc.wait(timeout=HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            raise AssertionError("the dashboard is still running") from None
        self._reader.join(timeout=5)
        return code

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._stop.set()
        self._reader.join(timeout=5)
        if self.master >= 0:
            os.close(self.master)


@pytest.fixture
def dashboard_env(
    sim: SimServer,  # noqa: F811
    fake_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The sim as OpenRouter, its model stuck before the first token, and a $5 budget."""
    (tmp_path / "config.toml").write_text('max_retries = 0\n[budget]\nlimit_usd = "5"\n')
    monkeypatch.setenv("OPENROUTER_BASE_URL", sim.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=120_000, times=None))
    return dict(os.environ, PYTHONPATH=str(REPO), TERM="xterm-256color")


def start_with_request_in_flight(
    env: dict[str, str], cwd: Path, db: Path, *, controlling: bool
) -> PtyDashboard:
    dash = PtyDashboard(env, cwd, controlling=controlling)
    dash.wait_for_output(b"LIVE")  # the gateway is open: a prompt is sent, not refused
    dash.type("write a haiku about rain\r")
    running = f"SELECT 1 FROM requests WHERE status = 'running' AND pid = {dash.proc.pid}"  # noqa: S608
    dash.wait_until(lambda: query(db, running), "the request running")
    return dash


@pytest.fixture
def dashboards() -> Iterator[list[PtyDashboard]]:
    started: list[PtyDashboard] = []
    yield started
    for dash in started:
        dash.cleanup()


@pytest.mark.parametrize(
    "controlling",
    [True, False],
    ids=["hung-up-with-sighup", "gone-without-sighup"],
)
def test_closing_the_terminal_stops_the_dashboard_and_records_the_request(
    dashboard_env: dict[str, str],
    isolated_env: Path,
    tmp_path: Path,
    dashboards: list[PtyDashboard],
    controlling: bool,
) -> None:
    """Issue: with its terminal gone the dashboard spun at ~67% CPU forever. Without a
    controlling terminal no SIGHUP comes: the dead terminal itself must be noticed."""
    db = isolated_env / "devflow.db"
    dash = start_with_request_in_flight(dashboard_env, tmp_path, db, controlling=controlling)
    dashboards.append(dash)
    dash.close_terminal()
    assert dash.wait_exit() == 128 + signal.SIGHUP
    assert query(db, "SELECT status FROM requests") == [("cancelled",)]
    assert query(db, "SELECT count(*) FROM budget_reservations") == [(0,)]


def test_sigterm_stops_the_dashboard_like_quitting(
    dashboard_env: dict[str, str],
    isolated_env: Path,
    tmp_path: Path,
    dashboards: list[PtyDashboard],
) -> None:
    db = isolated_env / "devflow.db"
    dash = start_with_request_in_flight(dashboard_env, tmp_path, db, controlling=True)
    dashboards.append(dash)
    dash.proc.send_signal(signal.SIGTERM)
    assert dash.wait_exit() == 128 + signal.SIGTERM
    output = dash.text()
    assert "devflow: stopped by SIGTERM." in output
    assert "Traceback" not in output
    assert output.rstrip().endswith("stopped by SIGTERM."), output[-500:]  # terminal restored
    assert query(db, "SELECT status FROM requests") == [("cancelled",)]
    assert query(db, "SELECT count(*) FROM budget_reservations") == [(0,)]
