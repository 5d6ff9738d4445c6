"""Latency per model, readable for any number of models: one block per model, fastest first,
with time to first token and total latency as a p50 bar and a whisker out to p95, tokens/s and
the number of requests; a selector for the report window it shows (the last hour, day, 7 or 30
days, or everything).

Every figure is the accounting report's for that window (`accounting/reports.py`, the one
`devflow report --since` prints): this view only draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Select, Static

from devflow_tui.tui.money import ms

if TYPE_CHECKING:
    from devflow_tui.accounting.reports import GroupStats, Report

# The report windows (`accounting/windows.py`) as the dashboard names them, in selector order.
WINDOW_LABELS: dict[str, str] = {
    "1h": "last hour",
    "24h": "last day",
    "7d": "last 7 days",
    "30d": "last 30 days",
    "all": "all",
}
LABEL_WIDTH = 6  # "ttft  ", "total "


def model_rows(report: Report) -> list[GroupStats]:
    """The report's rows per model, without the requests that reached no model."""
    from devflow_tui.accounting.reports import NO_MODEL

    return [g for g in report.by_model if g.key != NO_MODEL]


def bar(p50: float | None, p95: float | None, scale: float, width: int) -> Text:
    """`█████───┤`: p50 as a solid bar, then a whisker to p95, on a shared scale."""
    if p50 is None or scale <= 0 or width <= 0:
        return Text("·".ljust(width), style="dim")
    solid = max(1, round(p50 / scale * width))
    reach = max(solid, round((p95 if p95 is not None else p50) / scale * width))
    text = Text("█" * solid, style="bold")
    if reach > solid:
        text.append("─" * (reach - solid - 1) + "┤", style="dim")
    text.pad_right(width - text.cell_len)
    return text


def rows_text(rows: list[GroupStats], width: int) -> Group:
    """The figure as Rich renderables, laid out for `width` columns (at least 24)."""
    width = max(width, 24)
    if not rows:
        return Group(Text("no requests in this period", style="dim"))
    ordered = sorted(rows, key=lambda r: (r.latency_p50_ms is None, r.latency_p50_ms or 0, r.key))
    scale = max((r.latency_p95_ms or r.latency_p50_ms or 0) for r in ordered) or 1.0
    figures = width - LABEL_WIDTH - 18
    bar_width = max(6, figures)
    lines: list[Text] = []
    for row in ordered:
        rate = f"{row.tokens_per_s:,.0f} tok/s" if row.tokens_per_s else "— tok/s"
        meta = f"{rate} · n={row.requests}"
        head = Text(row.key, style="bold", overflow="ellipsis", no_wrap=True)
        head.truncate(max(8, width - len(meta) - 1), overflow="ellipsis")
        head.pad_right(width - head.cell_len - len(meta))
        head.append(meta, style="dim")
        lines.append(head)
        for label, p50, p95 in (
            ("ttft", row.ttft_p50_ms, row.ttft_p95_ms),
            ("total", row.latency_p50_ms, row.latency_p95_ms),
        ):
            line = Text(label.ljust(LABEL_WIDTH), style="dim")
            line.append_text(bar(p50, p95, scale, bar_width))
            line.append(f" {ms(p50)}")
            if p95 is not None and p95 != p50:
                line.append(f" p95 {ms(p95)}", style="dim")
            line.truncate(width, overflow="ellipsis")
            lines.append(line)
    return Group(*lines)


class LatencyFigure(Static):
    """The drawing; it lays itself out again when its width changes."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[GroupStats] = []

    def show(self, rows: list[GroupStats]) -> None:
        self.rows = rows
        self.update(rows_text(rows, self.size.width or 40))

    def on_resize(self) -> None:
        self.update(rows_text(self.rows, self.size.width or 40))


class LatencyView(Vertical):
    """The latency tab: the window selector and the figure; redrawn when the dashboard brings a
    report (after a request ends, or for another window), never per token."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "next_window", "Period", show=False),
    ]

    @dataclass
    class WindowChanged(Message):
        """The user chose another report window (a key of `WINDOW_LABELS`)."""

        view: LatencyView
        window: str

        @property
        def control(self) -> LatencyView:
            return self.view

    def __init__(self, window: str = "all", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.window = window
        self.rows: list[GroupStats] = []  # the last report's, per model
        self.points = 0  # models drawn by the last report shown

    def compose(self) -> ComposeResult:
        yield Select(
            [(label, window) for window, label in WINDOW_LABELS.items()],
            value=self.window,
            allow_blank=False,
            compact=True,
            id="latency-window",
        )
        yield Static("per model, fastest first: █ p50, ─┤ p95", id="latency-legend", markup=False)
        with VerticalScroll(id="latency-scroll"):
            yield LatencyFigure(id="latency-figure")

    def on_mount(self) -> None:
        self.query_one(LatencyFigure).show(self.rows)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        window = str(event.value)
        if window != self.window:
            self.window = window
            self.post_message(self.WindowChanged(self, window))

    def action_next_window(self) -> None:
        choices = list(WINDOW_LABELS)
        index = choices.index(self.window) if self.window in choices else len(choices) - 1
        self.query_one("#latency-window", Select).value = choices[(index + 1) % len(choices)]

    def show(self, report: Report) -> None:
        """Draw the report's figures per model."""
        self.rows = model_rows(report)
        self.points = len(self.rows)
        for figure in self.query(LatencyFigure):  # none before compose
            figure.show(self.rows)
