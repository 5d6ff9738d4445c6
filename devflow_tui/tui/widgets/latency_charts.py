"""Throughput and spend charts (plotext), redrawn when a request completes (latency per model
has its own view: latency_view.py)."""

from __future__ import annotations

from collections.abc import Sequence

from textual_plotext import PlotextPlot

from devflow_tui.tui.fit import fit_ids
from devflow_tui.tui.request_stats import RequestStats


def short_models(models: Sequence[str], width: int = 16) -> list[str]:
    """Bar labels: `openai/gpt-4o-mini` -> `gpt-4o-mini`, shortened at a separator with "…"
    (`mistral-7b-…`), two models never reading the same (`llama-3.3-…`, `llama-…:free`)."""
    return fit_ids([model.rsplit("/", 1)[-1] for model in models], width)


class StatsChart(PlotextPlot):
    """A plot that owns a reference to the stats and redraws only when told to."""

    title = ""

    def __init__(self, stats: RequestStats, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.stats = stats
        self.points = 0  # how many data points the last replot drew

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def replot(self) -> None:
        """Rebuild the figure from the stats (called on completion, never per token)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        self.points = self.draw()
        if not self.points:
            plt.title(f"{self.title} — no data yet")
        self.refresh()

    def draw(self) -> int:
        raise NotImplementedError


class ThroughputChart(StatsChart):
    """Mean output tokens per second per model."""

    title = "tokens/s per model"

    def draw(self) -> int:
        rows = [r for r in self.stats.latency() if r.tokens_per_s]
        if not rows:
            return 0
        self.plt.bar(short_models([r.model for r in rows]), [r.tokens_per_s or 0 for r in rows])
        return len(rows)


class SpendChart(StatsChart):
    """Cumulative spend after each request."""

    title = "spend over requests (USD)"

    def draw(self) -> int:
        series = self.stats.spend_series()
        if not series:
            return 0
        # Plotext draws floats; the figures shown as text elsewhere stay Decimal.
        self.plt.plot(list(range(1, len(series) + 1)), [float(v) for _, v in series])
        self.plt.xlabel("request #")
        return len(series)
