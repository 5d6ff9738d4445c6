"""The driver's part in leaving when the terminal goes away, on a real pseudo-terminal whose
other end the test closes (`test_terminal_lost.py` runs the whole dashboard that way)."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from textual.drivers.headless_driver import HeadlessDriver
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

from devflow_tui.config import Settings
from devflow_tui.tui import driver as driver_module
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.driver import (
    HangupAwareDriver,
    TerminalOutput,
    driver_for,
    hung_up,
    silence_dead_streams,
)
from devflow_tui.tui.messages import TerminalLost


class FakeApp:
    """What the driver uses of the app here: the messages it posts."""

    def __init__(self) -> None:
        self.posted: list[Message] = []

    def post_message(self, message: Message) -> bool:
        self.posted.append(message)
        return True


@pytest.fixture
def pty() -> Iterator[tuple[int, int]]:
    master, slave = os.openpty()
    fds = [master, slave]
    yield master, slave
    for fd in fds:
        with contextlib.suppress(OSError):  # the test closed it
            os.close(fd)


@pytest.fixture
async def driver(
    pty: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[HangupAwareDriver, FakeApp, list[tuple[int, ...]]]]:
    """The driver (made on a running event loop, as Textual's are) on the pty's slave side; it
    never touches this process's real streams."""
    _master, slave = pty
    terminal = io.TextIOWrapper(io.FileIO(os.dup(slave), "r+"), encoding="utf-8")
    monkeypatch.setattr(sys, "__stdin__", terminal)
    monkeypatch.setattr(sys, "__stderr__", terminal)
    silenced: list[tuple[int, ...]] = []
    monkeypatch.setattr(driver_module, "silence_dead_streams", lambda: silenced.append(()))
    saved = {n: signal.getsignal(n) for n in (signal.SIGTSTP, signal.SIGCONT)}
    app = FakeApp()
    try:
        yield HangupAwareDriver(app), app, silenced  # type: ignore[arg-type]
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
        terminal.close()


def test_hung_up_tells_a_closed_terminal_from_a_live_one(pty: tuple[int, int]) -> None:
    master, slave = pty
    assert not hung_up(slave)
    os.close(master)
    assert hung_up(slave)


def test_a_dead_terminal_is_pointed_at_dev_null_and_a_live_one_left_alone(
    pty: tuple[int, int],
) -> None:
    master, slave = pty
    other_master, other_slave = os.openpty()
    try:
        os.close(master)
        assert silence_dead_streams((slave, other_slave)) == [slave]
        assert os.write(slave, b"lost frame") == len(b"lost frame")  # no EIO any more
        assert os.read(slave, 10) == b""  # end-of-file, as /dev/null gives
        assert os.isatty(other_slave)
    finally:
        os.close(other_master)
        os.close(other_slave)


async def test_the_watcher_reports_a_hang_up_to_the_app_once(
    pty: tuple[int, int], driver: tuple[HangupAwareDriver, FakeApp, list[tuple[int, ...]]]
) -> None:
    master, _slave = pty
    hangup_aware, app, silenced = driver
    watcher = threading.Thread(target=hangup_aware._wait_for_hangup, daemon=True)
    watcher.start()
    assert app.posted == []
    os.close(master)
    watcher.join(timeout=30)
    assert not watcher.is_alive()
    hangup_aware.terminal_lost()  # the SIGHUP path, or a failed write, says it again
    assert [type(m) for m in app.posted] == [TerminalLost]
    assert silenced == [()]


async def test_a_failed_read_reports_the_terminal_gone_instead_of_a_panic(
    driver: tuple[HangupAwareDriver, FakeApp, list[tuple[int, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hangup_aware, app, _silenced = driver

    def eio(_self: LinuxDriver) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(LinuxDriver, "run_input_thread", eio)
    hangup_aware.run_input_thread()
    assert [type(m) for m in app.posted] == [TerminalLost]


def test_output_to_a_dead_terminal_reports_it_and_never_raises() -> None:
    gone: list[bool] = []

    class Dead(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(errno.EIO, "Input/output error")

        def flush(self) -> None:
            raise OSError(errno.EIO, "Input/output error")

    output = TerminalOutput(Dead(), lambda: gone.append(True))
    assert output.write("frame") == len("frame")
    output.flush()
    assert gone == [True, True]
    alive = TerminalOutput(io.StringIO(), lambda: gone.append(True))
    assert alive.write("frame") == len("frame")
    alive.flush()
    assert not alive.isatty() and len(gone) == 2


async def test_sigcont_resumes_only_after_a_suspend(
    driver: tuple[HangupAwareDriver, FakeApp, list[tuple[int, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The kernel sends SIGCONT with a hang-up's SIGHUP; Textual resumed on it, starting a
    second input thread on the dead terminal."""
    hangup_aware, _app, _silenced = driver
    resumed: list[bool] = []
    monkeypatch.setattr(hangup_aware, "resume_application_mode", lambda: resumed.append(True))
    hangup_aware._sigcont_application(signal.SIGCONT, None)
    assert resumed == []
    hangup_aware._must_signal_resume = True  # what ctrl+z (SIGTSTP) leaves behind
    hangup_aware._sigcont_application(signal.SIGCONT, None)
    assert resumed == [True]


def test_the_dashboard_runs_on_the_hang_up_aware_driver(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEXTUAL_DRIVER", raising=False)
    ours = sys.platform.startswith("linux")  # macOS's poll() does not support terminals
    assert DevflowApp(settings).driver_class is (HangupAwareDriver if ours else LinuxDriver)
    assert driver_for(LinuxDriver) is HangupAwareDriver
    headless: type[Any] = HeadlessDriver
    assert driver_for(headless) is HeadlessDriver
