"""The team's spend, live: today and this month against the team's budgets, and each member's
requests, spend, monthly budget and what is left of it.

Members spend through `devflow serve` (any instance, any machine) into the same database, so
the screen reads it every `REFRESH_S` in a thread worker, as the proxy screen does, and shows
what it read by message. The figures come from `team_spend.read_team_spend`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual.worker import Worker

from devflow_tui.tui.fit import fit_id, sized_columns
from devflow_tui.tui.money import usd
from devflow_tui.tui.team_spend import (
    WINDOW,
    WINDOWS,
    MemberSpend,
    TeamSpend,
    read_team_spend,
)
from devflow_tui.tui.widgets.budget_gauges import BudgetGauge
from devflow_tui.tui.widgets.fit_footer import FitFooter

if TYPE_CHECKING:
    from devflow_tui.tui.app import DevflowApp

REFRESH_S = 2.0
HEADERS = ("member", "requests", "spent", "this month", "budget", "left")
EMPTY_HINT = "No team members yet: `devflow team add NAME` adds one."


@dataclass
class TeamSpendRead(Message):
    """What the worker read, or why it could not."""

    spend: TeamSpend | None
    error: str | None = None


def member_cells(row: MemberSpend) -> tuple[str, str, str, str, str, str]:
    """A member's row as written on screen (the name whole; the table may shorten it)."""
    if row.removed:
        budget, left = "removed", "—"
    elif row.budget_usd is None:
        budget, left = "none", "—"
    else:
        budget, left = usd(row.budget_usd), usd(row.remaining_usd)
    return (
        row.name,
        f"{row.requests:,}",
        usd(row.spent_usd),
        usd(row.month_usd),
        budget,
        left,
    )


def totals_line(spend: TeamSpend) -> str:
    """The window's requests and spend, and the part sent without a member token."""
    window = WINDOWS.get(spend.window, spend.window)
    text = f"Last {window}: {spend.totals.requests:,} requests, {usd(spend.totals.cost_usd)}"
    other = spend.without_member
    if other is not None and other.requests:
        text += (
            f"; {other.requests:,} of them ({usd(other.cost_usd)}) without a member token "
            "(this dashboard, the CLI, the proxy's own token)"
        )
    return text + "."


def caption(spend: TeamSpend) -> str:
    """What the members table's columns count."""
    window = WINDOWS.get(spend.window, spend.window)
    return (
        f"Members: requests and spent over the last {window}; this month, budget and left "
        "over the calendar month (UTC), which a member's monthly budget counts."
    )


class TeamScreen(Screen[None]):
    """The team's and each member's spend, refreshed every `REFRESH_S` seconds."""

    app: DevflowApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("t", "next_window", "Period"),
    ]

    def __init__(self) -> None:
        super().__init__(id="team")
        self.spend: TeamSpend | None = None
        self.window = WINDOW  # of the requests and spend columns
        self._reading: Worker[None] | None = None
        self._laid_out_width = -1

    def compose(self) -> ComposeResult:
        yield Static("Team spend", classes="pane-title")
        yield Static("Reading the team's spend…", id="team-status")
        yield Vertical(id="team-periods")
        yield Static("", id="team-totals")
        yield Static("", id="team-caption")
        table: DataTable[Text] = DataTable(id="team-table", cursor_type="row")
        yield table
        yield FitFooter()

    def on_mount(self) -> None:
        self._show_members(False)
        self.refresh_team()
        self.set_interval(REFRESH_S, self.refresh_team)

    def refresh_team(self, *, now: bool = False) -> None:
        """Read again, unless the last read is still running (a big report can take longer
        than the interval; reads never pile up). `now`: read at once all the same (a read of
        another window that ends meanwhile is not shown)."""
        if not now and self._reading is not None and self._reading.is_running:
            return
        self._reading = self._read(self.window)

    def action_next_window(self) -> None:
        """The next report window for the requests and spend columns (24 hours, 7 days,
        30 days)."""
        windows = list(WINDOWS)
        self.window = windows[(windows.index(self.window) + 1) % len(windows)]
        self.refresh_team(now=True)

    @work(thread=True, group="team-spend")
    def _read(self, window: str) -> None:
        gateway = self.app.gateway
        if gateway is None:
            self.post_message(TeamSpendRead(None, "Not connected yet."))
            return
        try:
            spend = read_team_spend(gateway, now=time.time(), window=window)
        except Exception as exc:  # a broken or unreachable database is shown, never a crash
            self.post_message(TeamSpendRead(None, f"Could not read the team's spend: {exc}"))
            return
        self.post_message(TeamSpendRead(spend))

    def _show_members(self, shown: bool) -> None:
        for selector in ("#team-periods", "#team-totals", "#team-caption", "#team-table"):
            self.query_one(selector).display = shown

    async def on_team_spend_read(self, message: TeamSpendRead) -> None:
        status = self.query_one("#team-status", Static)
        spend = message.spend
        if spend is not None and spend.window != self.window:
            return  # read before `t` changed the window
        if spend is None:
            status.update(message.error or "")
            status.display = True
            return  # the last figures read stay on screen
        self.spend = spend
        if not spend.has_members:
            status.update(EMPTY_HINT)
            status.display = True
            self._show_members(False)
            return
        status.display = False
        self._show_members(True)
        await self._show_periods(spend)
        self.query_one("#team-totals", Static).update(totals_line(spend))
        self.query_one("#team-caption", Static).update(caption(spend))
        self._fill_table()

    async def _show_periods(self, spend: TeamSpend) -> None:
        thresholds = self.app.settings.budget.thresholds
        periods = self.query_one("#team-periods", Vertical)
        gauges = list(periods.query(BudgetGauge))
        if gauges:
            for gauge, view in zip(gauges, (spend.today, spend.month), strict=True):
                gauge.show(view, thresholds)
        else:
            await periods.mount_all(
                [BudgetGauge(spend.today, thresholds), BudgetGauge(spend.month, thresholds)]
            )

    # ------------------------------------------------------------ the members table

    def _table_room(self) -> int:
        width = self.query_one("#team-table", DataTable).scrollable_content_region.width
        return width if width > 0 else self.app.size.width - 2

    def _fill_table(self) -> None:
        """One row per member, columns sized to the window: amounts stay whole, a name too
        long for its column is shortened after a separator with "…"."""
        spend = self.spend
        if spend is None:
            return
        table = self.query_one("#team-table", DataTable)
        cursor = table.cursor_row
        width = self._table_room()
        self._laid_out_width = width
        rows = [member_cells(row) for row in spend.members]
        widths = sized_columns(table, HEADERS, rows, {0: (6, 1)}, width)
        for cells in rows:
            name, *figures = cells
            table.add_row(
                Text(fit_id(name, widths[0])),
                *(Text(figure, justify="right") for figure in figures),
                key=name,
            )
        if rows and cursor >= 0:
            table.move_cursor(row=min(cursor, len(rows) - 1))
        self.call_after_refresh(self._refit)

    def on_resize(self) -> None:
        self._refit()

    def _refit(self) -> None:
        if self.spend is not None and self._table_room() != self._laid_out_width:
            self._fill_table()
