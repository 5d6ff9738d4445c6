"""Spend against each configured budget, coloured at the alert thresholds, and the key's credits."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Static

from devflow_tui.tui.money import usd

LEVELS = ("-ok", "-caution", "-warning", "-over")

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


class BudgetGauge(Horizontal):
    """One budget: name, bar, `$spent / $limit`."""

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
        amount = self.query_one(".budget-amount", Label)
        if view.limit_usd is None:
            # An indeterminate bar would animate forever; an unlimited budget has no bar.
            bar.display = False
            amount.update(f"{usd(view.spent_usd)} · no limit")
        else:
            limit = view.limit_usd
            bar.display = True
            done = min(view.spent_usd, limit) if limit > 0 else Decimal(0)
            # ProgressBar takes floats; money stays Decimal everywhere else.
            bar.update(total=float(limit) or 1.0, progress=float(done))
            amount.update(f"{usd(view.spent_usd)} / {usd(limit)}")
        self.remove_class(*LEVELS)
        self.add_class(level_for(view.spent_usd, view.limit_usd, thresholds))

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
