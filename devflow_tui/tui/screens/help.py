"""The help screen (? or F1): every key binding and what it does."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from devflow_tui.tui.actions import ACTIONS

INTRO = """\
# devflow — help

Every prompt is routed to the most cost-effective capable model. The routing pane shows why;
the footer of each answer shows the model, cost, tokens, latency and time to first token.

| key | action |
|---|---|
"""

EDITOR = """
**Prompt editor:** enter sends · shift+enter or ctrl+j inserts a new line · tab moves on.

**Context:** type a path, a glob or `claude:latest` in the context box and press enter;
delete removes the selected entry.

All actions are also in the command palette (ctrl+p).
"""


def help_markdown() -> str:
    rows = "".join(f"| `{a.key}` | {a.description} |\n" for a in ACTIONS)
    return INTRO + rows + EDITOR


class HelpScreen(ModalScreen[None]):
    """A scrollable list of bindings; escape, q or F1 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("f1", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown())

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
