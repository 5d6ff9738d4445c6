"""The main dashboard: prompt, context and overrides; routing; conversation; budgets and charts.

This screen turns gateway events into widget updates. It holds no routing or accounting logic:
the gateway decides, records and reports; the screen only shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import MountError
from textual.widgets import Header, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from devflow_tui.errors import DevflowError
from devflow_tui.tui.gateway_port import (
    STREAM_GROUP,
    DashboardGateway,
    catalog_models,
    dashboard_report,
)
from devflow_tui.tui.messages import (
    ChartsLoaded,
    CreditsLoaded,
    GatewayEventPosted,
    RequestEnded,
)
from devflow_tui.tui.widgets.budget_gauges import BudgetGauges
from devflow_tui.tui.widgets.context_list import ContextList, PreviewItem
from devflow_tui.tui.widgets.conversation import (
    AnswerBlock,
    Conversation,
    SavedTurn,
    code_blocks,
)
from devflow_tui.tui.widgets.demo_indicator import DemoIndicator
from devflow_tui.tui.widgets.fit_footer import FitFooter
from devflow_tui.tui.widgets.latency_view import LatencyView
from devflow_tui.tui.widgets.overrides import Overrides
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from devflow_tui.tui.widgets.routing_pane import RoutingPane

if TYPE_CHECKING:
    from devflow_tui.accounting.reports import Report
    from devflow_tui.gateway.events import BudgetView, GatewayEvent, RequestOutcome
    from devflow_tui.gateway.pipeline import GatewayRequest
    from devflow_tui.openrouter.wire import ChatMessage
    from devflow_tui.tui.app import DevflowApp
    from devflow_tui.tui.gateway_port import Prepared


def unusable_specs(project: Path, specs: list[str]) -> dict[str, str]:
    """Each attached spec (path, glob, `claude:<session>`) that cannot be used on its own, with
    why: the one that made counting the context fail (blocking; a thread worker calls it)."""
    from devflow_tui.context.gather import gather_context

    unusable: dict[str, str] = {}
    for spec in specs:
        session = (spec.removeprefix("claude:") or "latest") if spec.startswith("claude:") else None
        try:
            gather_context(project, claude_session=session, context_paths=[] if session else [spec])
        except DevflowError as exc:
            unusable[spec] = exc.message
    return unusable


class DashboardScreen(Screen[None]):
    """The screen the user lives in."""

    app: DevflowApp

    def __init__(self, *, claude_session: str | None = None) -> None:
        super().__init__(id="dashboard")
        # The charts show the accounting report for this window (`devflow report --since`).
        self.chart_window = "all"
        self.report: Report | None = None  # the charts' report, once loaded
        self._claude_session = claude_session
        self.turns: list[ChatMessage] = []  # the conversation so far, sent as history
        # None until the gateway creates the conversation in the store on the first request.
        self.conversation_id: str | None = None
        self.current: AnswerBlock | None = None
        self.last_outcome: RequestOutcome | None = None  # the last finished answer
        self._stream_worker: Worker[None] | None = None
        self._ready_gateway: DashboardGateway | None = None
        self._composed = False  # set by on_mount; gateway_ready waits for it
        self.queued: list[str] = []  # prompts typed while an answer streamed, sent in order
        # Set once the start-up reads have been shown (tests and snapshots wait for them);
        # history_loaded: the charts' first report.
        self.history_loaded = False
        self.credits_loaded = False

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="◆")
        yield DemoIndicator(id="demo-indicator")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield ContextList(id="context")
                yield Overrides(id="overrides")
            with Vertical(id="center"):
                yield Conversation(id="conversation")
                yield PromptEditor(id="prompt")
            with Vertical(id="right"):
                yield RoutingPane(id="routing")
                yield BudgetGauges(id="budgets", thresholds=self.app.settings.budget.thresholds)
                with TabbedContent(id="charts"):
                    with TabPane("Latency", id="tab-latency"):
                        yield LatencyView(self.chart_window, id="chart-latency")
                    # The plotext charts are mounted after the first frame (see on_mount).
                    yield TabPane("Tokens/s", id="tab-throughput")
                    yield TabPane("Spend", id="tab-spend")
        yield FitFooter(compact=True)

    def on_mount(self) -> None:
        if not self.children:
            return  # the app left before the screen was composed (a signal as it started)
        if self._claude_session:
            self.query_one(ContextList).add_spec(f"claude:{self._claude_session}")
        self.query_one(PromptEditor).focus()
        self._composed = True
        if self._ready_gateway is not None:
            self._fill_from_gateway(self._ready_gateway)
        self.call_after_refresh(self._mount_charts)

    async def _mount_charts(self) -> None:
        """The tokens/s and spend charts: plotext loads after the first frame, not before it."""
        from devflow_tui.tui.widgets.latency_charts import SpendChart, ThroughputChart

        charts = (
            ("#tab-throughput", ThroughputChart(self.report, id="chart-throughput")),
            ("#tab-spend", SpendChart(self.report, id="chart-spend")),
        )
        for pane_id, chart in charts:
            pane = next(self.query(pane_id).results(TabPane), None)
            if pane is None or not pane.is_attached:
                return  # the app quit before the first frame's follow-up work ran
            try:
                await pane.mount(chart)
            except MountError:
                return  # ... or while it ran

    # ------------------------------------------------------------ gateway lifecycle

    def gateway_ready(self, gateway: DashboardGateway) -> None:
        """Fill the panes that depend on the gateway; slow reads go to workers.

        Under load the gateway can open before this screen has composed its widgets: then
        `on_mount` fills the panes (returning here would leave them "connecting…" forever)."""
        self._ready_gateway = gateway
        if self._composed:
            self._fill_from_gateway(gateway)

    def _fill_from_gateway(self, gateway: DashboardGateway) -> None:
        if not self.query(DemoIndicator):
            return  # the app is closing (the gateway opened after the screen went away)
        indicator = self.query_one(DemoIndicator)
        if gateway.demo:
            indicator.show_demo()
        else:
            indicator.show_live(gateway.settings.base_url)
        self.query_one(Overrides).set_models([m.id for m in catalog_models(gateway.catalog)])
        self.refresh_budgets()
        self.refresh_charts()
        self._load_credits()
        self._count_context()

    def gateway_unavailable(self, message: str) -> None:
        for indicator in self.query(DemoIndicator):  # none once the app is closing
            indicator.show_offline(message)

    def refresh_budgets(self, views: list[BudgetView] | None = None) -> None:
        gateway = self.app.gateway
        if gateway is None:
            return
        if views is None:
            try:
                views = gateway.budget_status()
            except DevflowError as exc:
                self.notify(exc.message, title="Budgets", severity="warning")
                return
        self.run_worker(self.query_one(BudgetGauges).show_budgets(views), group="budgets")

    def refresh_charts(self) -> None:
        """Load the charts' report again: after a request ends (here or in compare mode) and
        when the window changes; never per token."""
        self._load_charts(self.chart_window)

    @work(thread=True, group="charts", exclusive=True)
    def _load_charts(self, window: str) -> None:
        """The accounting report for `window`, the one computation `devflow report` makes, built
        from the store's rollups without blocking the event loop."""
        gateway = self.app.gateway
        if gateway is None:
            return
        try:
            report = dashboard_report(gateway, since=window, now=gateway.store.clock())
        except Exception as exc:  # a locked/corrupt DB must not take the dashboard down
            self.app.call_from_thread(
                self.notify, f"Could not read history: {exc}", severity="warning"
            )
            return
        if not get_current_worker().is_cancelled:  # a newer load replaced this one
            self.post_message(ChartsLoaded(report))

    def on_latency_view_window_changed(self, message: LatencyView.WindowChanged) -> None:
        self.chart_window = message.window
        self.refresh_charts()

    def on_context_list_changed(self, message: ContextList.Changed) -> None:
        self._count_context()

    def recount_context(self) -> None:
        """Count the next request's context again (a note was added, for example)."""
        self._count_context()

    @work(thread=True, group="context-preview", exclusive=True)
    def _count_context(self) -> None:
        """Count what the next request would carry, before it is sent (files, session, notes)."""
        gateway = self.app.gateway
        context = next(self.query(ContextList).results(), None)
        if gateway is None or context is None:
            return
        from devflow_tui.context.gather import gather_context

        items: list[PreviewItem] = []
        error = None
        unusable: dict[str, str] = {}
        project = (self.app.project_dir or Path.cwd()).resolve()
        try:
            gathered = gather_context(
                project,
                claude_session=context.claude_session,
                context_paths=context.file_specs,
                notes=gateway.store,
            )
            items = [PreviewItem(s.name, s.tokens, s.refused) for s in gathered.sources]
        except DevflowError as exc:
            error = exc.message
            unusable = unusable_specs(project, context.specs)
        except Exception as exc:  # a preview must never take the dashboard down
            error = f"could not count: {exc}"
        self.app.call_from_thread(context.show_preview, items, error, unusable)

    def on_charts_loaded(self, message: ChartsLoaded) -> None:
        report = message.report
        if report.since != self.chart_window:
            return  # read for a window the user has since left
        self.report = report
        from devflow_tui.tui.widgets.latency_charts import WindowChart

        for chart in self.query(WindowChart):
            chart.show(report)
        self.query_one(LatencyView).show(report)
        if not self.history_loaded:
            self.history_loaded = True
            self.call_after_refresh(self.app.settle_memory)

    @work(group="credits", exclusive=True)
    async def _load_credits(self) -> None:
        gateway = self.app.gateway
        if gateway is None:
            return
        try:
            key, credits = await gateway.credits()
        except Exception:  # credits are optional decoration; never an error for the user
            key, credits = None, None
        self.post_message(CreditsLoaded(key, credits))

    def on_credits_loaded(self, message: CreditsLoaded) -> None:
        gateway = self.app.gateway
        simulated = gateway is not None and gateway.demo
        self.query_one(BudgetGauges).show_credits(message.key, message.credits, simulated=simulated)
        self.credits_loaded = True

    # ------------------------------------------------------------ sending

    async def on_prompt_editor_submitted(self, message: PromptEditor.Submitted) -> None:
        """Take the typed prompt: send it, queue it behind a streaming answer, or keep it in
        the editor with a message when it cannot be sent (the text is never thrown away)."""
        problems = self.query_one(Overrides).problems()
        if problems:
            self.notify("\n".join(problems), title="Not sent", severity="error")
            return
        if self.app.gateway is None:
            self.app.not_connected()
            return
        message.editor.clear()
        if self.streaming or self.queued:
            self.queued.append(message.text)
            self._show_queue()
            self.notify("Queued: it is sent when the current answer ends.")
            return
        await self.send_prompt(message.text)

    def _show_queue(self) -> None:
        editor = self.query_one(PromptEditor)
        count = len(self.queued)
        editor.border_subtitle = f"{count} queued · sent when the answer ends" if count else ""

    async def _send_queued(self) -> None:
        """Send the next queued prompt once the stream worker has really finished."""
        worker = self._stream_worker
        if worker is not None and not worker.is_finished:
            with contextlib.suppress(Exception):
                await worker.wait()
        if self.queued and not self.streaming:
            prompt = self.queued.pop(0)
            self._show_queue()
            await self.send_prompt(prompt)

    async def send_prompt(
        self, prompt: str, *, prepared: Prepared | None = None, **extra: Any
    ) -> None:
        """Start one request: show the turn, then stream it in an async worker. `extra` adds
        request fields (an escalation's `escalation_of` and `stronger_than`); `prepared`: the
        request already prepared (an escalation's, with `extra` in it), sent as it is."""
        gateway = self.app.gateway
        if gateway is None:
            self.app.not_connected()
            return
        if self.streaming:
            self.notify("A request is streaming; press esc to cancel it first.")
            return
        overrides = self.query_one(Overrides).values()
        if prepared is not None:
            request = prepared.request
        else:
            request = self._request(prompt, list(self.turns), **extra)
        routing = self.query_one(RoutingPane)
        routing.reset()
        if overrides.model:
            routing.show_pinned(overrides.model)
        local_id = uuid.uuid4().hex
        self.current = await self.query_one(Conversation).add_turn(local_id, prompt)
        self._stream_worker = self._stream(gateway, request, local_id, prepared)
        self.refresh_bindings()  # esc (cancel) in the footer, F12 out

    def _request(self, prompt: str, history: list[ChatMessage], **extra: Any) -> GatewayRequest:
        """The request for `prompt` with the overrides and the context as they are now."""
        overrides = self.query_one(Overrides).values()
        context = self.query_one(ContextList)
        return self.app.build_request(
            prompt=prompt,
            history=history,
            model=overrides.model,
            cost_priority=overrides.cost_priority,
            performance_priority=overrides.performance_priority,
            max_tokens=overrides.max_tokens,
            conversation_id=self.conversation_id,
            context_specs=context.file_specs,
            claude_session=context.claude_session,
            project_dir=self.app.project_dir,
            **extra,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._stream_worker and event.worker.is_finished:
            self.refresh_bindings()  # F12 (stronger) back in the footer, esc out

    @property
    def last_prompt(self) -> str:
        """The last prompt sent in this conversation ("" before the first)."""
        prompts = [t.content for t in self.turns if t.role == "user"]
        return str(prompts[-1]) if prompts else ""

    @property
    def streaming(self) -> bool:
        worker = self._stream_worker
        return worker is not None and not worker.is_finished

    @work(exclusive=True, group=STREAM_GROUP)
    async def _stream(
        self,
        gateway: DashboardGateway,
        request: GatewayRequest,
        local_id: str,
        prepared: Prepared | None,
    ) -> None:
        """Run the request; events come back as messages, the outcome as RequestEnded."""
        from devflow_tui.gateway.events import Failed

        recorded: list[RequestOutcome] = []

        def on_event(event: GatewayEvent) -> None:
            if isinstance(event, Failed):
                recorded.append(event.outcome)  # a cancellation's recorded outcome, see below
            self.post_message(GatewayEventPosted(event))

        try:
            outcome = await gateway.run(request, on_event, prepared=prepared)
        except asyncio.CancelledError:
            # The gateway recorded the cancelled request (model, cost, tokens, times) and
            # reported it as Failed("cancelled") before passing the cancellation on.
            ended = recorded[-1] if recorded else None
            self.post_message(RequestEnded(local_id, ended, cancelled=True))
            raise
        except DevflowError as exc:
            self.post_message(
                RequestEnded(
                    local_id, None, error=exc.message, hint=exc.hint, category=str(exc.category)
                )
            )
            return
        except Exception as exc:  # the app never crashes on a provider or network surprise
            self.post_message(
                RequestEnded(local_id, None, error=f"Unexpected error: {exc}", category="internal")
            )
            return
        self.post_message(RequestEnded(local_id, outcome))

    def _adopt_conversation(self, outcome: RequestOutcome) -> None:
        # The gateway creates the stored conversation on the first request; later requests
        # continue it.
        if outcome.conversation_id:
            self.conversation_id = outcome.conversation_id

    # ------------------------------------------------------------ events

    async def on_gateway_event_posted(self, message: GatewayEventPosted) -> None:
        from devflow_tui.gateway.events import (
            AttemptFailed,
            AttemptStarted,
            BudgetAlert,
            CacheHit,
            ChunkReceived,
            Completed,
            Failed,
            FirstToken,
            RoutingDecided,
        )

        event = message.event
        answer = self.current
        routing = self.query_one(RoutingPane)
        if isinstance(event, ChunkReceived):
            if answer is not None:
                await answer.append(event.text)
        elif isinstance(event, RoutingDecided):
            routing.show_decision(event)
            if answer is not None:
                answer.model = event.model
                answer.set_label(f"{event.model} · {event.task_type}/{event.complexity}…")
        elif isinstance(event, AttemptStarted):
            routing.attempt_started(event)
            if answer is not None:
                answer.model = event.model
                answer.set_label(f"{event.model} · attempt {event.attempt}…")
        elif isinstance(event, AttemptFailed):
            routing.attempt_failed(event)
        elif isinstance(event, FirstToken):
            routing.first_token(event)
            if answer is not None:
                answer.model = event.model
                answer.set_label(f"{event.model} · streaming…")
        elif isinstance(event, CacheHit):
            routing.cache_hit(event)
        elif isinstance(event, BudgetAlert):
            text = event.message or (
                f"Budget {event.budget}: {event.threshold:.0%} reached "
                f"(${event.spent_usd} of ${event.limit_usd})."
            )
            self.notify(
                text, title="Budget", severity="warning" if event.threshold < 1 else "error"
            )
        elif isinstance(event, Failed):
            if event.category == "cancelled":
                # The worker reports the cancellation itself, with this outcome (and adopts
                # its conversation only if the screen has not moved on to another one).
                return
            self._adopt_conversation(event.outcome)
            refused = event.category == "budget"
            if refused:
                routing.refused(event.message)
            else:
                routing.failed(event.category, event.message, event.hint)
            self.notify(
                event.message + (f"\n{event.hint}" if event.hint else ""),
                title="Refused: over budget" if refused else f"Request failed ({event.category})",
                severity="error",
            )
        elif isinstance(event, Completed):
            self._adopt_conversation(event.outcome)
            routing.completed(event.outcome)

    async def on_request_ended(self, message: RequestEnded) -> None:
        await self._show_ended(message)
        if self.queued:
            self.call_later(self._send_queued)

    async def _show_ended(self, message: RequestEnded) -> None:
        answer = self.current
        routing = self.query_one(RoutingPane)
        if message.cancelled:
            routing.log_line("cancelled by user", "yellow")
            if answer is None:  # the conversation was left (new or reopened): only the books
                self.refresh_budgets()
                self.refresh_charts()
            elif message.outcome is not None:
                await self._finish(message.outcome)  # its full footer, marked cancelled
            else:  # cancelled before the gateway recorded anything
                await answer.mark_cancelled()
                self._remember(answer.prompt, answer.text)
            return
        if message.outcome is not None:
            await self._finish(message.outcome)
            return
        self.refresh_budgets()
        self.refresh_charts()  # a refusal or an error is a request of the report too
        text = message.error or "The request failed."
        if message.category == "budget":
            routing.refused(text)
        else:
            routing.failed(message.category or "error", text, message.hint)
        self.notify(
            text + (f"\n{message.hint}" if message.hint else ""),
            title="Refused" if message.category == "budget" else "Request failed",
            severity="error",
        )
        if answer is not None:
            await answer.mark_failed("refused" if message.category == "budget" else text)

    async def _finish(self, outcome: RequestOutcome) -> None:
        self._adopt_conversation(outcome)
        self.last_outcome = outcome
        answer = self.current
        if answer is not None:
            await answer.finish(outcome)
            self._remember(answer.prompt, answer.text or outcome.text)
        if outcome.context:
            self.query_one(ContextList).show_injected(outcome.context)
        # Ask the gateway rather than trusting outcome.budget: it is read after the store settled.
        self.refresh_budgets()
        self.refresh_charts()

    def _remember(self, prompt: str, text: str) -> None:
        from devflow_tui.openrouter.wire import ChatMessage

        self.turns.append(ChatMessage(role="user", content=prompt))
        if text:
            self.turns.append(ChatMessage(role="assistant", content=text))

    # ------------------------------------------------------------ actions

    def cancel_stream(self) -> bool:
        """Cancel the running stream, if any; the partial answer stays on screen."""
        if self._stream_worker is not None and not self._stream_worker.is_finished:
            self._stream_worker.cancel()
            return True
        return False

    async def escalate(self) -> None:
        """Re-ask the last prompt with a stronger model than the one that answered it; the new
        request is recorded as an escalation of the first (the report's escalation rate)."""
        answer = self.query_one(Conversation).last_answer
        first = self.last_outcome
        # F12 is off while a stream runs, but the answer is still being settled for a moment
        # after it (and the turn shows before the stream starts): not "nothing to escalate".
        if self.streaming or (answer is not None and answer.state == "streaming"):
            self.notify("The answer is still arriving: press F12 once it has ended.")
            return
        if answer is None:
            self.notify("Nothing to escalate yet: ask something first.")
            return
        if answer.state in {"failed", "cancelled"} or first is None or first.status != "ok":
            self.notify("The last prompt got no answer to escalate: ctrl+r sends it again.")
            return
        if not first.model:
            return  # unreachable: an answer that ended well names its model
        escalation = {
            "escalation_of": first.request_id,
            "stronger_than": first.model,
            "answered_complexity": first.complexity,
        }
        history = self.turns
        if history and history[-1].role == "assistant":
            history = history[:-2]  # the first answer stays on screen, not in the history
        gateway = self.app.gateway
        prepared = None
        if gateway is not None:
            # An escalation with nowhere to go is a notice, not a request that failed: the
            # decision is looked at before anything is shown, then sent as it was prepared.
            request = self._request(answer.prompt, list(history), **escalation)
            try:
                prepared = await asyncio.to_thread(gateway.prepare, request)
            except DevflowError:
                prepared = None  # the request itself will say what is wrong
            if prepared is not None and prepared.decision.nothing_stronger:
                from devflow_tui.gateway.unroutable import nothing_stronger_error

                task = first.task_type or "this"
                where = gateway.restriction(task)[1]
                error = nothing_stronger_error(prepared.decision, first.model, task, where)
                self.notify(str(error), title="Nothing stronger", severity="warning")
                return
        self.turns = history
        self.query_one(RoutingPane).log_line(f"escalating from {first.model}")
        await self.send_prompt(answer.prompt, prepared=prepared, **escalation)

    async def retry(self) -> None:
        """Send the last prompt again (after a cut-off, cancelled or failed answer)."""
        answer = self.query_one(Conversation).last_answer
        if answer is None:
            self.notify("Nothing to retry yet.")
            return
        # The earlier attempt stays visible but is not sent as history twice.
        if self.turns and self.turns[-1].role == "assistant":
            self.turns = self.turns[:-2]
        elif self.turns and self.turns[-1].role == "user":
            self.turns = self.turns[:-1]
        await self.send_prompt(answer.prompt)

    def copy_answer(self) -> None:
        """Copy the selected message (see Conversation), or else the last answer."""
        conversation = self.query_one(Conversation)
        selected = conversation.selected
        if selected is not None:
            conversation.action_copy_selected()
            return
        answer = conversation.last_answer
        if answer is None or not answer.text:
            self.notify("No answer to copy yet.")
            return
        self.app.copy_to_clipboard(answer.text)
        self.notify("Answer copied to the clipboard.")

    def on_conversation_copy_requested(self, message: Conversation.CopyRequested) -> None:
        if not message.text:
            self.notify(f"The selected {message.what} is empty.")
            return
        self.app.copy_to_clipboard(message.text)
        self.notify(f"Selected {message.what} copied to the clipboard.")

    def copy_code(self) -> None:
        answer = self.query_one(Conversation).last_answer
        blocks = code_blocks(answer.text) if answer is not None else []
        if not blocks:
            self.notify("The last answer has no code block.")
            return
        self.app.copy_to_clipboard(blocks[-1])
        self.notify(f"Code block copied ({len(blocks[-1].splitlines())} lines).")

    async def new_conversation(self) -> None:
        self.cancel_stream()
        self.turns = []
        self.conversation_id = None
        self.current = None
        self.last_outcome = None
        await self.query_one(Conversation).clear_turns()
        self.query_one(RoutingPane).show_idle()

    async def open_conversation(self, conversation_id: str, turns: list[SavedTurn]) -> None:
        """Continue a saved conversation: show its turns and send them as history."""
        from devflow_tui.openrouter.wire import ChatMessage

        self.cancel_stream()
        self.conversation_id = conversation_id
        self.current = None
        self.turns = [
            ChatMessage(role="user" if t.role == "user" else "assistant", content=t.content)
            for t in turns
        ]
        # The routing pane described the previous conversation's last request.
        self.query_one(RoutingPane).show_idle()
        await self.query_one(Conversation).load(turns)
