"""History and analytics: past conversations (search, reopen, export) and the spend report."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    DataTable,
    Header,
    Input,
    Markdown,
    Static,
    TabbedContent,
    TabPane,
)
from textual_plotext import PlotextPlot

from devflow_tui.tui.fit import fit_ids, fit_words, for_toast, natural_widths, sized_columns
from devflow_tui.tui.gateway_port import dashboard_report
from devflow_tui.tui.messages import ReportReady
from devflow_tui.tui.money import ms, usd
from devflow_tui.tui.widgets.conversation import AnswerFacts, SavedTurn
from devflow_tui.tui.widgets.fit_footer import FitFooter
from devflow_tui.tui.widgets.latency_charts import short_models

if TYPE_CHECKING:
    from devflow_tui.accounting.records import Conversation, Message
    from devflow_tui.accounting.reports import GroupStats, Report
    from devflow_tui.accounting.store import AnalyticsStore
    from devflow_tui.tui.app import DevflowApp


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def saved_turns(store: AnalyticsStore, messages: Sequence[Message]) -> list[SavedTurn]:
    """The stored messages with, for each answer, the facts of the request that produced it
    (model, cost, tokens, timings, and whether it was cancelled or cut off)."""
    turns = []
    for message in messages:
        facts = None
        if message.role != "user" and message.request_id:
            row = store.get_request(message.request_id)
            if row is not None:
                facts = AnswerFacts.of_row(row, store.attempts_for(row.id))
        turns.append(SavedTurn(message.role, message.content or "", facts))
    return turns


class ReportChart(PlotextPlot):
    """Cost per model from the report, as a bar chart."""

    def show(self, labels: list[str], values: list[float], title: str) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        if labels:
            plt.bar(labels, values)
        self.refresh()


HISTORY_HEADERS = ("updated", "title")


class HistoryScreen(Screen[None]):
    """Conversations on the first tab, the accounting report on the second."""

    app: DevflowApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        # Priority: the search box has the focus and would take ctrl+e (end of line).
        Binding("ctrl+e", "export", "Export .md", priority=True),
        Binding("ctrl+o", "reopen", "Reopen", priority=True),
        # Priority: on this screen ctrl+r switches tabs instead of the dashboard's retry.
        Binding("ctrl+r", "switch_tab", "Report/Conversations", priority=True),
        Binding("f4", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="history")
        self.conversation_ids: list[str] = []
        self._rows: list[tuple[str, str, str]] = []  # (id, updated, title) as listed
        self.report: Report | None = None
        self.exported: Path | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with TabbedContent(id="history-tabs"):
            with TabPane("Conversations", id="tab-conversations"):
                yield Input(placeholder="search conversations…", id="history-search")
                with Horizontal(id="history-body"):
                    yield DataTable(id="history-table", cursor_type="row")
                    with VerticalScroll(id="history-preview-scroll"):
                        yield Markdown("Select a conversation.", id="history-preview")
            with TabPane("Report", id="tab-report"), VerticalScroll(id="report-body"):
                # The body scrolls as one page (up/down, page up/down, home/end): the tables
                # take no focus and no keys, and are as tall as their rows.
                yield Static("Building the report…", id="report-status")
                yield Static("", id="report-totals")
                for title, name in (("Per model", "model"), ("Per task type", "task")):
                    yield Static(title, classes="pane-title")
                    # A window too narrow for every column gets the speed columns in a
                    # second table under the first (see `_fill_groups`).
                    yield ReportTable(id=f"report-by-{name}")
                    yield ReportTable(id=f"report-by-{name}-speed")
                yield Static("", id="report-savings")
                yield ReportChart(id="report-chart")
                # Last, so that End shows them whole: what the figures above suggest doing.
                yield Static(ESCALATIONS_TITLE, classes="pane-title")
                yield ReportTable(id="report-escalations")
                yield Static("", id="report-no-escalations")
                yield Static("Recommendations", classes="pane-title")
                yield Static("", id="report-recommendations")
        yield FitFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#history-search", Input).focus()
        self.load_conversations(None)
        self.build_report()

    def action_switch_tab(self) -> None:
        """Show the report, or the conversations when the report is showing."""
        tabs = self.query_one("#history-tabs", TabbedContent)
        tabs.active = "tab-report" if tabs.active == "tab-conversations" else "tab-conversations"
        if tabs.active == "tab-conversations":
            self.query_one("#history-search", Input).focus()
        else:
            self.query_one("#report-body", VerticalScroll).focus()

    @property
    def store(self) -> AnalyticsStore | None:
        gateway = self.app.gateway
        return gateway.store if gateway is not None else None

    # ------------------------------------------------------------ conversations

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "history-search":
            self.load_conversations(event.value.strip() or None)

    @work(thread=True, exclusive=True, group="history-list")
    def load_conversations(self, search: str | None) -> None:
        store = self.store
        if store is None:
            return
        try:
            rows = list(store.list_conversations(search, 200))
        except Exception as exc:  # show, don't crash, on a locked or broken database
            self.app.call_from_thread(
                self.notify, f"Could not read history: {exc}", severity="error"
            )
            return
        self.app.call_from_thread(self._show_conversations, rows)

    def _show_conversations(self, rows: list[Conversation]) -> None:
        self._rows = [(row.id, _when(row.updated), row.title or "(untitled)") for row in rows]
        self.conversation_ids = [row.id for row in rows]
        self._fill_table()
        if not rows:
            self.query_one("#history-preview", Markdown).update("No conversations match.")
        else:
            # The preview follows the filter: show the first match.
            self.query_one("#history-table", DataTable).move_cursor(row=0)
            self._preview(rows[0].id)

    _laid_out_width = -1

    def _table_room(self) -> int:
        width = self.query_one("#history-table", DataTable).scrollable_content_region.width
        return width if width > 0 else self.app.size.width * 45 // 100

    def _fill_table(self) -> None:
        """List the conversations with the title column sized to the table: a title too long
        for it is shortened after a whole word, with "…", never cut mid-word."""
        table = self.query_one("#history-table", DataTable)
        cursor = table.cursor_row
        width = self._table_room()
        self._laid_out_width = width
        rows = [(updated, title) for _, updated, title in self._rows]
        widths = sized_columns(table, HISTORY_HEADERS, rows, {1: (8, 1)}, width)
        for row_id, updated, title in self._rows:
            table.add_row(Text(updated), Text(fit_words(title, widths[1])), key=row_id)
        if self._rows and cursor >= 0:
            table.move_cursor(row=min(cursor, len(self._rows) - 1))
        self.call_after_refresh(self._refit)

    def on_resize(self) -> None:
        self._refit()

    def _refit(self) -> None:
        if self._table_room() != self._laid_out_width:
            self._fill_table()
        if self.report is not None and self._report_room() != self._report_width:
            self._fill_report_tables(self.report)

    @property
    def selected_id(self) -> str | None:
        table = self.query_one("#history-table", DataTable)
        if not self.conversation_ids or table.cursor_row < 0:
            return None
        return self.conversation_ids[min(table.cursor_row, len(self.conversation_ids) - 1)]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "history-table" and self.selected_id:
            self._preview(self.selected_id)

    def _preview(self, conversation_id: str) -> None:
        store = self.store
        if store is None:
            return
        try:
            text = store.export_markdown(conversation_id)
        except Exception as exc:  # a broken row should not end the screen
            text = f"Cannot show this conversation: {exc}"
        self.query_one("#history-preview", Markdown).update(text)

    async def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "history-table":
            await self.action_reopen()

    async def action_reopen(self) -> None:
        """Continue the selected conversation on the dashboard."""
        conversation_id = self.selected_id
        if conversation_id is None or self.store is None:
            self.notify("Select a conversation first.")
            return
        store = self.store
        turns = saved_turns(store, store.load_conversation(conversation_id))
        self.app.pop_screen()
        await self.app.dashboard.open_conversation(conversation_id, turns)
        self.app.notify(f"Reopened conversation ({len(turns)} messages).")

    def action_export(self) -> None:
        """Write the selected conversation as Markdown under DEVFLOW_HOME/exports."""
        conversation_id = self.selected_id
        if conversation_id is None or self.store is None:
            self.notify("Select a conversation first.")
            return
        folder = self.app.settings.home / "exports"
        path = folder / f"conversation-{conversation_id[:12]}.md"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(self.store.export_markdown(conversation_id), encoding="utf-8")
        except OSError as exc:
            text = f"Cannot write {path}: {exc.strerror}"
            self.notify(for_toast(text, self.app.size.width), severity="error")
            return
        self.exported = path
        self.notify(for_toast(f"Exported to {path}", self.app.size.width))

    # ------------------------------------------------------------ report

    @work(thread=True, exclusive=True, group="report")
    def build_report(self) -> None:
        """Aggregate in a thread: over many rows this is blocking SQLite work."""
        gateway = self.app.gateway
        if gateway is None:
            self.post_message(ReportReady(None, "Not connected yet."))
            return
        try:
            report = dashboard_report(gateway, since="30d", now=time.time())
        except Exception as exc:  # a report failure is shown in the tab, never a crash
            self.post_message(ReportReady(None, f"Could not build the report: {exc}"))
            return
        self.post_message(ReportReady(report))

    def on_report_ready(self, message: ReportReady) -> None:
        status = self.query_one("#report-status", Static)
        report = message.report
        if report is None:
            status.update(message.error or "No report.")
            return
        self.report = report
        status.update("Last 30 days")
        self.query_one("#report-totals", Static).update(totals_text(report.totals))
        self._fill_report_tables(report)
        self.query_one("#report-savings", Static).update(savings_text(report))
        self.query_one("#report-recommendations", Static).update(
            "\n".join(f"• {r}" for r in report.recommendations) or "None yet."
        )
        rows = [g for g in report.by_model if g.cost_usd is not None]
        labels = short_models([g.key for g in rows])
        values = [float(g.cost_usd or 0) for g in rows]  # plotext draws floats
        self.query_one(ReportChart).show(labels, values, "cost per model (USD)")

    _report_width = -1

    def _report_room(self) -> int:
        """The report's width inside its padding and scrollbar (a guess before its layout)."""
        width = self.query_one("#report-body", VerticalScroll).scrollable_content_region.width
        return width if width > 0 else self.app.size.width - 4

    def _fill_report_tables(self, report: Report) -> None:
        """The report's tables sized to the window: figures whole, ids shortened at a
        boundary (distinct ids stay distinct), the speed columns under the others when the
        window is narrow."""
        width = self._report_room()
        self._report_width = width
        for name, groups in (("model", report.by_model), ("task", report.by_task)):
            main = self.query_one(f"#report-by-{name}", ReportTable)
            speed = self.query_one(f"#report-by-{name}-speed", ReportTable)
            _fill_groups(main, speed, groups, name, width)
        escalations = self.query_one("#report-escalations", ReportTable)
        rows = escalation_rows(report)
        escalations.display = bool(rows)
        if rows:
            escalations.fill(ESCALATION_HEADERS, rows, width, right=range(2, 5))
        self.query_one("#report-no-escalations", Static).update(
            "" if rows else "No answer was re-asked with a stronger model (f12) in this period."
        )
        # Before the body's first layout its width was a guess: check it once laid out.
        self.call_after_refresh(self._refit)


def _percent(value: float | None) -> str:
    return f"{value:.0%}" if value is not None else "—"


def totals_text(totals: GroupStats) -> str:
    """The report's totals as one short paragraph with units."""
    unknown = (
        f" ({totals.unknown_cost_requests} with unknown cost)"
        if totals.unknown_cost_requests
        else ""
    )
    return (
        f"{totals.requests:,} requests · {_percent(totals.success_rate)} succeeded · "
        f"spent {usd(totals.cost_usd)}{unknown}\n"
        f"tokens {totals.prompt_tokens:,} in → {totals.completion_tokens:,} out · "
        f"latency p50 {ms(totals.latency_p50_ms)}, p95 {ms(totals.latency_p95_ms)} · "
        f"first token p50 {ms(totals.ttft_p50_ms)} · "
        f"{_rate(totals.tokens_per_s)} · {totals.cache_hits:,} cache hits "
        f"(saved {usd(totals.saved_by_cache_usd)})"
    )


def _rate(value: float | None) -> str:
    return f"{value:,.0f} tok/s" if value is not None else "— tok/s"


def savings_text(report: Report) -> str:
    """What routing saved against the baseline model, or why it cannot be said."""
    savings = report.savings
    if savings.baseline_model is None:
        return "Savings: no baseline model configured."
    if savings.saved_usd is None or savings.baseline_cost_usd is None:
        return f"Savings vs {savings.baseline_model}: {savings.note or 'not enough priced data'}."
    share = f" ({savings.saved_fraction:.0%})" if savings.saved_fraction is not None else ""
    return (
        f"Savings vs {savings.baseline_model}: {usd(savings.saved_usd)}{share} — "
        f"{usd(savings.actual_cost_usd)} spent instead of {usd(savings.baseline_cost_usd)} "
        f"over {savings.priced_requests:,} priced requests."
    )


GROUP_COLUMNS = (
    "requests",
    "ok",
    "cost",
    "tokens in→out",
    "latency p50",
    "latency p95",
    "first token p50",
    "tok/s",
)
FIGURES = 4  # the first four figures; the speed columns go under them when narrow

ESCALATIONS_TITLE = "Escalations (answers re-asked with a stronger model, f12)"
ESCALATION_HEADERS = ("model", "task", "escalated", "of answers", "rate")


class ReportTable(DataTable[Text]):
    """A table of the report: its columns sized to the window, no focus, no sideways scroll;
    the report's body scrolls instead."""

    can_focus = False

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True, show_cursor=False)

    def fill(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        width: int,
        *,
        right: Iterable[int],
    ) -> None:
        """Every figure whole; the first column (a model id or task type) shortened at a
        boundary to fit `width`, the ids together so that two never read the same."""
        widths = sized_columns(self, headers, rows, {0: (12, 1)}, width)
        firsts = [row[0] for row in rows]
        shown = (
            fit_ids(firsts, widths[0])
            if headers[0] == "model"
            else [fit_words(first, widths[0]) for first in firsts]
        )
        right = set(right)
        for first, row in zip(shown, rows, strict=True):
            cells = [first, *row[1:]]
            self.add_row(
                *(
                    Text(cell, justify="right" if i in right else "left")
                    for i, cell in enumerate(cells)
                )
            )


def group_rows(groups: Sequence[GroupStats]) -> list[tuple[str, ...]]:
    """The report's groups as rows of text, with units, in `GROUP_COLUMNS` order."""
    return [
        (
            g.key or "(none)",
            f"{g.requests:,}",
            _percent(g.success_rate),
            usd(g.cost_usd),
            f"{g.prompt_tokens:,}→{g.completion_tokens:,}",
            ms(g.latency_p50_ms),
            ms(g.latency_p95_ms),
            ms(g.ttft_p50_ms),
            _rate(g.tokens_per_s).removesuffix(" tok/s"),
        )
        for g in groups
    ]


def escalation_rows(report: Report) -> list[tuple[str, ...]]:
    """The report's escalation rate per model and task type, as `devflow report` prints it:
    the report computes it once (`Report.escalations`), this only writes it."""
    return [
        (e.model, e.task_type or "-", f"{e.escalated:,}", f"{e.answered:,}", f"{e.rate:.0%}")
        for e in report.escalations
    ]


def _fill_groups(
    main: ReportTable,
    speed: ReportTable,
    groups: Sequence[GroupStats],
    what: str,
    width: int,
) -> None:
    """One table with every column when they fit `width`; otherwise the figures in `main`
    and the speed columns (latency, first token, tok/s) in `speed`, under it."""
    headers = (what, *GROUP_COLUMNS)
    rows = group_rows(groups)
    natural = natural_widths(headers, rows)
    padding = 2 * main.cell_padding * len(headers)
    numbers = range(1, len(headers))
    # The first column may be shortened down to 12 cells; the figures never are.
    if sum(natural[1:]) + min(natural[0], 12) + padding <= width:
        main.fill(headers, rows, width, right=numbers)
        speed.clear(columns=True)
        speed.display = False
        return
    split = 1 + FIGURES
    main.fill(headers[:split], [row[:split] for row in rows], width, right=range(1, split))
    speed_headers = (what, *headers[split:])
    speed_rows = [(row[0], *row[split:]) for row in rows]
    speed.fill(speed_headers, speed_rows, width, right=range(1, len(speed_headers)))
    speed.display = True
