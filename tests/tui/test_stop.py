"""Leaving from outside (a signal, a terminal that went away) goes the way quitting does: the
request on its way is cancelled and recorded, and the app says why it stopped. The real
gateway and the simulated server; `test_terminal_lost.py` runs the same as a real process."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from devflow_tui.config import load_settings
from devflow_tui.sim import Fault, SimServer
from devflow_tui.tui.messages import TerminalLost
from tests.cli.test_signals import query
from tests.tui.test_against_sim import app_on, send, wait_for

pytestmark = pytest.mark.timeout(60)


async def test_a_lost_terminal_stops_the_app_and_the_request_is_recorded_as_cancelled(
    sim: SimServer, fake_key: str, isolated_env: Path
) -> None:
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=120_000, times=None))
    db = isolated_env / "devflow.db"
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "write a haiku about rain")
        await wait_for(
            lambda: bool(query(db, "SELECT 1 FROM requests WHERE status = 'running'")), pilot
        )
        app.post_message(TerminalLost())
        await wait_for(lambda: app.return_code is not None, pilot)
        app.stop_for(signal.SIGTERM)  # the SIGHUP that comes with a hang-up does not change why
    assert app.return_code == 128 + signal.SIGHUP
    assert app.stop_reason == "the terminal went away."
    assert query(db, "SELECT status FROM requests") == [("cancelled",)]


async def test_sigterm_stops_an_idle_app_with_its_exit_status(
    sim: SimServer, fake_key: str
) -> None:
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        app.stop_for(signal.SIGTERM)
    assert app.return_code == 128 + signal.SIGTERM
    assert app.stop_reason == "stopped by SIGTERM."
