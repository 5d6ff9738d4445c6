"""Spend against each configured budget, coloured at the alert thresholds, and the key's credits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from devflow_tui.tui.fit import ELLIPSIS, fit_id
from devflow_tui.tui.money import usd

LEVELS = ("-ok", "-caution", "-warning", "-over")
NAME_COLUMN = 9  # the names line up in a column of this width when there is room
BAR_MIN = 10  # a bar narrower than this (its percentage takes 5) says nothing: it goes

if TYPE_CHECKING:
    from devflow_tui.gateway.events import BudgetView
    from devflow_tui.openrouter.wire import Credits, KeyInfo


def level_for(spent: Decimal, limit: Decimal | None, thresholds: Sequence[float]) -> str:
    """The colour class for a gauge: ok, then one step per crossed threshold (the last is over)."""
    if limit is None or limit <= 0:
        return "-over" if limit is not None and spent > 0 else "-ok"
    ratio = spent / limit
    marks = sorted(thresholds)[-3:] or [1.0]
    crossed = sum(1 for mark in marks if ratio >= Decimal(str(mark)))
    # With fewer than three thresholds the last crossed one still means "over".
    if crossed == len(marks):
        return "-over"
    return LEVELS[min(crossed, 2)]


@dataclass(frozen=True)
class GaugeLayout:
    """How one gauge uses its width: the amount whole first, then the name, then the bar."""

    name: str  # the name as shown ("" when there is no room for it)
    name_width: int  # cells, including the space that separates it from what follows
    bar: bool  # whether the bar (and its percentage) is shown
    wrap_amount: bool  # the amount alone is wider than the gauge: it wraps at its spaces
    # No room for the name beside the amount: the name on its own line above it (a bare
    # amount could not be told from the others).
    stacked: bool = False


def gauge_layout(name: str, amount: str, width: int) -> GaugeLayout:
    """Money is never shortened: `amount` (`$spent / $limit`) keeps every digit, and the
    bar, then the name, give way to it. A name too long is shortened at a separator with "…"
    (`openrouter-…`); with no room even for that, the name goes on a line of its own above
    the amount (`stacked`), never left out."""
    room = width - (cell_len(amount) + 1)  # the amount and the space before it
    natural = cell_len(name) + 1
    if room >= NAME_COLUMN + BAR_MIN:
        name_width = max(NAME_COLUMN, min(natural, room - BAR_MIN))
        return GaugeLayout(fit_id(name, name_width - 1), name_width, True, False)
    name_width = min(max(NAME_COLUMN, natural), room)
    shown = fit_id(name, name_width - 1) if name_width >= 2 else ""
    if shown.strip(ELLIPSIS):  # a bare "…" names nothing: then the name goes above
        return GaugeLayout(shown, name_width, False, False)
    return GaugeLayout(fit_id(name, width), width, False, room < 0, stacked=True)


class BudgetGauge(Horizontal):
    """One budget: name, bar, `$spent / $limit`, laid out by `gauge_layout` for its width."""

    def __init__(self, view: BudgetView, thresholds: Sequence[float] = (0.5, 0.8, 1.0)) -> None:
        super().__init__(classes="budget-gauge")
        self.view = view
        self.thresholds = list(thresholds)

    def compose(self) -> ComposeResult:
        yield Label(self.view.name, classes="budget-name")
        yield ProgressBar(total=100, show_eta=False, show_percentage=True, classes="budget-bar")
        yield Label("", classes="budget-amount")

    def on_mount(self) -> None:
        self.show(self.view, self.thresholds)

    def show(self, view: BudgetView, thresholds: Sequence[float]) -> None:
        """Draw `view`; before the gauge is composed it is kept and drawn on mount."""
        self.view = view
        self.thresholds = list(thresholds)
        bar = next(self.query(ProgressBar).results(ProgressBar), None)
        if bar is None:
            return
        if view.limit_usd is not None:
            limit = view.limit_usd
            done = min(view.spent_usd, limit) if limit > 0 else Decimal(0)
            # ProgressBar takes floats; money stays Decimal everywhere else.
            bar.update(total=float(limit) or 1.0, progress=float(done))
        self.query_one(".budget-amount", Label).update(self.amount_text)
        self._lay_out()
        self.remove_class(*LEVELS)
        self.add_class(level_for(view.spent_usd, view.limit_usd, thresholds))

    @property
    def amount_text(self) -> str:
        """`$spent / $limit` (or `$spent · no limit`), every digit of both."""
        view = self.view
        if view.limit_usd is None:
            return f"{usd(view.spent_usd)} · no limit"
        return f"{usd(view.spent_usd)} / {usd(view.limit_usd)}"

    def on_resize(self, _event: events.Resize) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        """Fit the gauge to its width: the amount whole, then the name, then the bar."""
        width = self.content_size.width
        if not width or not self.query(ProgressBar):
            return  # not laid out yet: on_resize comes
        layout = gauge_layout(self.view.name, self.amount_text, width)
        name = self.query_one(".budget-name", Label)
        name.update(layout.name)
        name.styles.width = layout.name_width
        name.display = layout.name_width > 0
        # An indeterminate bar would animate forever: an unlimited budget has no bar.
        self.query_one(ProgressBar).display = layout.bar and self.view.limit_usd is not None
        amount = self.query_one(".budget-amount", Label)
        amount.styles.width = "1fr" if layout.wrap_amount else "auto"
        self.set_class(layout.stacked, "-stacked")
        self.styles.height = "auto" if layout.wrap_amount or layout.stacked else 1

    @property
    def level(self) -> str:
        return next((c for c in LEVELS if self.has_class(c)), "-ok")


class BudgetGauges(Vertical):
    """All gauges, one per budget the gateway reports, plus the OpenRouter credit line."""

    def __init__(
        self, *, thresholds: Sequence[float] = (0.5, 0.8, 1.0), id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.thresholds = list(thresholds)
        # Budgets reported before the gauges were composed (the gateway can open first).
        self._pending: list[BudgetView] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Budgets", classes="pane-title")
        yield Vertical(id="budget-rows")
        yield Static("no budget configured", id="budget-empty")
        yield Static("credits: —", id="budget-credits")

    def gauge(self, name: str) -> BudgetGauge | None:
        for gauge in self.query(BudgetGauge):
            if gauge.view.name == name:
                return gauge
        return None

    async def on_mount(self) -> None:
        if self._pending is not None:
            views, self._pending = self._pending, None
            await self.show_budgets(views)

    async def show_budgets(self, views: Sequence[BudgetView]) -> None:
        """Update or add one gauge per budget; kept for later when not composed yet."""
        # Both parts are looked up before any await: the screen may be composing, or already
        # tearing down (the app quitting) while this runs in a worker.
        rows = next(self.query("#budget-rows").results(Vertical), None)
        empty = next(self.query("#budget-empty").results(Static), None)
        if rows is None or empty is None or not self.is_mounted:
            self._pending = list(views)
            return
        new: list[BudgetGauge] = []
        for view in views:
            existing = self.gauge(view.name)
            if existing is None:
                new.append(BudgetGauge(view, self.thresholds))
            else:
                existing.show(view, self.thresholds)
        empty.display = not views
        if new and rows.is_attached:
            await rows.mount_all(new)

    def show_credits(
        self, key: KeyInfo | None, credits: Credits | None, *, simulated: bool = False
    ) -> None:
        """Show the key's credit balance and limit when OpenRouter reports them."""
        # The balance is the account's (credits bought less all usage); the limit is this key's
        # own cap, so "left" is what this key may still spend: two different figures, named.
        parts = []
        if credits is not None:
            parts.append(f"account balance {usd(credits.balance)}")
        if key is not None and key.limit is not None:
            if key.limit_remaining is not None:
                parts.append(
                    f"this key: {usd(key.limit_remaining)} left of its {usd(key.limit)} limit"
                )
            else:
                parts.append(f"this key's limit: {usd(key.limit)}")
        label = "simulated credits: " if simulated else "credits: "
        text = label + (" · ".join(parts) if parts else "not reported")
        self.query_one("#budget-credits", Static).update(text)
