"""The context list: what will be injected with the next prompt, and its token counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from devflow_tui.gateway.events import ContextView


@dataclass(frozen=True)
class PreviewItem:
    """One source the next request would carry, with its size before any trimming."""

    name: str
    tokens: int
    refused: str | None = None


class ContextList(Vertical):
    """Context specs the user attached (files, globs, `claude:latest`) and what was injected.

    Before a send, the list shows what the next request would carry (each source and its tokens,
    counted by the dashboard in a thread worker); after it, what the gateway injected.
    """

    class Changed(Message):
        """The attached specs changed: the preview should be counted again."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "remove_selected", "Remove context", show=False)
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.specs: list[str] = []
        self.views: list[ContextView] = []
        self.preview: list[PreviewItem] | None = None  # None: not counted yet
        self.preview_error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Context", classes="pane-title")
        yield Input(placeholder="add file/glob, or claude:latest", id="context-input")
        table: DataTable[str] = DataTable(id="context-table", cursor_type="row", zebra_stripes=True)
        # Numbers first: a long path is what gets cut at a narrow width, never a token count.
        table.add_columns("tokens", "status", "source")
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
        self._changed()

    def remove_spec(self, spec: str) -> None:
        if spec in self.specs:
            self.specs.remove(spec)
        self._changed()

    def _changed(self) -> None:
        self.views = []  # what was injected last time no longer describes the next request
        self.preview = None
        self._refresh_table()
        self.post_message(self.Changed())

    def show_preview(self, items: Sequence[PreviewItem], error: str | None = None) -> None:
        """Show what the next request would carry (counted before sending)."""
        self.preview = list(items)
        self.preview_error = error
        self.views = []
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
        # Workers report here; the screen may not be composed yet, or already torn down.
        table = next(self.query("#context-table").results(DataTable), None)
        total = next(self.query("#context-total").results(Static), None)
        if table is None or total is None:
            return
        table.clear()
        if self.views:
            for view in self.views:
                table.add_row(_tokens(view.tokens), Text(view.status), Text(view.source))
            sent = sum(v.tokens for v in self.views if v.status != "dropped")
            total.update(f"{len(self.views)} injected · {sent:,} tokens · last request")
            return
        if self.preview:
            for item in self.preview:
                status = "refused" if item.refused else "next"
                table.add_row(_tokens(item.tokens), Text(status), Text(item.name))
            counted = sum(i.tokens for i in self.preview if not i.refused)
            summary = f"next request: {len(self.preview)} sources · {counted:,} tokens"
            total.update(f"{summary} · {self.preview_error}" if self.preview_error else summary)
            return
        if self.preview_error and self.preview is not None:
            for spec in self.specs:
                table.add_row(Text("—", justify="right"), Text("error"), Text(spec))
            total.update(self.preview_error)
            return
        for spec in self.specs:
            table.add_row(Text("…", justify="right"), Text("counting"), Text(spec))
        counting = f"{len(self.specs)} attached · counting…"
        total.update(counting if self.specs else "nothing attached")


def _tokens(count: int) -> Text:
    return Text(f"{count:,}", justify="right")
