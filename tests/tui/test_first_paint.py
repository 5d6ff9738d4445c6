"""What the first frame waits for: the dashboard's module loads nothing that only later work needs
(the gateway's modules, the plotext charts, Markdown's parser, the other screens)."""

from __future__ import annotations

import subprocess
import sys

DEFERRED = (
    "devflow_tui.gateway.events",
    "devflow_tui.openrouter.wire",
    "devflow_tui.accounting.store",
    "plotext",
    "textual_plotext",
    "markdown_it",
    "devflow_tui.tui.screens.compare",
    "devflow_tui.tui.screens.history",
    "devflow_tui.tui.screens.models",
)


def test_importing_the_app_defers_what_the_first_frame_does_not_need() -> None:
    # A fresh interpreter: this test process has imported everything already.
    code = (
        "import sys, devflow_tui.tui.app\n"
        f"print(','.join(m for m in {DEFERRED!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    assert loaded == ""
