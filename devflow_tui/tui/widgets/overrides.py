"""Per-request overrides: model pin, cost/performance priority and max tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.validation import Integer, Number
from textual.widgets import Input, Label, Select, Static


@dataclass(frozen=True)
class RequestOverrides:
    """What the user set for the next request; None means "let the router decide"."""

    model: str | None = None
    cost_priority: float | None = None
    performance_priority: float | None = None
    max_tokens: int | None = None


def _float_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def _int_or_none(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


class Overrides(Vertical):
    """A small form; every field is optional and reachable with tab."""

    def compose(self) -> ComposeResult:
        yield Static("Overrides", classes="pane-title")
        yield Label("model")
        yield Select[str]([], prompt="auto (route)", allow_blank=True, id="override-model")
        yield Label("cost priority 0-1")
        yield Input(
            placeholder="default",
            id="override-cost",
            validators=[Number(minimum=0, maximum=1)],
            compact=True,
        )
        yield Label("performance priority 0-1")
        yield Input(
            placeholder="default",
            id="override-performance",
            validators=[Number(minimum=0, maximum=1)],
            compact=True,
        )
        yield Label("max tokens")
        yield Input(
            placeholder="default",
            id="override-max-tokens",
            validators=[Integer(minimum=1)],
            compact=True,
        )

    def set_models(self, models: Sequence[str]) -> None:
        """Offer these model ids in the pin selector."""
        select = self.query_one("#override-model", Select)
        current = select.value
        select.set_options([(model, model) for model in models])
        if isinstance(current, str) and current in models:
            select.value = current

    def problems(self) -> list[str]:
        """What is wrong with the typed fields, one sentence each naming the fix."""
        found = []
        for field_id, name in (
            ("#override-cost", "Cost priority"),
            ("#override-performance", "Performance priority"),
        ):
            text = self.query_one(field_id, Input).value.strip()
            if text and _float_or_none(text) is None:
                found.append(f"{name} must be a number from 0 to 1 (got {text!r}).")
        text = self.query_one("#override-max-tokens", Input).value.strip()
        if text and _int_or_none(text) is None:
            found.append(f"Max tokens must be a whole number of at least 1 (got {text!r}).")
        return found

    def values(self) -> RequestOverrides:
        """The overrides for the next request; blank or invalid fields mean "default"."""
        select = self.query_one("#override-model", Select)
        model = select.value if isinstance(select.value, str) else None
        return RequestOverrides(
            model=model,
            cost_priority=_float_or_none(self.query_one("#override-cost", Input).value),
            performance_priority=_float_or_none(
                self.query_one("#override-performance", Input).value
            ),
            max_tokens=_int_or_none(self.query_one("#override-max-tokens", Input).value),
        )
