"""The models screen: catalog with prices, context, capabilities and measured health.

Pin, exclude and prefer change the live settings and are saved to the config file.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from devflow_tui.errors import ConfigError, DevflowError
from devflow_tui.tui.config_file import save_routing_preferences
from devflow_tui.tui.fit import fit_ids, fit_list, fit_words, sized_columns
from devflow_tui.tui.gateway_port import HealthPort, catalog_models
from devflow_tui.tui.money import ms
from devflow_tui.tui.widgets.fit_footer import FitFooter

if TYPE_CHECKING:
    from devflow_tui.routing.catalog import CatalogModel
    from devflow_tui.routing.names import SettingsNames
    from devflow_tui.tui.app import DevflowApp

HEADERS = ("", "model", "health", "in $/M", "out $/M", "context", "capabilities")
# Prices and sizes are shown whole; the model id, health and capabilities share what is left
# (the id first) and are shortened at a boundary with "…"; the line under the table shows the
# selected model's row in full.
FLEXIBLE = {1: (16, 3), 6: (8, 1), 2: (8, 1)}  # column: (narrowest, share of the rest)
FITS = {2: fit_words, 6: fit_list}  # the ids (column 1): fit_ids

MILLION = Decimal(1_000_000)


def per_million(price: Decimal | None) -> str:
    """USD per million tokens, or "unknown"."""
    if price is None:
        return "unknown"
    value = (price * MILLION).quantize(Decimal("0.001")).normalize()
    return f"${value:f}"


def health_text(health: HealthPort | None, model: str) -> str:
    """`98% ok · p50 840 ms` from the health tracker; `no data` before any request."""
    if health is None:
        return "—"
    try:
        if health.in_cooldown(model):
            return "cooldown"
        stats = health.stats(model)
    except Exception:  # health is advisory; an odd tracker must not break the screen
        return "—"
    if not stats.samples:
        return "no data"
    rate = stats.success_rate
    rate_text = f"{rate:.0%} ok" if rate is not None else "?"
    return f"{rate_text} · {ms(stats.latency_p50)} · n={stats.samples}"


def _toggled(names: list[str], model: str) -> tuple[list[str], bool]:
    """A new list: `names` without `model` if it was there, else with it; and whether it was
    added (the models screen's keys switch a setting on and off)."""
    if model in names:
        return [name for name in names if name != model], False
    return [*names, model], True


class ModelsScreen(Screen[None]):
    """A table of every model; keys change the routing preferences."""

    app: DevflowApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("p", "pin", "Pin"),
        Binding("x", "exclude", "Exclude"),
        Binding("f", "prefer", "Prefer"),
        Binding("f5", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="models")
        self.model_ids: list[str] = []
        self._rows: dict[str, tuple[str, ...]] = {}  # each model's row in full
        self._names: SettingsNames | None = None  # the settings' names, as the table shows

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield Static("", id="models-prefs", markup=False)  # `[routing] …` is not markup
        yield DataTable(id="models-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="models-detail", markup=False)
        yield FitFooter(compact=True)

    def on_mount(self) -> None:
        self.refresh_table()
        self.query_one("#models-table", DataTable).focus()

    def on_resize(self) -> None:
        self._refit()

    def _refit(self) -> None:
        """Lay the columns out again if the table's width is not the one they were made for."""
        if self._table_width() != self._laid_out_width:
            self.refresh_table()

    _laid_out_width = -1

    def _table_width(self) -> int:
        """The columns' room: the table's width less its scrollbar gutter."""
        table = self.query_one("#models-table", DataTable)
        width = table.scrollable_content_region.width
        return width if width > 0 else self.app.size.width - 2

    def catalog_rows(self) -> list[CatalogModel]:
        """The models the table lists, in order."""
        gateway = self.app.gateway
        return catalog_models(gateway.catalog if gateway is not None else None)

    def row_texts(self, model: CatalogModel) -> tuple[str, ...]:
        """One model's row in full, before any column is shortened."""
        gateway = self.app.gateway
        health = gateway.health if gateway is not None else None
        capabilities = ", ".join(sorted(model.capabilities))
        if model.free:
            capabilities = ", ".join(filter(None, ["free", capabilities]))
        context = model.context_length
        return (
            self._flags(model.id),
            model.id,
            health_text(health, model.id),
            per_million(model.prices.get("prompt")),
            per_million(model.prices.get("completion")),
            f"{context:,}" if context else "?",
            capabilities or "text",
        )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.typing:  # the cursor moved: the user is choosing a model again
            self.typing = False
            self.refresh_bindings()
        self._show_detail()

    # A prompt typed here by mistake ("Write a detailed essay…") pinned, excluded and
    # preferred models letter by letter, each change saved: a letter that is not one of this
    # screen's keys stops them until the cursor moves.
    typing = False
    LETTER_ACTIONS = frozenset({"pin", "exclude", "prefer"})

    def on_key(self, event: events.Key) -> None:
        if self.typing or not event.is_printable or event.key in ("p", "x", "f"):
            return
        self.typing = True
        self.refresh_bindings()
        self.notify(
            "This is the models screen: p, x and f change the routing and are saved, so they "
            "wait until you move the cursor (up/down). esc goes back to the prompt.",
            title="Typing here?",
            severity="warning",
            timeout=15,
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """p, x and f are shown disabled (and do nothing) while `typing`."""
        return None if self.typing and action in self.LETTER_ACTIONS else True

    def _show_detail(self) -> None:
        """The selected model's row in full, wrapped under the table."""
        detail = self.query_one("#models-detail", Static)
        model = self.selected
        row = self._rows.get(model) if model else None
        if row is None:
            detail.update("")
            return
        flags, model_id, health, prompt, completion, context, capabilities = row
        detail.update(
            f"{flags + ' ' if flags else ''}{model_id} · health {health} · in {prompt}/M · "
            f"out {completion}/M · context {context} · {capabilities}"
        )

    @property
    def routing(self) -> Any:
        return self.app.settings.routing

    def _flags(self, model: str) -> str:
        """📌 pinned, ✗ excluded, ★ preferred: the settings' names as the router reads them
        (`claude-3-sonnet`, a family an exclusion covers), resolved once per table."""
        ids = self._names.ids if self._names is not None else {}
        flags = ""
        for label, flag in (("pinned", "📌"), ("excluded", "✗"), ("preferred", "★")):
            if model in ids.get(label, ()):
                flags += flag
        return flags

    def refresh_table(self) -> None:
        gateway = self.app.gateway
        self._names = gateway.setting_names() if gateway is not None else None
        table = self.query_one("#models-table", DataTable)
        cursor = table.cursor_row
        self.model_ids = []
        models = self.catalog_rows()
        rows = [self.row_texts(model) for model in models]
        self._rows = {model.id: row for model, row in zip(models, rows, strict=True)}
        width = self._table_width()
        self._laid_out_width = width
        widths = sized_columns(table, HEADERS, rows, FLEXIBLE, width)
        right = {3, 4, 5}
        # The ids are shortened together: two models never read the same (Llama, Llama :free).
        shown_ids = fit_ids([model.id for model in models], widths[1])
        for model, row, shown_id in zip(models, rows, shown_ids, strict=True):
            self.model_ids.append(model.id)
            # Text cells: ids such as `x:free:` or `[beta]` are not markup or emoji codes.
            cells = [
                Text(
                    shown_id if i == 1 else FITS[i](text, widths[i]) if i in FITS else text,
                    justify="right" if i in right else "left",
                )
                for i, text in enumerate(row)
            ]
            table.add_row(*cells, key=model.id)
        if self.model_ids and cursor >= 0:
            table.move_cursor(row=min(cursor, len(self.model_ids) - 1))
        prefs = [
            f"pinned: {self.routing.pinned_model or 'none'}",
            f"excluded: {len(self.routing.excluded_models)}",
            f"preferred (scored higher): {', '.join(self.app.settings.preferred_models) or 'none'}",
            f"only: {', '.join(self.app.settings.only_models) or 'all models'}",
        ]
        if not models:
            prefs.append("catalog not loaded yet")
        self.query_one("#models-prefs", Static).update(" · ".join(prefs) + self._resolved())
        self._show_detail()
        # Before the table's first layout its width was a guess: check it once laid out.
        self.call_after_refresh(self._refit)

    def _resolved(self) -> str:
        """What the names in the settings resolved to, as `devflow models` shows it, or the
        settings error naming the name to fix."""
        if self._names is None:
            return ""
        try:
            lines = self._names.check()
        except DevflowError as exc:
            return f"\nsettings error: {exc}"
        return "".join(f"\n{line}" for line in lines if " -> " in line)

    @property
    def selected(self) -> str | None:
        table = self.query_one("#models-table", DataTable)
        if not self.model_ids or table.cursor_row < 0:
            return None
        return self.model_ids[min(table.cursor_row, len(self.model_ids) - 1)]

    def action_pin(self) -> None:
        """Pin the selected model for every request (again to unpin)."""
        model = self.selected
        if model is None:
            return
        self.routing.pinned_model = None if self.routing.pinned_model == model else model
        self._save(f"Pinned {model}." if self.routing.pinned_model else "Unpinned.")

    def action_exclude(self) -> None:
        """Never route to the selected model (again to allow it)."""
        model = self.selected
        if model is None:
            return
        excluded, added = _toggled(self.routing.excluded_models, model)
        self.routing.excluded_models = excluded
        self._save(f"{model} excluded from routing." if added else f"{model} allowed again.")

    def action_prefer(self) -> None:
        """Prefer the selected model (again to stop): routing scores it higher, and every other
        model stays available; `only_models` in the config restricts the pool instead."""
        model = self.selected
        if model is None:
            return
        preferred, added = _toggled(self.app.settings.preferred_models, model)
        note = (
            f"{model} preferred: routing scores it higher; other models stay available."
            if added
            else f"{model} is no longer preferred."
        )
        self.app.settings.preferred_models = preferred
        gateway = self.app.gateway
        if gateway is not None and gateway.settings is not self.app.settings:
            # Demo mode runs on a copy of the settings (its base URL points at the simulator).
            gateway.settings.preferred_models = preferred
        self._save(note)

    def _save(self, note: str) -> None:
        path = self.app.settings.config_path
        if path is not None:
            try:
                save_routing_preferences(
                    path,
                    pinned_model=self.routing.pinned_model,
                    excluded_models=list(self.routing.excluded_models),
                    preferred_models=list(self.app.settings.preferred_models),
                )
            except ConfigError as exc:
                self.notify(str(exc), title="Not saved", severity="error")
                return
            note += f" Saved to {path}."
        self.notify(note)
        self.refresh_table()
