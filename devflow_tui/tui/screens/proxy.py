"""Proxy traffic, live: requests that came through `devflow serve` (Claude Code, SDKs, MCP),
whether the proxy runs inside this dashboard or as its own process.

Both write to the same analytics database, so the screen reads it once a second in a thread
worker and shows the newest requests and the spend per client. `s` starts or stops the proxy
inside the dashboard (on the configured host and port, with the dashboard's own gateway).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from devflow_tui.accounting.pricing import format_usd
from devflow_tui.accounting.records import RequestRow

# Clients of the dashboard itself; everything else came through the proxy or MCP.
LOCAL_CLIENTS = frozenset({"dashboard", "cli"})
REFRESH_S = 1.0
ROWS = 200


@dataclass
class ProxyRows(Message):
    """What the worker read: the newest proxy requests and the spend per client."""

    rows: list[RequestRow]
    by_client: dict[str, tuple[int, Decimal]]


def proxy_rows(
    rows: list[RequestRow],
) -> tuple[list[RequestRow], dict[str, tuple[int, Decimal]]]:
    """The requests of proxy clients, newest first, and (requests, known cost) per client."""
    by_client: dict[str, tuple[int, Decimal]] = {}
    kept = []
    for row in rows:
        if not row.client or row.client in LOCAL_CLIENTS:
            continue
        kept.append(row)
        n, cost = by_client.get(row.client, (0, Decimal(0)))
        by_client[row.client] = (n + 1, cost + (row.cost_usd or Decimal(0)))
    return kept, by_client


class ProxyScreen(Screen[None]):
    """Live proxy traffic; `s` starts or stops the proxy inside the dashboard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "toggle_proxy", "Start/stop proxy"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="proxy-status")
        yield Static(id="proxy-clients")
        table: DataTable[str] = DataTable(id="proxy-table", cursor_type="row")
        table.add_columns("time", "client", "asked", "model", "status", "cost", "ms")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        self._show_status()
        self.refresh_rows()
        self.set_interval(REFRESH_S, self.refresh_rows)

    def _show_status(self) -> None:
        proxy = getattr(self.app, "proxy", None)
        if proxy is not None:
            text = f"Proxy running in the dashboard at {proxy.url} (s stops it)."
        else:
            text = (
                "Showing requests recorded by any `devflow serve` on this database. "
                "Press s to run the proxy inside the dashboard."
            )
        self.query_one("#proxy-status", Static).update(text)

    @work(thread=True, exclusive=True, group="proxy-rows")
    def refresh_rows(self) -> None:
        gateway = getattr(self.app, "gateway", None)
        if gateway is None:
            return
        rows, by_client = proxy_rows(list(gateway.store.recent_requests(ROWS)))
        self.post_message(ProxyRows(rows, by_client))

    def on_proxy_rows(self, message: ProxyRows) -> None:
        spend = "  ".join(
            f"{client}: {n} req, {format_usd(cost)}"
            for client, (n, cost) in sorted(message.by_client.items())
        )
        self.query_one("#proxy-clients", Static).update(spend or "No proxy requests yet.")
        table = self.query_one("#proxy-table", DataTable)
        table.clear()
        for row in message.rows[:50]:
            latency = row.latency_ms
            table.add_row(
                time.strftime("%H:%M:%S", time.localtime(row.ts)),
                str(row.client),
                str(row.requested_model or "-"),
                str(row.model or "-"),
                str(row.status),
                format_usd(row.cost_usd),
                f"{latency:.0f}" if latency is not None else "-",
            )

    async def action_toggle_proxy(self) -> None:
        toggle = getattr(self.app, "toggle_proxy", None)
        if toggle is not None:
            await toggle()
        self._show_status()
