"""The dashboard in a real terminal: `devflow` inside a detached tmux session, read back with
capture-pane. Demo mode (no API key), so it talks to the built-in simulated server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
pytestmark = [
    pytest.mark.skipif(
        TMUX is None, reason="tmux is not installed (`make test` installs it when apt is available)"
    ),
    pytest.mark.timeout(90),
]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("devflow")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "devflow_tui.tui"]


class Terminal:
    """One tmux server (own socket) running one session at a fixed size."""

    def __init__(self, socket: str, session: str) -> None:
        self.socket = socket
        self.session = session

    def tmux(self, *args: str) -> str:
        assert TMUX is not None
        result = subprocess.run(
            [TMUX, "-L", self.socket, *args], capture_output=True, text=True, check=True, timeout=10
        )
        return result.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30.0) -> str:
        """Poll the screen until `predicate` holds; fail with the last screen otherwise."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"screen never matched; last screen:\n{text}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    socket = f"devflow-test-{uuid.uuid4().hex[:8]}"
    term = Terminal(socket, "dash")
    # A fresh tmux server on its own socket inherits this environment (already pointed at
    # tmp_path by the autouse fixture); no API key is set, so the app runs in demo mode.
    # A budget with a limit whose last digit a narrow gauge used to cut ("$0.003").
    env = dict(
        os.environ,
        TERM="xterm-256color",
        DEVFLOW_DEMO_TIME_SCALE="0.05",
        OPENROUTER_COST_BUDGET_USD="0.0035",
    )
    env.pop("TMUX", None)
    assert TMUX is not None
    subprocess.run(
        [
            TMUX,
            "-L",
            socket,
            "new-session",
            "-d",
            "-s",
            "dash",
            "-x",
            "100",
            "-y",
            "30",
            *_command(),
        ],
        env=env,
        check=True,
        timeout=10,
        cwd=tmp_path,
    )
    try:
        yield term
    finally:
        subprocess.run([TMUX, "-L", socket, "kill-server"], capture_output=True, timeout=10)


def test_dashboard_and_compare_mode_run_in_tmux(terminal: Terminal) -> None:
    first = terminal.wait_for(lambda s: "DEMO — simulated OpenRouter" in s)
    assert "Routing" in first and "Budgets" in first
    assert "Ask anything" in first
    terminal.tmux("send-keys", "-t", "dash", "-l", "write a python function to add numbers")
    terminal.tmux("send-keys", "-t", "dash", "Enter")
    done = terminal.wait_for(lambda s: "latency" in s and "ttft" in s, timeout=45)
    # The answer's footer (model · cost · tokens · latency · ttft) and the routing decision; the
    # answer's first line may have scrolled out of the 30-row window.
    assert re.search(r"\d+→\d+ tok", done), done
    assert "chosen:" in done
    # Money whole in a real terminal: the budget gauge's limit keeps its last digit.
    assert re.search(r"\$[\d.]+ / \$0\.0035\b", done), done
    # Compare mode (F8): the last prompt, the router's top candidates, answers side by side.
    terminal.tmux("send-keys", "-t", "dash", "F8")
    terminal.wait_for(lambda s: "router's top candidates are" in s)
    terminal.tmux("send-keys", "-t", "dash", "C-s")
    compared = terminal.wait_for(lambda s: "fastest" in s and "cheapest" in s, timeout=60)
    assert compared.count("ttft") >= 2, compared
    assert "tok/s" in compared and "total" in compared
