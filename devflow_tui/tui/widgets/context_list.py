"""The context list: what will be injected with the next prompt, and its token counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from devflow_tui.gateway.events import ContextView


class ContextList(Vertical):
    """Context specs the user attached (files, globs, `claude:latest`) and what was injected."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "remove_selected", "Remove context", show=False)
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.specs: list[str] = []
        self.views: list[ContextView] = []

    def compose(self) -> ComposeResult:
        yield Static("Context", classes="pane-title")
        yield Input(placeholder="add file/glob, or claude:latest", id="context-input")
        table: DataTable[str] = DataTable(id="context-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("source", "tokens", "status")
        yield table
        yield Static("nothing attached", id="context-total")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Attach the typed spec."""
        event.stop()
        spec = event.value.strip()
        if spec:
            self.add_spec(spec)
        event.input.value = ""

    def add_spec(self, spec: str) -> None:
        """Attach a path, glob or `claude:<session>` to the next prompts."""
        if spec not in self.specs:
            self.specs.append(spec)
        self._refresh_table()

    def remove_spec(self, spec: str) -> None:
        if spec in self.specs:
            self.specs.remove(spec)
        self._refresh_table()

    def action_remove_selected(self) -> None:
        table = self.query_one("#context-table", DataTable)
        if not self.specs or table.cursor_row < 0:
            return
        index = min(table.cursor_row, len(self.specs) - 1)
        self.remove_spec(self.specs[index])

    def show_injected(self, views: Sequence[ContextView]) -> None:
        """Show what the gateway actually injected for the last request."""
        self.views = list(views)
        self._refresh_table()

    @property
    def file_specs(self) -> list[str]:
        return [s for s in self.specs if not s.startswith("claude:")]

    @property
    def claude_session(self) -> str | None:
        for spec in self.specs:
            if spec.startswith("claude:"):
                return spec.removeprefix("claude:") or "latest"
        return None

    def _refresh_table(self) -> None:
        table = self.query_one("#context-table", DataTable)
        table.clear()
        shown = {view.source for view in self.views}
        for view in self.views:
            table.add_row(view.source, f"{view.tokens:,}", view.status)
        for spec in self.specs:
            if spec not in shown:
                table.add_row(spec, "—", "next")
        total = sum(v.tokens for v in self.views if v.status != "dropped")
        summary = (
            f"{len(self.views)} injected · {total:,} tokens" if self.views else "nothing injected"
        )
        if self.specs:
            summary += f" · {len(self.specs)} attached"
        self.query_one("#context-total", Static).update(summary)
