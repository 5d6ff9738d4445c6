"""History and analytics: past conversations (search, reopen, export) and the spend report."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Markdown,
    Static,
    TabbedContent,
    TabPane,
)
from textual_plotext import PlotextPlot

from devflow_tui.tui.gateway_port import catalog_models, field_of
from devflow_tui.tui.messages import ReportReady

if TYPE_CHECKING:
    from devflow_tui.tui.app import DevflowApp


def _when(value: Any) -> str:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value or "")


def message_tuples(
    messages: Sequence[Any], model_of: Callable[[str], str | None] | None = None
) -> list[tuple[str, str, str | None]]:
    """(role, content, model) for each stored message; `model_of(request_id)` fills the model."""
    result = []
    for message in messages:
        model = field_of(message, "model")
        request_id = field_of(message, "request_id")
        if not model and request_id and model_of is not None:
            model = model_of(str(request_id))
        result.append(
            (
                str(field_of(message, "role", "user")),
                str(field_of(message, "content", "") or ""),
                str(model) if model else None,
            )
        )
    return result


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


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


class HistoryScreen(Screen[None]):
    """Conversations on the first tab, the accounting report on the second."""

    app: DevflowApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+e", "export", "Export .md"),
        Binding("ctrl+o", "reopen", "Reopen"),
        Binding("f4", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="history")
        self.conversation_ids: list[str] = []
        self.report: Any = None
        self.exported: Path | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with TabbedContent(id="history-tabs"):
            with TabPane("Conversations", id="tab-conversations"):
                yield Input(placeholder="search conversations…", id="history-search")
                with Horizontal(id="history-body"):
                    table: DataTable[str] = DataTable(id="history-table", cursor_type="row")
                    table.add_columns("updated", "title")
                    yield table
                    with VerticalScroll(id="history-preview-scroll"):
                        yield Markdown("Select a conversation.", id="history-preview")
            with TabPane("Report", id="tab-report"), VerticalScroll(id="report-body"):
                yield Static("Building the report…", id="report-status")
                yield Static("", id="report-totals")
                yield Static("Per model", classes="pane-title")
                yield DataTable(id="report-by-model", cursor_type="row")
                yield Static("Per task type", classes="pane-title")
                yield DataTable(id="report-by-task", cursor_type="row")
                yield Static("", id="report-savings")
                yield Static("Recommendations", classes="pane-title")
                yield Static("", id="report-recommendations")
                yield ReportChart(id="report-chart")
        yield Footer()

    def on_mount(self) -> None:
        self.load_conversations(None)
        self.build_report()

    @property
    def store(self) -> Any:
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

    def _show_conversations(self, rows: list[Any]) -> None:
        table = self.query_one("#history-table", DataTable)
        table.clear()
        self.conversation_ids = []
        for row in rows:
            conversation_id = str(field_of(row, "id"))
            self.conversation_ids.append(conversation_id)
            title = str(field_of(row, "title") or "(untitled)")
            table.add_row(_when(field_of(row, "updated")), title, key=conversation_id)
        if not rows:
            self.query_one("#history-preview", Markdown).update("No conversations yet.")

    @property
    def selected_id(self) -> str | None:
        table = self.query_one("#history-table", DataTable)
        if not self.conversation_ids or table.cursor_row < 0:
            return None
        return self.conversation_ids[min(table.cursor_row, len(self.conversation_ids) - 1)]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "history-table" and self.selected_id and self.store is not None:
            try:
                text = self.store.export_markdown(self.selected_id)
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
        messages = message_tuples(
            store.load_conversation(conversation_id), lambda rid: _served_model(store, rid)
        )
        self.app.pop_screen()
        await self.app.dashboard.open_conversation(conversation_id, messages)
        self.app.notify(f"Reopened conversation ({len(messages)} messages).")

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
            self.notify(f"Cannot write {path}: {exc.strerror}", severity="error")
            return
        self.exported = path
        self.notify(f"Exported to {path}")

    # ------------------------------------------------------------ report

    @work(thread=True, exclusive=True, group="report")
    def build_report(self) -> None:
        """Aggregate in a thread: over many rows this is blocking SQLite work."""
        gateway = self.app.gateway
        if gateway is None:
            self.post_message(ReportReady(None, "Not connected yet."))
            return
        try:
            from devflow_tui.accounting.reports import build_report

            prices = {
                str(field_of(m, "id")): dict(field_of(m, "prices", {}) or {})
                for m in catalog_models(gateway.catalog)
            }
            report = build_report(
                gateway.store,
                since="30d",
                by="model",
                baseline_model=gateway.settings.baseline_model,
                prices=prices,
                budgets=gateway.budget_status(),
                now=time.time(),
            )
        except Exception as exc:  # a report failure is shown in the tab, never a crash
            self.post_message(ReportReady(None, f"Could not build the report: {exc}"))
            return
        self.post_message(ReportReady(report))

    def on_report_ready(self, message: ReportReady) -> None:
        status = self.query_one("#report-status", Static)
        if message.report is None:
            status.update(message.error or "No report.")
            return
        self.report = message.report
        data: dict[str, Any] = message.report.model_dump(mode="json")
        status.update("Last 30 days")
        self.query_one("#report-totals", Static).update(_key_values(data.get("totals") or {}))
        _fill_table(self.query_one("#report-by-model", DataTable), data.get("by_model") or [])
        _fill_table(self.query_one("#report-by-task", DataTable), data.get("by_task") or [])
        savings = data.get("savings") or {}
        self.query_one("#report-savings", Static).update(
            "Savings vs baseline: " + _key_values(savings, sep=" · ") if savings else ""
        )
        recommendations = data.get("recommendations") or []
        self.query_one("#report-recommendations", Static).update(
            "\n".join(f"• {_recommendation(r)}" for r in recommendations) or "None yet."
        )
        rows = _rows(data.get("by_model") or [])
        labels = [str(r.get("model") or r.get("key") or "?").rsplit("/", 1)[-1] for r in rows]
        values = [_number(r.get("cost_usd")) for r in rows]
        self.query_one(ReportChart).show(labels, values, "cost per model (USD)")


def _served_model(store: Any, request_id: str) -> str | None:
    """The model that served a stored request, when the store can tell."""
    get_request = getattr(store, "get_request", None)
    if get_request is None:
        return None
    row = get_request(request_id)
    model = field_of(row, "model") if row is not None else None
    return str(model) if model else None


def _rows(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [
            {"key": k, **(v if isinstance(v, Mapping) else {"value": v})} for k, v in value.items()
        ]
    return [r for r in value if isinstance(r, Mapping)]


def _fill_table(table: DataTable[str], value: Any) -> None:
    rows = _rows(value)
    table.clear(columns=True)
    if not rows:
        table.add_column("no data")
        return
    columns = [c for c in rows[0] if not isinstance(rows[0][c], dict | list)]
    table.add_columns(*columns)
    for row in rows:
        table.add_row(*[_cell(row.get(c)) for c in columns])


def _key_values(data: Mapping[str, Any], sep: str = "\n") -> str:
    return sep.join(f"{k}: {_cell(v)}" for k, v in data.items() if not isinstance(v, dict | list))


def _recommendation(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("text") or value.get("message") or value)
    return str(value)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
