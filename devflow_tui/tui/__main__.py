"""`python -m devflow_tui.tui`: open the dashboard, as `devflow` does with no sub-command, with
the same exit status (2 for a settings error, 128 + n when signal n stopped it, 1 when it
crashed) and stoppable by a signal from its first moment (see `stopping.run_stoppable`)."""

from __future__ import annotations

import sys

from devflow_tui.stopping import run_stoppable


def _open_dashboard() -> int:
    # Imported once a signal can stop the process cleanly: loading them takes about a second.
    from devflow_tui.config import load_settings
    from devflow_tui.errors import DevflowError
    from devflow_tui.tui.app import create_app, dashboard_exit

    try:
        settings = load_settings()
    except DevflowError as exc:
        print(f"devflow: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    app.run()
    code, reason = dashboard_exit(app)
    if reason:
        print(f"devflow: {reason}", file=sys.stderr)
    return code


def main() -> int:
    """Load the settings and run the dashboard; returns the exit status."""
    return run_stoppable(_open_dashboard)


if __name__ == "__main__":
    sys.exit(main())
