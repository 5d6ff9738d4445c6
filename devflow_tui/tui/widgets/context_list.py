"""The context list: what will be injected with the next prompt, and its token counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from devflow_tui.tui.fit import column_widths, first_that_fits, fit_path, natural_widths

if TYPE_CHECKING:
    from devflow_tui.gateway.events import ContextView

HEADERS = ("tokens", "status", "source")
NARROWEST_SOURCE = 12  # below this the status column makes way for the source
# The hint in the empty context box, longest first: the one that fits its width is shown.
CONTEXT_HINTS = ("add file/glob, or claude:latest", "add file or glob", "file/glob")


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
        yield Input(placeholder=CONTEXT_HINTS[0], id="context-input")
        yield DataTable(id="context-table", cursor_type="row", zebra_stripes=True)
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

    def show_preview(
        self,
        items: Sequence[PreviewItem],
        error: str | None = None,
        unusable: Mapping[str, str] | None = None,
    ) -> None:
        """Show what the next request would carry (counted before sending). A spec that cannot
        be used (`unusable`: a device, a missing file, binary data) is refused with a message
        and taken off: kept, it made every prompt fail, unseen when the pane is hidden."""
        if unusable:
            for spec, why in unusable.items():
                if spec in self.specs:
                    self.specs.remove(spec)
                self.app.notify(why, title="Not added to the context", severity="error", timeout=20)
            self._changed()  # counted again without them
            return
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

    def on_resize(self) -> None:
        self._refit()
        field = self.query_one("#context-input", Input)
        field.placeholder = first_that_fits(CONTEXT_HINTS, field.content_size.width)

    def _refit(self) -> None:
        """Lay the columns out again if the table's width is not the one they were made for."""
        if self._room() != self._laid_out_width:
            self._refresh_table()

    _laid_out_width = -1

    def _room(self) -> int:
        table = next(self.query("#context-table").results(DataTable), None)
        width = table.scrollable_content_region.width if table is not None else 0
        return width if width > 0 else self.size.width - 2

    def _refresh_table(self) -> None:
        # Workers report here; the screen may not be composed yet, or already torn down.
        table = next(self.query("#context-table").results(DataTable), None)
        total = next(self.query("#context-total").results(Static), None)
        if table is None or total is None:
            return
        rows, summary = self._rows()
        total.update(summary)
        # Token counts and statuses are shown whole; a source too long for the pane keeps its
        # file name and loses leading folders ("file …/widgets/context_list.py").
        width = self._room()
        self._laid_out_width = width
        room = width - 2 * table.cell_padding * len(HEADERS)
        headers: tuple[str, ...] = HEADERS
        natural = natural_widths(HEADERS, rows)
        if natural[0] + natural[1] + NARROWEST_SOURCE > room:
            # Too narrow for three columns: the status goes in front of the source instead
            # ("refused: file …/big.bin"), and the source column gets the room it saves.
            headers = ("tokens", "source")
            rows = [
                (tokens, "", source if status == "next" else f"{status}: {source}")
                for tokens, status, source in rows
            ]
            room += 2 * table.cell_padding  # one column fewer
            natural[1] = 0
            natural[2] = natural_widths(HEADERS, rows)[2]
        widths = column_widths(natural, {2: (NARROWEST_SOURCE, 1)}, room)
        table.clear(columns=True)
        for header, column_width in zip(HEADERS, widths, strict=True):
            if header in headers:
                table.add_column(header, width=column_width)
        for tokens, status, source in rows:
            cells = [Text(tokens, justify="right"), Text(status), Text(fit_path(source, widths[2]))]
            table.add_row(*(cell for cell, h in zip(cells, HEADERS, strict=True) if h in headers))
        # Before the table's first layout its width was a guess: check it once laid out.
        self.call_after_refresh(self._refit)

    def _rows(self) -> tuple[list[tuple[str, str, str]], str]:
        """The table's rows (tokens, status, source) in full, and the line under it."""
        if self.views:
            sent = sum(v.tokens for v in self.views if v.status != "dropped")
            injected = [(f"{v.tokens:,}", str(v.status), v.source) for v in self.views]
            return injected, f"{len(self.views)} injected · {sent:,} tokens · last request"
        if self.preview:
            rows = [
                (f"{i.tokens:,}", "refused" if i.refused else "next", i.name) for i in self.preview
            ]
            counted = sum(i.tokens for i in self.preview if not i.refused)
            summary = f"next request: {len(self.preview)} sources · {counted:,} tokens"
            return rows, f"{summary} · {self.preview_error}" if self.preview_error else summary
        if self.preview_error and self.preview is not None:
            return [("—", "error", spec) for spec in self.specs], self.preview_error
        counting = f"{len(self.specs)} attached · counting…"
        return [("…", "counting", spec) for spec in self.specs], (
            counting if self.specs else "nothing attached"
        )
