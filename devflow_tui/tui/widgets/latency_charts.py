"""Throughput and spend charts (plotext) of the accounting report the dashboard loaded for its
window (latency per model has its own view: latency_view.py). The figures are the report's,
the same `devflow report --since` prints; the charts only draw them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from textual_plotext import PlotextPlot

from devflow_tui.tui.fit import fit_ids
from devflow_tui.tui.widgets.latency_view import WINDOW_LABELS, model_rows
from devflow_tui.usd import short_usd

if TYPE_CHECKING:
    from devflow_tui.accounting.reports import Report


def short_models(models: Sequence[str], width: int = 16) -> list[str]:
    """Bar labels: `openai/gpt-4o-mini` -> `gpt-4o-mini`, shortened at a separator with "…"
    (`mistral-7b-…`), two models never reading the same (`llama-3.3-…`, `llama-…:free`)."""
    return fit_ids([model.rsplit("/", 1)[-1] for model in models], width)


class WindowChart(PlotextPlot):
    """A plot that owns the last report it was given and redraws only when given another."""

    title = ""

    def __init__(self, report: Report | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report = report
        self.points = 0  # how many data points the last replot drew

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def show(self, report: Report) -> None:
        """Draw `report` (called when a request ends or the window changes, never per token)."""
        self.report = report
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        report = self.report
        window = WINDOW_LABELS.get(report.since, report.since) if report else ""
        title = f"{self.title} · {window}" if window else self.title
        self.points = self.draw(report) if report is not None else 0
        plt.title(self.caption(report, title) if self.points else f"{title} — no data yet")
        self.refresh()

    def caption(self, report: Report | None, title: str) -> str:
        return title

    def draw(self, report: Report) -> int:
        raise NotImplementedError


class ThroughputChart(WindowChart):
    """Tokens per second per model, as the report computes it."""

    title = "tokens/s per model"

    def draw(self, report: Report) -> int:
        rows = [r for r in model_rows(report) if r.tokens_per_s]
        if not rows:
            return 0
        self.plt.bar(short_models([r.key for r in rows]), [r.tokens_per_s or 0 for r in rows])
        return len(rows)


class SpendChart(WindowChart):
    """Cumulative spend over the window, day by day, from $0 at its start: it ends at the
    report's total cost for the window, which the title states."""

    title = "spend"

    def __init__(self, report: Report | None = None, *, id: str | None = None) -> None:
        super().__init__(report, id=id)
        self.series: list[Decimal] = []  # cumulative known cost at the end of each day

    def caption(self, report: Report | None, title: str) -> str:
        if report is None:
            return title
        totals = report.totals
        text = f"{title}: {short_usd(totals.cost_usd)}"
        if totals.unknown_cost_requests and totals.cost_usd is not None:
            text += f" + {totals.unknown_cost_requests} unknown"
        return text + " (USD)"

    def draw(self, report: Report) -> int:
        total = Decimal(0)
        self.series = []
        for day in report.by_day:
            total += day.cost_reported_usd + day.cost_estimated_usd  # the known cost
            self.series.append(total)
        if not self.series:
            return 0
        # Plotext draws floats; the figures shown as text stay Decimal.
        self.plt.plot(list(range(len(self.series) + 1)), [0.0, *map(float, self.series)])
        days = [d.key[5:] for d in report.by_day]  # MM-DD
        ends = [1, len(days)] if len(days) > 1 else [1]  # the first and the last day
        self.plt.xticks([float(t) for t in ends], [days[t - 1] for t in ends])
        return len(self.series)
