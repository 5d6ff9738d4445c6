"""The routing decision as it happens: classification, ranked candidates, then each attempt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from devflow_tui.tui.fit import BoundaryWrapped, wrap_at_boundaries
from devflow_tui.tui.money import ms, usd

IDLE = "Send a prompt to see how it is routed."
MAX_LINES = 200  # the attempts log keeps this many lines

if TYPE_CHECKING:
    from devflow_tui.gateway.events import (
        AttemptFailed,
        AttemptStarted,
        CacheHit,
        CandidateView,
        FirstToken,
        RequestOutcome,
        RoutingDecided,
    )


def candidates_table(candidates: Sequence[CandidateView], width: int = 0) -> Group:
    """The ranked candidates, one line each (score, estimated cost, model) with the reason
    wrapped under it: at any width everything is shown, nothing is cut off. A model id that
    does not fit beside the figures (`width` > 0) goes under them, broken at its separators;
    the reason wraps at words, indented under the figures."""
    lines: list[Text] = [Text("score  est. cost  model — reason", style="bold dim")]
    indent = "       "
    for candidate in candidates:
        line = Text(f"{candidate.score:>5.2f}  {usd(candidate.estimated_cost_usd):>9}  ")
        if width and line.cell_len + len(candidate.model) > width:
            lines.append(line)
            line = Text(wrap_at_boundaries(candidate.model, width), style="bold")
        else:
            line.append(candidate.model, style="bold")
        lines.append(line)
        room = width - len(indent) if width > len(indent) + 8 else 0
        reason = wrap_at_boundaries(candidate.reason, room) if room else candidate.reason
        lines.extend(Text(indent + part, style="dim") for part in reason.split("\n"))
    return Group(*lines)


class CandidatesTable:
    """`candidates_table` laid out for the width it is drawn at (see `BoundaryWrapped`)."""

    def __init__(self, candidates: Sequence[CandidateView]) -> None:
        self.candidates = list(candidates)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield candidates_table(self.candidates, options.max_width)


class RoutingPane(Vertical):
    """Decision summary, candidates table and the attempts log of the current request."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        # Plain copies of what the log shows, for tests and the help of screen readers.
        self.lines: list[str] = []
        self.candidates: list[CandidateView] = []
        self._attempts = Text()  # the attempts log as shown
        self._decision = IDLE  # the decision summary, before it is wrapped to the pane

    def compose(self) -> ComposeResult:
        yield Static("Routing", classes="pane-title")
        yield Static(IDLE, id="routing-decision", markup=False)
        yield Static("", id="routing-candidates")
        # A Static in a scrolling container rather than a RichLog: a RichLog repaints its
        # scrollbar on every layout of the screen, and while an answer streams that drags the
        # whole right column into every frame.
        with VerticalScroll(id="routing-attempts"):
            yield Static("", id="routing-attempts-text")

    @property
    def decision_text(self) -> str:
        return self._decision

    def _show(self, decision: str) -> None:
        """The decision summary, wrapped at spaces and model-id separators when drawn: a
        long id moves or breaks after "vendor/", never in the middle of a name."""
        self._decision = decision
        self.query_one("#routing-decision", Static).update(BoundaryWrapped(decision))

    def _show_candidates(self) -> None:
        table = CandidatesTable(self.candidates)
        self.query_one("#routing-candidates", Static).update(table)

    def show_idle(self) -> None:
        """Back to the empty pane (a new or reopened conversation)."""
        self.reset()
        self._show(IDLE)

    def reset(self) -> None:
        """Clear the pane for a new request."""
        self.lines.clear()
        self._show("Routing…")
        self.candidates = []
        self.query_one("#routing-candidates", Static).update("")
        self._attempts = Text()
        self.query_one("#routing-attempts-text", Static).update(BoundaryWrapped(self._attempts))

    def log_line(self, text: str, style: str | None = None) -> None:
        """Append one line to the attempts log."""
        self.lines.append(text)
        del self.lines[:-MAX_LINES]
        # A Text, not markup: model ids like `x:free:` and brackets are shown as they are.
        lines = self._attempts.split("\n")[-(MAX_LINES - 1) :] if self._attempts else []
        self._attempts = Text("\n").join([*lines, Text(text, style=style or "")])
        self.query_one("#routing-attempts-text", Static).update(BoundaryWrapped(self._attempts))
        self.query_one("#routing-attempts", VerticalScroll).scroll_end(animate=False)

    def show_decision(self, event: RoutingDecided) -> None:
        signals = ", ".join(event.signals) if event.signals else "none"
        # The decision first: the signals can run to several lines, and in a small terminal
        # they pushed the chosen model out of the pane's view.
        lines = [
            f"chosen: {event.model}",
            f"task {event.task_type} · complexity {event.complexity}",
        ]
        # Filters, the budget and an escalation: how many models were ruled out and why, names
        # resolved. Before the fallbacks and signals, which at 80x24 pushed them out of view.
        lines.extend(f"note: {warning}" for warning in event.warnings)
        if event.fallbacks:
            lines.append("fallbacks: " + " → ".join(event.fallbacks))
        lines.append(f"signals: {signals}")
        if event.context_tokens:
            lines.append(f"context: {event.context_tokens:,} tokens")
        self._show("\n".join(lines))
        self.candidates = list(event.candidates)
        self._show_candidates()

    def show_pinned(self, model: str) -> None:
        self._show(f"pinned: {model} (routing skipped)")

    def attempt_started(self, event: AttemptStarted) -> None:
        self.log_line(f"#{event.attempt} → {event.model}")

    def attempt_failed(self, event: AttemptFailed) -> None:
        record = event.record
        status = f"HTTP {record.status}" if record.status else "no response"
        what = record.error or "error"
        if event.next_model is None:
            then = "giving up"
        elif event.next_model == record.model:
            then = "retrying"
        else:
            then = f"falling back to {event.next_model}"
        cooldown = " · model in cooldown" if event.cooldown else ""
        message = f" — {record.message}" if record.message else ""
        self.log_line(f"✗ {record.model}: {what} ({status}){message}; {then}{cooldown}", "red")

    def first_token(self, event: FirstToken) -> None:
        self.log_line(f"first token from {event.model} after {ms(event.ttft_ms)}", "green")

    def cache_hit(self, event: CacheHit) -> None:
        saved = f", saved {usd(event.saved_usd)}" if event.saved_usd is not None else ""
        self.log_line(f"cache hit for {event.model}{saved}", "green")

    def completed(self, outcome: RequestOutcome) -> None:
        self.log_line(
            f"✓ {outcome.model}: {usd(outcome.cost_usd)} · {ms(outcome.latency_ms)}", "green"
        )

    def failed(self, category: str, message: str, hint: str | None = None) -> None:
        self.log_line(f"✗ {category}: {message}" + (f" {hint}" if hint else ""), "red")

    def refused(self, message: str) -> None:
        self._show(f"Refused: {message}")
        self.log_line(f"refused: {message}", "red")
