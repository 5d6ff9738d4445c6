"""A termination signal at any moment of the dashboard's start-up ends it cleanly: before the
command-line module has loaded, while Textual loads, and while the app sets up its terminal
(before it has mounted). It used to kill the process outright for the first ~1.5 s (no exit
message, status -15). Each test makes the child send itself the signal at a chosen point of its
start-up (when a given module is imported), so the moment is exact, not a race."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from devflow_tui.config import Settings
from devflow_tui.tui.app import DevflowApp
from tests.tui.recorded_gateway import ReplayGateway
from tests.tui.test_terminal_lost import REPO, PtyDashboard

pytestmark = pytest.mark.timeout(120)

# The child: an audit hook that sends the signal once, at the first event `event` (an import, or
# opening a file) whose first argument is `target` ("open": ends with it), then the `devflow`
# program (the console script's entry) or `python -m devflow_tui.tui`.
CHILD = """\
import os, runpy, signal, sys
event, target, name, program = sys.argv[1:5]
del sys.argv[1:5]
fired = []
def signal_once(what, args):
    if fired or what != event or not args or not isinstance(args[0], str):
        return
    if args[0] == target or (event == "open" and args[0].endswith(target)):
        fired.append(True)
        os.kill(os.getpid(), getattr(signal, name))
sys.addaudithook(signal_once)
if program == "devflow":
    from devflow_tui.program import run
    run()
else:
    runpy.run_module("devflow_tui.tui", run_name="__main__", alter_sys=True)
"""
ENTER_ALT_SCREEN = b"\x1b[?1049h"
LEAVE_ALT_SCREEN = b"\x1b[?1049l"


@pytest.fixture
def env(isolated_env: Path) -> dict[str, str]:
    # No key: demo mode; the app stops before it would start the simulated server anyway.
    environ = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
    return dict(environ, PYTHONPATH=str(REPO), TERM="xterm-256color")


def run_until_signalled(
    env: dict[str, str], cwd: Path, event: str, target: str, name: str, program: str = "devflow"
) -> tuple[int, bytes]:
    args = (event, target, name, program)
    dash = PtyDashboard(env, cwd, controlling=False, child=CHILD, args=args)
    try:
        code = dash.wait_exit()
        return code, bytes(dash.output)
    finally:
        dash.cleanup()


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("devflow_tui.cli", "SIGTERM"),  # before the command line has loaded
        ("textual.app", "SIGTERM"),  # while Textual loads
        ("textual.app", "SIGHUP"),
        ("devflow_tui.tui.driver", "SIGTERM"),  # the app being built (it picks its driver)
    ],
)
def test_a_signal_before_the_app_runs_ends_with_its_status_and_reason(
    env: dict[str, str], tmp_path: Path, module: str, name: str
) -> None:
    code, output = run_until_signalled(env, tmp_path, "import", module, name)
    number = getattr(signal, name)
    assert code == 128 + number, output
    text = output.decode("utf-8", "replace")
    assert text.strip().endswith(f"devflow: stopped by {name}."), text
    assert "Traceback" not in text
    assert ENTER_ALT_SCREEN not in output  # it never took over the terminal


@pytest.mark.parametrize("program", ["devflow", "python -m devflow_tui.tui"])
def test_a_signal_while_the_app_sets_up_its_terminal_leaves_through_the_quit_path(
    env: dict[str, str], tmp_path: Path, program: str
) -> None:
    """`App.run` reads the app's stylesheet before it takes over the terminal and mounts the
    app: a signal then is held and acted on at mount, so the terminal is restored and the
    status is the signal's, for `python -m devflow_tui.tui` too (it ignored the app's exit
    status)."""
    code, output = run_until_signalled(env, tmp_path, "open", "app.tcss", "SIGTERM", program)
    assert code == 128 + signal.SIGTERM, output
    assert ENTER_ALT_SCREEN in output
    assert output.rindex(LEAVE_ALT_SCREEN) > output.rindex(ENTER_ALT_SCREEN)  # restored
    text = output.decode("utf-8", "replace")
    assert text.strip().endswith("devflow: stopped by SIGTERM."), text[-500:]
    assert "Traceback" not in text


class StoppedAsItMounts(DevflowApp):
    """The dashboard, sent SIGTERM right after it has pushed its screen (the loop handles it)."""

    def on_mount(self) -> None:
        # Runs before DevflowApp.on_mount (Textual calls each class's handler, subclass first):
        # the stop comes once that has pushed the dashboard, before the dashboard has mounted.
        self.call_next(self.stop_for, signal.SIGTERM)


async def test_a_signal_while_the_dashboard_mounts_leaves_without_an_error(
    settings: Settings, replay: ReplayGateway
) -> None:
    """The screen's mount ran after the app had begun to leave and found its widgets gone
    (NoMatches: a traceback and status 1 instead of 143)."""

    async def factory(_settings: Settings, *, demo: bool | None = None) -> ReplayGateway:
        return replay

    app = StoppedAsItMounts(settings, gateway_factory=factory)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
    assert app.return_code == 128 + signal.SIGTERM
    assert app.stop_reason == "stopped by SIGTERM."
