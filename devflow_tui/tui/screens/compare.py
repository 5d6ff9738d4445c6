"""Compare mode: one prompt sent to 2-4 models at once, the answers streamed side by side.

Each column shows, live, the time to first token, tokens/s, the time so far, tokens and (at the
end) the cost; when every column has ended, the fastest and the cheapest answer are marked.
Every answer is an ordinary gateway request (routed to the pinned model, recorded, priced and
counted by the budgets) tagged with the comparison's id, so the charts and reports include it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Input, Markdown, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import Worker

from devflow_tui.errors import DevflowError
from devflow_tui.gateway.events import (
    ChunkReceived,
    Failed,
    FirstToken,
    GatewayEvent,
    RequestOutcome,
)
from devflow_tui.tui.fit import BoundaryWrapped
from devflow_tui.tui.gateway_port import COMPARE_GROUP, DashboardGateway, catalog_models
from devflow_tui.tui.money import ms, usd
from devflow_tui.tui.stream_segments import ThrottledStream
from devflow_tui.tui.widgets.conversation import answer_parser
from devflow_tui.tui.widgets.fit_footer import FitFooter

if TYPE_CHECKING:
    from devflow_tui.gateway.pipeline import GatewayRequest
    from devflow_tui.tui.app import DevflowApp

MIN_MODELS = 2
MAX_MODELS = 4
CHARS_PER_TOKEN = 4  # live estimate only; the real count replaces it when the answer ends


@dataclass
class ColumnFigures:
    """What one column shows; times in milliseconds since the request started."""

    ttft_ms: float | None = None
    elapsed_ms: float = 0.0
    chars: int = 0
    outcome: RequestOutcome | None = None

    @property
    def tokens(self) -> int:
        if self.outcome is not None:
            return self.outcome.completion_tokens
        return self.chars // CHARS_PER_TOKEN

    @property
    def tokens_per_s(self) -> float | None:
        if self.outcome is not None and self.outcome.tokens_per_s:
            return self.outcome.tokens_per_s
        if self.ttft_ms is None or self.elapsed_ms <= self.ttft_ms:
            return None
        return self.tokens / ((self.elapsed_ms - self.ttft_ms) / 1000)

    @property
    def latency_ms(self) -> float:
        if self.outcome is not None and self.outcome.latency_ms is not None:
            return self.outcome.latency_ms
        return self.elapsed_ms

    def text(self) -> str:
        live = self.outcome is None
        approx = "~" if live else ""
        rate = self.tokens_per_s
        parts = [
            f"ttft {ms(self.outcome.ttft_ms if self.outcome else self.ttft_ms)}",
            f"{approx}{rate:,.0f} tok/s" if rate else "— tok/s",
            f"total {ms(self.latency_ms)}",
            f"{approx}{self.tokens:,} tok",
            usd(self.outcome.cost_usd) if self.outcome is not None else "cost at the end",
        ]
        return " · ".join(parts)


class CompareColumn(Vertical):
    """One model's answer in a comparison."""

    def __init__(self, model: str, index: int) -> None:
        super().__init__(classes="compare-column", id=f"compare-column-{index}")
        self.model = model
        self.index = index
        self.state = "waiting"  # then streaming, done, failed or cancelled
        self.text = ""
        self.figures = ColumnFigures()
        self.error: str | None = None
        self.marks: list[str] = []
        self._stream: ThrottledStream | None = None

    def compose(self) -> ComposeResult:
        # Wrapped after a separator ("meta-llama/" / "llama-3.3-70b-instruct"), never mid-name.
        yield Static(BoundaryWrapped(self.model), classes="compare-model", markup=False)
        yield Static("waiting…", classes="compare-figures", markup=False)
        with VerticalScroll(classes="compare-scroll"):
            yield Markdown(classes="compare-body", parser_factory=answer_parser)
        yield Static("", classes="compare-status", markup=False)

    @property
    def figures_text(self) -> str:
        return str(self.query_one(".compare-figures", Static).content)

    @property
    def status_text(self) -> str:
        return str(self.query_one(".compare-status", Static).content)

    def show_event(self, event: GatewayEvent, elapsed_ms: float) -> None:
        self.figures.elapsed_ms = elapsed_ms
        if isinstance(event, FirstToken):
            self.figures.ttft_ms = elapsed_ms
            self.state = "streaming"
        elif isinstance(event, ChunkReceived) and event.text:
            self.state = "streaming"
            self.text += event.text
            self.figures.chars += len(event.text)
            if self._stream is None:
                self._stream = ThrottledStream(self.query_one(".compare-body", Markdown))
            self._stream.write(event.text)
            # Follow the answer as it grows (not `anchor()`: that bottom-aligns a short one).
            self.query_one(".compare-scroll", VerticalScroll).scroll_end(animate=False)
        self.tick(elapsed_ms)

    def tick(self, elapsed_ms: float) -> None:
        """Refresh the live figures (called a few times a second while the answer streams)."""
        if self.state in {"waiting", "streaming"}:
            self.figures.elapsed_ms = elapsed_ms
        self.query_one(".compare-figures", Static).update(self.figures.text())

    async def end(self, outcome: RequestOutcome | None, error: str | None = None) -> None:
        """The request ended: an outcome (complete or not), or an error before any outcome."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()
        self.figures.outcome = outcome
        if outcome is not None and outcome.text and not self.text:
            self.text = outcome.text
            await self.query_one(".compare-body", Markdown).update(outcome.text)
        ok = outcome is not None and outcome.status == "ok" and outcome.complete
        if ok:
            self.state = "done"
        elif outcome is not None and outcome.status == "cancelled":
            self.state = "cancelled"
        else:
            self.state = "failed"
            self.error = error or (outcome.error_message if outcome else None) or "failed"
        self.tick(self.figures.elapsed_ms)
        self.show_status()
        # Followed to the end while streaming; read from the top once it has ended.
        self.query_one(".compare-scroll", VerticalScroll).scroll_home(animate=False)

    def mark(self, *marks: str) -> None:
        self.marks = list(marks)
        self.show_status()

    def show_status(self) -> None:
        served = self.figures.outcome.model if self.figures.outcome else None
        parts = []
        if self.marks:
            parts.append(" · ".join(self.marks))
        if self.state == "failed":
            parts.append(f"FAILED: {self.error}")
        elif self.state == "cancelled":
            parts.append("CANCELLED")
        if served and served != self.model:
            parts.append(f"served by {served}")
        self.query_one(".compare-status", Static).update(" · ".join(parts))
        self.set_class(self.state == "failed", "-failed")
        self.set_class(bool(self.marks), "-winner")


class CompareEvent(Message):
    """A gateway event of one column's request."""

    def __init__(self, index: int, event: GatewayEvent, elapsed_ms: float) -> None:
        super().__init__()
        self.index = index
        self.event = event
        self.elapsed_ms = elapsed_ms


class CompareEnded(Message):
    """One column's request ended."""

    def __init__(self, index: int, outcome: RequestOutcome | None, error: str | None) -> None:
        super().__init__()
        self.index = index
        self.outcome = outcome
        self.error = error


def winners(columns: list[CompareColumn]) -> tuple[CompareColumn | None, CompareColumn | None]:
    """The fastest (total latency) and the cheapest (known cost) of the answers that completed."""
    done = [c for c in columns if c.state == "done" and c.figures.outcome is not None]
    fastest = min(done, key=lambda c: c.figures.latency_ms, default=None)
    priced = [c for c in done if c.figures.outcome and c.figures.outcome.cost_usd is not None]

    def cost(column: CompareColumn) -> Decimal:
        outcome = column.figures.outcome
        return outcome.cost_usd if outcome and outcome.cost_usd is not None else Decimal(0)

    cheapest = min(priced, key=cost, default=None)
    return fastest, cheapest


class CompareScreen(Screen[None]):
    """Pick 2-4 models (the router's top candidates are ticked), type a prompt, enter."""

    app: DevflowApp

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back / cancel"),
        Binding("f8", "back", "Back", show=False),
        Binding("ctrl+s", "run", "Run", priority=True),
        Binding("ctrl+k", "toggle_models", "Models", priority=True),
    ]

    def __init__(self, prompt: str = "", *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(id="compare")
        self.prompt = prompt
        self.clock = clock
        self.comparison: str | None = None
        self.columns: list[CompareColumn] = []
        self.suggested: list[str] = []
        self._started = 0.0
        self._ticker: Timer | None = None
        self._workers: list[Worker[None]] = []

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        with Vertical(id="compare-setup"):
            yield Input(self.prompt, placeholder="prompt to compare…", id="compare-prompt")
            yield Static("", id="compare-hint", markup=False)
            yield SelectionList[str](id="compare-models")
        yield Horizontal(id="compare-columns")
        yield FitFooter(compact=True)

    def on_mount(self) -> None:
        self._offer_models()
        self.query_one("#compare-prompt", Input).focus()

    @property
    def gateway(self) -> DashboardGateway | None:
        return self.app.gateway

    def _offer_models(self) -> None:
        """Every catalog model; the router's top candidates for the prompt are ticked."""
        gateway = self.gateway
        if gateway is None:
            error = self.app.gateway_error
            self._hint(f"Not connected: {error}" if error else "Still connecting; come back soon.")
            return
        selection = self.query_one("#compare-models", SelectionList)
        selection.clear_options()
        selection.add_options(  # Text: ids such as `x:free:` are shown literally
            [Selection(Text(m.id), m.id, False) for m in catalog_models(gateway.catalog)]
        )
        self._hint()
        if self.prompt.strip():
            self._suggest(gateway, self.prompt)

    @work(thread=True, exclusive=True, group="compare-suggest")
    def _suggest(self, gateway: DashboardGateway, prompt: str) -> None:
        """Ask the router (context, classification, ranking: blocking work) for its choice."""
        from devflow_tui.gateway.pipeline import GatewayRequest

        try:
            prepared = gateway.prepare(GatewayRequest(prompt=prompt, project_dir=self._project))
        except DevflowError:
            return  # no suggestion; the user picks the models
        top = [c.model.id for c in prepared.decision.candidates[: MAX_MODELS - 1]]
        self.app.call_from_thread(self._tick_suggested, top)

    def _tick_suggested(self, models: list[str]) -> None:
        selection = self.query_one("#compare-models", SelectionList)
        if selection.selected:
            return  # the user has started choosing
        self.suggested = models
        for model in models:
            selection.select(model)
        self._hint()

    @property
    def _project(self) -> Path | None:
        return self.app.project_dir

    def _hint(self, text: str | None = None) -> None:
        chosen = len(self.query_one("#compare-models", SelectionList).selected)
        default = (
            f"{chosen} chosen (pick {MIN_MODELS}-{MAX_MODELS}; the router's top candidates are "
            "ticked) · space toggles · enter or ctrl+s compares · ctrl+k shows or hides the "
            "list · esc goes back"
        )
        self.query_one("#compare-hint", Static).update(text or default)

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        self._hint()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.prompt = event.value

    @property
    def running(self) -> bool:
        # A worker finishes before its CompareEnded message is handled: a column still waiting
        # or streaming means the comparison has not ended yet.
        return any(not worker.is_finished for worker in self._workers) or any(
            c.state in {"waiting", "streaming"} for c in self.columns
        )

    def action_run(self) -> None:
        """Send the prompt to every chosen model at once."""
        gateway = self.gateway
        prompt = self.query_one("#compare-prompt", Input).value.strip()
        models = list(self.query_one("#compare-models", SelectionList).selected)
        if gateway is None:
            self.app.not_connected()
            return
        if self.running:
            self.notify("A comparison is running; esc cancels it.")
            return
        if not prompt:
            self.notify("Type the prompt to compare first.", severity="warning")
            return
        if not MIN_MODELS <= len(models) <= MAX_MODELS:
            self.notify(
                f"Choose {MIN_MODELS} to {MAX_MODELS} models (now {len(models)}).",
                title="Compare",
                severity="warning",
            )
            return
        self.run_worker(self._start(gateway, prompt, models), group="compare-start")

    async def _start(self, gateway: DashboardGateway, prompt: str, models: list[str]) -> None:
        from devflow_tui.gateway.pipeline import GatewayRequest

        self.comparison = uuid.uuid4().hex
        holder = self.query_one("#compare-columns", Horizontal)
        await holder.remove_children()
        self.columns = [CompareColumn(model, i) for i, model in enumerate(models)]
        await holder.mount_all(self.columns)
        self.add_class("-running", "-compared")
        self._started = self.clock()
        self._ticker = self.set_interval(0.2, self._tick)
        self._workers = []
        for index, model in enumerate(models):
            request = GatewayRequest(
                prompt=prompt,
                model=model,
                use_cache=False,  # a cached answer would say nothing about the model's speed
                comparison=self.comparison,
                project_dir=self._project,
            )
            worker = self.run_worker(
                self._one(gateway, index, request), group=COMPARE_GROUP, exit_on_error=False
            )
            self._workers.append(worker)

    async def _one(self, gateway: DashboardGateway, index: int, request: GatewayRequest) -> None:
        recorded: list[RequestOutcome] = []

        def on_event(event: GatewayEvent) -> None:
            if isinstance(event, Failed):
                recorded.append(event.outcome)  # a cancellation's recorded outcome, see below
            self.post_message(CompareEvent(index, event, self._elapsed()))

        outcome: RequestOutcome | None = None
        error = None
        try:
            outcome = await gateway.run(request, on_event)
        except asyncio.CancelledError:
            # The gateway recorded the cancelled answer (cost, tokens, times) and reported it
            # before passing the cancellation on: the column shows those, as the dashboard.
            ended = recorded[-1] if recorded else None
            self.post_message(CompareEnded(index, ended, "cancelled"))
            raise
        except DevflowError as exc:
            error = exc.message
        except Exception as exc:  # one column's surprise must not end the others
            error = f"Unexpected error: {exc}"
        self.post_message(CompareEnded(index, outcome, error))

    def _elapsed(self) -> float:
        return (self.clock() - self._started) * 1000

    def _tick(self) -> None:
        elapsed = self._elapsed()
        for column in self.columns:
            column.tick(elapsed)

    def on_compare_event(self, message: CompareEvent) -> None:
        event = message.event
        column = self.columns[message.index]
        if isinstance(event, Failed) and event.category == "cancelled":
            return
        column.show_event(event, message.elapsed_ms)

    async def on_compare_ended(self, message: CompareEnded) -> None:
        column = self.columns[message.index]
        if message.error == "cancelled" and message.outcome is None:
            column.state = "cancelled"
            column.show_status()
        else:
            await column.end(message.outcome, message.error)
        self.app.dashboard.refresh_charts()  # every end is recorded, a cancelled one too
        if all(c.state not in {"waiting", "streaming"} for c in self.columns):
            self._all_ended()

    def _all_ended(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        self.remove_class("-running")
        fastest, cheapest = winners(self.columns)
        for column in self.columns:
            marks = []
            if column is fastest:
                marks.append("⚡ fastest")
            if column is cheapest:
                marks.append("$ cheapest")
            column.mark(*marks)
        self.app.dashboard.refresh_budgets()

    def action_toggle_models(self) -> None:
        """Show or hide the model list (hidden once answers are on screen, to give them room)."""
        self.toggle_class("-compared")

    async def action_back(self) -> None:
        """Cancel a running comparison (partial answers stay), or go back to the dashboard."""
        if self.running:
            for worker in self._workers:
                worker.cancel()
            # A request that had not started sends no end of its own.
            for column in self.columns:
                if column.state == "waiting":
                    column.state = "cancelled"
                    column.show_status()
            if not any(c.state == "streaming" for c in self.columns):
                self._all_ended()
            self.notify("Comparison cancelled; the partial answers are kept.")
            return
        self.app.pop_screen()
