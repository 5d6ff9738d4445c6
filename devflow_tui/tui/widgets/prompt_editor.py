"""The multi-line prompt editor: enter sends, shift+enter or ctrl+j starts a new line."""

from __future__ import annotations

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from devflow_tui.tui.fit import first_that_fits

NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j"})
# The hint in the empty editor, longest first: the one that fits the editor's lines is shown.
PLACEHOLDERS = (
    "Ask anything… (enter sends, shift+enter/ctrl+j new line)",
    "Ask anything… (enter sends, ctrl+j new line)",
    "Ask anything… (enter sends)",
)


class PromptEditor(TextArea):
    """A TextArea where enter submits the prompt instead of inserting a newline."""

    DEFAULT_CSS = """
    PromptEditor { height: 5; min-height: 3; }
    """

    class Submitted(Message):
        """The user pressed enter on a non-empty prompt."""

        def __init__(self, editor: PromptEditor, text: str) -> None:
            super().__init__()
            self.editor = editor
            self.text = text

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            "",
            id=id,
            classes=classes,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            placeholder=PLACEHOLDERS[0],
        )

    def on_resize(self, _event: events.Resize) -> None:
        size = self.content_size
        self.placeholder = first_that_fits(PLACEHOLDERS, size.width, max(1, size.height))

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.submit()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        await super()._on_key(event)

    def submit(self) -> None:
        """Offer the prompt (when not blank) to the screen, which clears the editor once it has
        taken the text: a prompt that cannot be sent yet is never lost."""
        text = self.text.strip()
        if not text:
            return
        self.post_message(self.Submitted(self, text))
