"""The footer every screen uses: whole keys only, and a count of the ones that did not fit.

Textual's footer lays its keys out in one row and lets the ones that do not fit run on under
the docked "^p palette" key: at 80 columns the dashboard's last keys were simply gone, with
nothing saying so. This footer shows the keys in their order (the app lists the ones a new
user needs first) as far as they fit whole, hides the rest, and says "+N more" next to the
palette, which lists every action with its key (so does the help screen, F1). A hidden key
still works: only its label is left out.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel


def more_label(hidden: int) -> str:
    """What the footer says when `hidden` keys did not fit."""
    return f"+{hidden} more"


class FitFooter(Footer):
    """A `Footer` that never cuts a key: the keys that do not fit are counted, not drawn."""

    DEFAULT_CSS = """
    FitFooter FooterLabel.-more {
        margin: 0 1 0 0;
        color: $footer-description-foreground;
        text-style: italic;
    }
    """

    def __init__(self, *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self.hidden_keys: list[str] = []  # the keys left out at the current width

    def compose(self) -> ComposeResult:
        yield from super().compose()
        if self._bindings_ready:
            more = FooterLabel("", classes="-more")
            more.tooltip = "Every key is in the command palette (ctrl+p) and in the help (f1)."
            more.display = False
            yield more

    async def recompose(self) -> None:
        await super().recompose()
        self.fit_keys()

    def on_resize(self, _event: events.Resize) -> None:
        self.fit_keys()

    def fit_keys(self) -> None:
        """Show the keys, in order, that fit whole beside the palette key; count the rest."""
        all_keys = list(self.query_children(FooterKey))
        keys = [key for key in all_keys if not key.has_class("-command-palette")]
        if not keys or not self.size.width:
            return
        room = self.size.width - sum(_width(key) for key in all_keys if key not in keys)
        widths = [_width(key) for key in keys]
        shown = len(keys)
        if sum(widths) > room:
            # Room for "+N more" and its margin (N has at most as many digits as len(keys)).
            room -= len(more_label(len(keys))) + 1
            shown = 0
            while shown < len(keys) and sum(widths[: shown + 1]) <= room:
                shown += 1
        for index, key in enumerate(keys):
            key.display = index < shown
        self.hidden_keys = [key.key for key in keys[shown:]]
        for more in self.query_children(FooterLabel).filter(".-more"):
            more.update(more_label(len(self.hidden_keys)))
            more.display = bool(self.hidden_keys)


def _width(key: FooterKey) -> int:
    """The columns `key` takes in the row: its text, padding, border and margin."""
    rendered = key.render()
    text = rendered.cell_len if isinstance(rendered, Text) else 0
    return text + key.styles.gutter.width + key.styles.margin.width
