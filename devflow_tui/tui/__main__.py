"""`python -m devflow_tui.tui`: open the dashboard (what `devflow` does with no sub-command)."""

from __future__ import annotations

import sys

from devflow_tui.config import load_settings
from devflow_tui.errors import DevflowError
from devflow_tui.tui.app import create_app


def main() -> int:
    """Load the settings and run the dashboard; a config error is one clear line, no traceback."""
    try:
        settings = load_settings()
    except DevflowError as exc:
        print(f"devflow: {exc}", file=sys.stderr)
        return 2
    create_app(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
