"""The `devflow` program's first module (the console script's entry point).

It makes a termination signal end the program cleanly from its first moment: before the
command-line module and what it imports load (click, pydantic and, for the dashboard, Textual:
up to ~1.5 s on a loaded machine), a SIGTERM or SIGHUP killed the process outright.
"""

from __future__ import annotations

from devflow_tui.stopping import run_stoppable


def _run_cli() -> None:
    from devflow_tui.cli import run

    run()


def run() -> None:
    """`devflow`: the command line, stoppable by SIGTERM/SIGHUP at any moment (exit 128 + n)."""
    run_stoppable(_run_cli)
