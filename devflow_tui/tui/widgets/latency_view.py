"""Latency per model, readable for any number of models: one block per model, fastest first,
with time to first token and total latency as a p50 bar and a whisker out to p95, tokens/s and
the number of samples; a filter for the last hour, the last day or everything."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Select, Static

from devflow_tui.tui.money import ms
from devflow_tui.tui.request_stats import ModelLatency, RequestStats

WINDOWS: tuple[tuple[str, float | None], ...] = (
    ("last hour", 3600.0),
    ("last day", 86_400.0),
    ("all", None),
)
LABEL_WIDTH = 6  # "ttft  ", "total "


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


def rows_text(rows: list[ModelLatency], width: int) -> Group:
    """The figure as Rich renderables, laid out for `width` columns (at least 24)."""
    width = max(width, 24)
    if not rows:
        return Group(Text("no requests in this period", style="dim"))
    ordered = sorted(rows, key=lambda r: (r.latency_p50 is None, r.latency_p50 or 0, r.model))
    scale = max((r.latency_p95 or r.latency_p50 or 0) for r in ordered) or 1.0
    figures = width - LABEL_WIDTH - 18
    bar_width = max(6, figures)
    lines: list[Text] = []
    for row in ordered:
        rate = f"{row.tokens_per_s:,.0f} tok/s" if row.tokens_per_s else "— tok/s"
        meta = f"{rate} · n={row.samples}"
        head = Text(row.model, style="bold", overflow="ellipsis", no_wrap=True)
        head.truncate(max(8, width - len(meta) - 1), overflow="ellipsis")
        head.pad_right(width - head.cell_len - len(meta))
        head.append(meta, style="dim")
        lines.append(head)
        for label, p50, p95 in (
            ("ttft", row.ttft_p50, row.ttft_p95),
            ("total", row.latency_p50, row.latency_p95),
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
        self.rows: list[ModelLatency] = []

    def show(self, rows: list[ModelLatency]) -> None:
        self.rows = rows
        self.update(rows_text(rows, self.size.width or 40))

    def on_resize(self) -> None:
        self.update(rows_text(self.rows, self.size.width or 40))


class LatencyView(Vertical):
    """The latency tab: the filter and the figure; redrawn on `replot`, never per token."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "next_window", "Period", show=False),
    ]

    def __init__(
        self,
        stats: RequestStats,
        *,
        clock: Callable[[], float] = time.time,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.stats = stats
        self.clock = clock
        self.window: float | None = None
        self.points = 0  # models drawn by the last replot

    def compose(self) -> ComposeResult:
        yield Select(
            [(label, str(seconds)) for label, seconds in WINDOWS],
            value="None",
            allow_blank=False,
            compact=True,
            id="latency-window",
        )
        yield Static("per model, fastest first: █ p50, ─┤ p95", id="latency-legend", markup=False)
        with VerticalScroll(id="latency-scroll"):
            yield LatencyFigure(id="latency-figure")

    def on_mount(self) -> None:
        self.replot()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        value = str(event.value)
        self.window = None if value == "None" else float(value)
        self.replot()

    def action_next_window(self) -> None:
        choices = [seconds for _, seconds in WINDOWS]
        index = choices.index(self.window) if self.window in choices else len(choices) - 1
        self.query_one("#latency-window", Select).value = str(choices[(index + 1) % len(choices)])

    @property
    def rows(self) -> list[ModelLatency]:
        since = None if self.window is None else self.clock() - self.window
        return self.stats.latency(since)

    def replot(self) -> None:
        rows = self.rows
        self.points = len(rows)
        self.query_one(LatencyFigure).show(rows)
