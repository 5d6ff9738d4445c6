"""The report windows: how far back `devflow report --since`, the dashboard's charts and the
MCP `spend` tool look. A module of its own, without imports, so the CLI can offer the choices
without loading the report machinery."""

from __future__ import annotations

# Window id -> its length in seconds; "all" has no start.
SPANS_S: dict[str, int] = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
WINDOWS: tuple[str, ...] = (*SPANS_S, "all")
