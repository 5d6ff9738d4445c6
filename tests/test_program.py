"""`devflow`'s first module: a termination signal while nothing else handles it ends the
program with its one line and 128 + its number. (As a real process, at several moments of the
dashboard's start-up: tests/tui/test_early_stop.py.)"""

from __future__ import annotations

import os
import signal

import pytest

from devflow_tui import program
from devflow_tui.stopping import TERMINATION_SIGNALS


def test_sigterm_in_the_command_line_is_its_exit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = {number: signal.getsignal(number) for number in TERMINATION_SIGNALS}

    def stopped() -> None:
        # run() made the signal raise Stopped: the command line is unwound, not killed.
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("the signal did not stop the command line")

    monkeypatch.setattr("devflow_tui.cli.run", stopped)
    try:
        with pytest.raises(SystemExit) as exited:
            program.run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert exited.value.code == 128 + signal.SIGTERM
    assert capsys.readouterr().err == "devflow: stopped by SIGTERM.\n"


def test_a_hang_up_ignored_by_nohup_stays_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """`nohup devflow serve`: the program's first handlers replaced the ignored SIGHUP, so a
    hang-up stopped the proxy it was meant to keep running (exit 129)."""
    previous = {number: signal.getsignal(number) for number in TERMINATION_SIGNALS}
    seen: dict[int, object] = {}

    def command_line() -> None:
        seen.update({number: signal.getsignal(number) for number in TERMINATION_SIGNALS})
        os.kill(os.getpid(), signal.SIGHUP)  # ignored: nothing happens

    monkeypatch.setattr("devflow_tui.cli.run", command_line)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        program.run()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    assert seen[signal.SIGHUP] is signal.SIG_IGN
    assert seen[signal.SIGTERM] is not signal.SIG_DFL  # SIGTERM still stops it cleanly
