"""Proxy traffic, live: requests that came through `devflow serve` (Claude Code, SDKs, MCP),
whether the proxy runs inside this dashboard or as its own process.

Both write to the same analytics database, so the screen reads it once a second in a thread
worker and shows the spend per client over the last 24 hours, which is the report's by-client
groups (`devflow report --since 24h --by client`, never added up here), and the newest proxy
requests among the last `ROWS` recorded. `s` starts or stops the proxy inside the dashboard (on
the configured host and port, with the dashboard's own gateway).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from devflow_tui.accounting.records import RequestRow
from devflow_tui.tui.gateway_port import dashboard_report
from devflow_tui.tui.widgets.fit_footer import FitFooter
from devflow_tui.usd import short_usd

if TYPE_CHECKING:
    from devflow_tui.accounting.reports import GroupStats

# Clients of the dashboard itself; everything else came through the proxy or MCP. The report
# groups requests recorded without a client under "(unknown)": not proxy traffic either.
LOCAL_CLIENTS = frozenset({"dashboard", "cli", "(unknown)"})
REFRESH_S = 1.0
ROWS = 200  # recorded requests read for the newest-requests table
WINDOW = "24h"  # report window of the spend per client
WINDOW_LABEL = "last 24 hours"


@dataclass
class ProxyRows(Message):
    """What the worker read: the newest proxy requests and the report's groups per client."""

    rows: list[RequestRow]
    by_client: list[GroupStats]


def proxy_rows(rows: list[RequestRow]) -> list[RequestRow]:
    """The requests of proxy clients among `rows`, in their order."""
    return [row for row in rows if row.client and row.client not in LOCAL_CLIENTS]


def proxy_clients(groups: list[GroupStats]) -> list[GroupStats]:
    """The report's by-client groups of proxy clients, by client name."""
    return sorted((g for g in groups if g.key not in LOCAL_CLIENTS), key=lambda g: g.key)


def clients_line(groups: list[GroupStats]) -> str:
    """The spend per proxy client over the report window, as the screen shows it."""
    if not groups:
        return f"No proxy requests in the {WINDOW_LABEL}."
    spend = "  ".join(f"{g.key}: {g.requests} req, {short_usd(g.cost_usd)}" for g in groups)
    return (
        f"Spend per client, {WINDOW_LABEL} (devflow report --since {WINDOW} --by client): {spend}"
    )


class ProxyScreen(Screen[None]):
    """Live proxy traffic; `s` starts or stops the proxy inside the dashboard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "toggle_proxy", "Start/stop proxy"),
    ]

    def compose(self) -> ComposeResult:
        yield Static(id="proxy-status")
        yield Static(id="proxy-clients")
        yield Static(f"Newest proxy requests among the last {ROWS} recorded:", id="proxy-caption")
        table: DataTable[str] = DataTable(id="proxy-table", cursor_type="row")
        table.add_columns("time", "client", "asked", "model", "status", "cost", "ms")
        yield table
        yield FitFooter()

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
        # Rows first: a request's outcome and its rollups are written in one transaction, so
        # the report read after counts every finished row shown (read the other way round, a
        # request finishing in between was in the table but not in the spend line).
        rows = proxy_rows(list(gateway.store.recent_requests(ROWS)))
        report = dashboard_report(gateway, since=WINDOW, now=time.time())
        self.post_message(ProxyRows(rows, proxy_clients(report.by_client)))

    def on_proxy_rows(self, message: ProxyRows) -> None:
        self.query_one("#proxy-clients", Static).update(clients_line(message.by_client))
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
                short_usd(row.cost_usd),
                f"{latency:.0f}" if latency is not None else "-",
            )

    async def action_toggle_proxy(self) -> None:
        toggle = getattr(self.app, "toggle_proxy", None)
        if toggle is not None:
            await toggle()
        self._show_status()
