"""The gateway pipeline: context -> classify -> select -> call with fallback -> record.

One `Gateway` serves the CLI and the dashboard. It emits typed events (gateway.events) as it
goes and always returns a `RequestOutcome`; failures are outcomes too (status and category), so
front ends never need a try/except around it. Only cancellation propagates (CancelledError),
after the partial answer has been recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from devflow_tui.context.notes import project_key
from devflow_tui.errors import BudgetExceededError, DevflowError, ErrorCategory, OpenRouterError
from devflow_tui.gateway.events import (
    AttemptFailed,
    AttemptRecord,
    AttemptStarted,
    BudgetAlert,
    BudgetView,
    CacheHit,
    CandidateView,
    ChunkReceived,
    Completed,
    ContextView,
    Failed,
    FirstToken,
    GatewayEvent,
    RequestOutcome,
    RoutingDecided,
)
from devflow_tui.gateway.recorder import Recorder
from devflow_tui.openrouter.wire import ChatMessage, ChatRequest
from devflow_tui.routing.fallback import next_step
from devflow_tui.stats import generation_ms, tokens_per_s

if TYPE_CHECKING:
    from devflow_tui.accounting.budget import BudgetManager
    from devflow_tui.accounting.cache import CachedAnswer, ResponseCache
    from devflow_tui.accounting.pricing import Prices
    from devflow_tui.accounting.records import RequestStart
    from devflow_tui.accounting.store import AnalyticsStore
    from devflow_tui.config import Settings
    from devflow_tui.context.assembly import AssembledContext
    from devflow_tui.context.gather import ContextSet
    from devflow_tui.openrouter.client import ChatResult, OpenRouterClient
    from devflow_tui.openrouter.wire import Credits, KeyInfo, Usage
    from devflow_tui.routing.catalog import CatalogModel, ModelCatalog
    from devflow_tui.routing.classifier import Classification, TaskClassifier
    from devflow_tui.routing.health import HealthTracker
    from devflow_tui.routing.names import SettingsNames
    from devflow_tui.routing.selector import ModelSelector, RoutingDecision, SelectionCriteria

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 2048
PROGRESS_EVERY_S = 0.5  # how often a running stream's partial answer is saved
_UNKNOWN_WINDOW = 128_000  # assumed window of a pinned model missing from the catalog
SYSTEM_PROMPT = None  # the model's own default; injected context brings its own framing

EventSink = Callable[[GatewayEvent], None]


@dataclass
class GatewayRequest:
    """One user request, as the CLI or the dashboard hands it over."""

    prompt: str
    history: list[ChatMessage] = field(default_factory=list)
    model: str | None = None
    task_type: str | None = None
    cost_priority: float | None = None
    performance_priority: float | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = True
    use_cache: bool = True
    conversation_id: str | None = None
    context_specs: list[str] = field(default_factory=list)
    claude_session: str | None = None
    include_claude_md: bool | None = None  # None: with a Claude session only
    project_dir: Path | None = None
    required_capabilities: frozenset[str] = frozenset()
    client: str | None = None  # who sent it, for spend per client ("cli", "dashboard", "mcp")
    comparison: str | None = None  # recorded with the request: one compare-mode run
    # Escalation: re-ask a prompt one complexity tier above the answer's (`answered_complexity`,
    # the tier that answer was routed at), with a model stronger than the one that answered
    # request `escalation_of`.
    escalation_of: str | None = None
    stronger_than: str | None = None
    answered_complexity: str | None = None


@dataclass
class PreparedRequest:
    """Everything decided before anything is sent: context, classification, routing."""

    request: GatewayRequest
    prompt: str  # the prompt with @mentions resolved
    context: ContextSet
    context_tokens: int
    classification: Classification
    criteria: SelectionCriteria
    decision: RoutingDecision
    max_tokens: int


@dataclass
class _Unanswered:
    """What the attempts of one request that were billed without giving an answer cost (an
    empty answer, or every output token spent thinking): it counts in the request's cost and
    tokens, whatever answers in the end."""

    attempts: int = 0
    cost_usd: Decimal | None = Decimal(0)  # None once one of them has an unknown cost
    estimated: bool = False  # one of them was priced here, not reported
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str | None = None  # the last of them, and its generation (for reconcile)
    generation_id: str | None = None

    def add(self, result: ChatResult, model: CatalogModel) -> None:
        from devflow_tui.accounting.pricing import resolve_cost

        cost, source = resolve_cost(result.usage, model.prices)
        self.attempts += 1
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost
        self.estimated = self.estimated or source == "estimated"
        if result.usage is not None:
            self.prompt_tokens += result.usage.prompt_tokens
            self.completion_tokens += result.usage.completion_tokens
        self.model = result.model or model.id
        self.generation_id = result.generation_id or self.generation_id

    def add_to(self, outcome: RequestOutcome) -> None:
        """Into the request's figures: added to an answer's (whose cost, if unknown, stays
        unknown); the request's own when nothing answered."""
        outcome.prompt_tokens += self.prompt_tokens
        outcome.completion_tokens += self.completion_tokens
        if outcome.status == "ok" or outcome.text:
            if outcome.cost_usd is not None:
                if self.cost_usd is None:
                    outcome.cost_usd, outcome.cost_source = None, "unknown"
                else:
                    outcome.cost_usd += self.cost_usd
                    if self.estimated:
                        outcome.cost_source = "estimated"
            return
        outcome.model = outcome.model or self.model
        outcome.generation_id = outcome.generation_id or self.generation_id
        outcome.cost_usd = self.cost_usd
        outcome.cost_source = (
            "unknown" if self.cost_usd is None else "estimated" if self.estimated else "reported"
        )


@dataclass
class _RunState:
    """One request on its way through `run`, up to its single end (`Gateway._end`)."""

    request: GatewayRequest
    emit: EventSink
    outcome: RequestOutcome
    prepared: PreparedRequest | None = None
    prompt_tokens: int = 0  # estimated prompt tokens of what is sent
    cache_key: str | None = None
    begun: bool = False  # the request row exists
    ended: bool = False
    unanswered: _Unanswered = field(default_factory=_Unanswered)


# Failures another model might not have had: after several models failed with these, the
# request failed because the chain ran out ("Every model tried failed … Retry later").
_CHAIN_RAN_OUT = frozenset(
    {
        ErrorCategory.PROVIDER,
        ErrorCategory.RATE_LIMIT,
        ErrorCategory.NETWORK,
        ErrorCategory.TIMEOUT,
        ErrorCategory.INVALID_RESPONSE,
    }
)

CLASSIFIED_KEPT = 64  # prompts whose classification is remembered


class Gateway:
    """The pipeline. Built by `devflow_tui.compose.open_gateway`; use it as an async context
    manager (or call `aclose`), which closes the resources it was handed (client, store, and
    the simulated server in demo mode) through one exit stack."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: OpenRouterClient,
        catalog: ModelCatalog,
        catalog_source: str,
        health: HealthTracker,
        store: AnalyticsStore,
        budget: BudgetManager,
        cache: ResponseCache,
        classifier: TaskClassifier,
        selector: ModelSelector,
        demo: bool = False,
        key_source: str = "none",
        resources: contextlib.AsyncExitStack | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.catalog = catalog
        self.catalog_source = catalog_source
        self.health = health
        self.store = store
        self.budget = budget
        self.cache = cache
        self.classifier = classifier
        self.selector = selector
        self.demo = demo
        self.key_source = key_source
        self._resources = resources or contextlib.AsyncExitStack()
        self.recorder = Recorder()  # every store write of a request goes through it
        self._classified = functools.lru_cache(maxsize=CLASSIFIED_KEPT)(self._classify)

    def classify(
        self, prompt: str, *, history: Sequence[str] = (), context_tokens: int = 0
    ) -> Classification:
        """The classifier's answer for `prompt`, remembered for the last few prompts: an
        agent's requests within one turn (Claude Code's tool calls and results) all carry the
        same last user text, and classifying it again gives the same answer."""
        return self._classified(prompt, tuple(history), context_tokens)

    def _classify(
        self, prompt: str, history: tuple[str, ...], context_tokens: int
    ) -> Classification:
        return self.classifier.classify(prompt, history=history, context_tokens=context_tokens)

    # ------------------------------------------------------------------ preparation

    def gather_context(self, request: GatewayRequest) -> ContextSet:
        """Read every context source the request asks for (raises ContextError on bad input)."""
        from devflow_tui.context.gather import gather_context

        return gather_context(
            (request.project_dir or Path.cwd()).resolve(),
            request.prompt,
            claude_session=request.claude_session,
            context_paths=request.context_specs,
            notes=self.store,
            include_memory=request.include_claude_md,
            history=request.history,
        )

    def prepare(self, request: GatewayRequest) -> PreparedRequest:
        """Context, classification and routing decision; nothing is sent."""
        context = self.gather_context(request)
        prompt = context.prompt
        ctx_tokens = context.total_tokens
        max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS
        # The classifier reads the user's earlier prompts: a follow-up takes the task of the
        # request it follows, not of the answer's words.
        history_text = [
            m.content for m in request.history if m.role == "user" and isinstance(m.content, str)
        ]
        classification, criteria, pinned = self._criteria(
            prompt,
            history=history_text,
            context_tokens=ctx_tokens,
            extra_tokens=sum(_estimate(m.content) for m in request.history),
            max_tokens=max_tokens,
            task_type=request.task_type,
            model=request.model,
            cost_priority=request.cost_priority,
            performance_priority=request.performance_priority,
            required_capabilities=request.required_capabilities,
            stronger_than=request.stronger_than,
            answered_complexity=request.answered_complexity,
        )
        decision = self._select(criteria, pinned)
        return PreparedRequest(
            request=request,
            prompt=prompt,
            context=context,
            context_tokens=ctx_tokens,
            classification=classification,
            criteria=criteria,
            decision=decision,
            max_tokens=max_tokens,
        )

    def decide(
        self,
        prompt: str,
        *,
        history: Sequence[str] = (),
        context_tokens: int = 0,
        extra_tokens: int = 0,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        task_type: str | None = None,
        model: str | None = None,
        cost_priority: float | None = None,
        performance_priority: float | None = None,
        required_capabilities: frozenset[str] = frozenset(),
        stronger_than: str | None = None,
        answered_complexity: str | None = None,
    ) -> tuple[Classification, RoutingDecision]:
        """Classify `prompt` and choose the models for it, with the configured priorities and
        budgets; `extra_tokens` are sent besides the prompt and the context (e.g. history).
        `stronger_than`: an escalation, with a model stronger than it, one complexity tier
        above `answered_complexity` (the escalated answer's), else above the prompt's."""
        classification, criteria, pinned = self._criteria(
            prompt,
            history=history,
            context_tokens=context_tokens,
            extra_tokens=extra_tokens,
            max_tokens=max_tokens,
            task_type=task_type,
            model=model,
            cost_priority=cost_priority,
            performance_priority=performance_priority,
            required_capabilities=required_capabilities,
            stronger_than=stronger_than,
            answered_complexity=answered_complexity,
        )
        return classification, self._select(criteria, pinned)

    def _select(self, criteria: SelectionCriteria, pinned: str | None) -> RoutingDecision:
        """The selector's decision, with the request's pinned model (`--model`, as resolved)
        first whatever the ranking."""
        decision = self.selector.select(criteria)
        return self._pin(decision, pinned) if pinned else decision

    def setting_names(self) -> SettingsNames:
        """The model names in the settings as resolved against the catalog, worked out once
        for each state of the settings (`ModelNames.in_settings`), not for every request."""
        return self.selector.names.in_settings(self.settings)

    def model_names(self) -> list[str]:
        """What each model name in the settings resolves to, one line per name ("preferred:
        gpt-4 -> openai/gpt-5 (closest version)"). A name that matches nothing raises
        `UnknownModelError` naming the setting it is in and the closest catalog ids."""
        return self.setting_names().check()

    def restriction(self, task: str) -> tuple[list[str], str | None]:
        """The names routing for `task` is restricted to, and the setting that says so
        (None: no restriction), as `names.restriction` reads them."""
        return self.setting_names().restriction(task)

    def resolve_model(self, name: str) -> str:
        """The catalog id a model pinned for one request (`--model`, the dashboard's model
        field) means, by the same rule as the settings' names (routing/names.py)."""
        from devflow_tui.routing.names import UnknownModelError

        try:
            return self.selector.names.resolve(name).model_id
        except UnknownModelError as exc:
            raise UnknownModelError(
                f"{exc.message} (the model pinned with --model or the model field)",
                hint=exc.hint,
            ) from None

    def _criteria(
        self,
        prompt: str,
        *,
        history: Sequence[str],
        context_tokens: int,
        extra_tokens: int,
        max_tokens: int,
        task_type: str | None,
        model: str | None,
        cost_priority: float | None,
        performance_priority: float | None,
        required_capabilities: frozenset[str],
        stronger_than: str | None = None,
        answered_complexity: str | None = None,
    ) -> tuple[Classification, SelectionCriteria, str | None]:
        """The classification of `prompt`, what the selector is asked for, and the catalog id
        of the request's pinned `model` (resolved once, here)."""
        from devflow_tui.routing.selector import SelectionCriteria

        names = self.setting_names()
        names.check()  # a misspelled name in the settings: the error names the setting
        # The error names --model; the selector shows the name as written.
        pinned = self.resolve_model(model) if model else None
        classification = self.classify(prompt, history=history, context_tokens=context_tokens)
        task = task_type or classification.task_type
        if task_type and task_type != classification.task_type:
            classification = _replace_task(classification, task_type)
        if stronger_than:
            from devflow_tui.routing.classifier import escalated

            classification = escalated(classification, stronger_than, answered_complexity)
        routing = self.settings.routing
        task_defaults = routing.tasks.get(task)  # type: ignore[call-overload]
        only = names.restricted_to(task)
        criteria = SelectionCriteria(
            task_type=task,
            complexity=classification.complexity,
            cost_priority=_first(
                cost_priority,
                task_defaults.cost_priority if task_defaults else None,
                routing.cost_priority,
            ),
            performance_priority=_first(
                performance_priority,
                task_defaults.performance_priority if task_defaults else None,
                routing.performance_priority,
            ),
            context_tokens=classification.prompt_tokens + context_tokens + extra_tokens,
            max_output_tokens=max_tokens,
            required_capabilities=required_capabilities,
            remaining_budget_usd=self._remaining_budget(),
            preferred_models=list(self.settings.preferred_models),
            only_models=only,
            stronger_than=stronger_than,
            pinned_model=model or routing.pinned_model,
            excluded_models=list(routing.excluded_models),
        )
        return classification, criteria, pinned

    def pin(self, model_id: str) -> RoutingDecision:
        """The decision for an explicitly chosen model, without ranking the catalog."""
        from devflow_tui.routing.selector import RoutingDecision

        empty = RoutingDecision(
            candidates=[], fallbacks=[], excluded=[], warnings=[], expected_output_tokens=0
        )
        return self._pin(empty, model_id)

    def _remaining_budget(self) -> Decimal | None:
        """The smallest amount left under any active budget (None: no budget)."""
        left = [v.remaining_usd for v in self.budget.status() if v.remaining_usd is not None]
        return min(left) if left else None

    def _pin(self, decision: RoutingDecision, model_id: str) -> RoutingDecision:
        """An explicit --model is honoured as given: that model only, no silent fallback."""
        from devflow_tui.routing.catalog import CatalogModel
        from devflow_tui.routing.selector import Candidate

        others = [c for c in decision.candidates if c.model.id != model_id]
        found = [c for c in decision.candidates if c.model.id == model_id]
        # Nothing is routed: how many models the filters ruled out says nothing about this
        # request (the pinned model's own exclusion, if any, is in its reason).
        summary = decision.exclusion_summary
        warnings = [w for w in decision.warnings if model_id not in w and w != summary]
        if found:
            pinned = found[0]
            if not pinned.reason.startswith("pinned"):
                pinned = pinned.reworded(lambda reason: f"pinned by the user; {reason}")
        else:
            model = self.catalog.get(model_id)
            if model is None:
                # Only the proxy pins ids as its clients send them (`pin`); names given to
                # devflow resolve first (`resolve_model`). Sent, and OpenRouter judges the id.
                warnings.append(f"{model_id} is not in the model catalog; its cost is unknown.")
                model = CatalogModel(
                    id=model_id,
                    name=model_id,
                    context_length=_UNKNOWN_WINDOW,
                    max_completion_tokens=None,
                    prices={},
                )
            reason = "pinned by the user"
            why = [r for m, r in decision.excluded if m == model_id]
            if why:
                reason += f" (the router would have excluded it: {why[0]})"
            pinned = Candidate(
                model=model,
                score=0.0,
                estimated_cost_usd=None,
                worst_case_cost_usd=None,
                quality=0.0,
                reason=reason,
            )
        return dataclasses.replace(
            decision,
            candidates=[pinned, *others],
            fallbacks=[],
            excluded=[],
            warnings=warnings,
        )

    def budget_status(self) -> list[BudgetView]:
        return self.budget.status()

    async def credits(self) -> tuple[KeyInfo | None, Credits | None]:
        """The key's limit/usage and the account balance, when OpenRouter tells them."""
        key: KeyInfo | None
        try:
            key = await self.client.get_key()
        except DevflowError as exc:
            log.info("key info unavailable: %s", exc)
            key = None
        try:
            credits = await self.client.get_credits()
        except DevflowError as exc:
            log.info("credits unavailable: %s", exc)
            credits = None
        return key, credits

    # ------------------------------------------------------------------ running

    async def run(
        self,
        request: GatewayRequest,
        on_event: EventSink | None = None,
        *,
        prepared: PreparedRequest | None = None,
    ) -> RequestOutcome:
        """Run one request end to end. Every outcome, early failures and cancellation included,
        ends in `_end`, which records it before this returns (or re-raises CancelledError).
        One exception: an escalation with no model stronger than the one that answered raises
        `NothingStrongerError` and records nothing (it is not a request: nothing is sent).
        `prepared`: `request` as `prepare` returned it, when the caller looked at the decision
        first (the dashboard's escalation), so that it is not prepared again."""
        sink = on_event or (lambda _event: None)
        sink_errors: list[Exception] = []

        def emit(event: GatewayEvent) -> None:
            try:
                sink(event)
            except Exception as exc:
                sink_errors.append(exc)
                raise

        state = _RunState(
            request=request,
            emit=emit,
            outcome=RequestOutcome(request_id=str(uuid.uuid4())),
            prepared=prepared,
        )
        try:
            await self._run(state)
        except asyncio.CancelledError:
            await self._end_stopped(state, "Cancelled by the user; the partial answer was kept.")
            raise
        except Exception as exc:
            from devflow_tui.gateway.unroutable import NothingStrongerError

            # The front end raised (one that can no longer show the answer, such as `ask`
            # writing to a closed pipe), or a bug did: the answer stops there, as a cancelled
            # one, and is recorded like one (partial tokens, cost, the budget hold released),
            # never left `running`. The exception is the caller's to report.
            if isinstance(exc, DevflowError) and exc not in sink_errors:
                # An error of ours (the database locked or full while reserving the budget,
                # say): recorded as what it is, with its own category and fix, not as a
                # cancellation or a bug.
                if not isinstance(exc, NothingStrongerError) and not state.ended:
                    await self._end(state, exc)
            elif not isinstance(exc, NothingStrongerError):
                why = (
                    "the answer could not be delivered"
                    if exc in sink_errors
                    else "an internal error, please report it"
                )
                await self._end_stopped(
                    state, f"Stopped by {why} ({type(exc).__name__}); the partial answer was kept."
                )
            raise
        return state.outcome

    async def _end_stopped(self, state: _RunState, message: str) -> None:
        """End a request that was stopped before it finished, unless it already ended."""
        if state.ended:
            return
        outcome = state.outcome
        outcome.status = "cancelled"
        outcome.complete = False
        outcome.error_category = ErrorCategory.CANCELLED.value
        outcome.error_message = message
        await self._end(state)

    async def _run(self, state: _RunState) -> None:
        outcome = state.outcome
        request_id = outcome.request_id
        prepared = state.prepared
        if prepared is None:
            try:
                prepared = await asyncio.to_thread(self.prepare, state.request)
            except DevflowError as exc:
                await self._end(state, exc)
                return
            state.prepared = prepared
        request = prepared.request
        decision = prepared.decision
        cls = prepared.classification
        outcome.task_type = cls.task_type
        outcome.complexity = cls.complexity
        outcome.fallbacks = list(decision.fallbacks)
        if not decision.candidates:
            if decision.nothing_stronger and request.stronger_than:
                from devflow_tui.gateway.unroutable import nothing_stronger_error

                # Not a request that failed: nothing was sent, so no row and no escalation.
                raise nothing_stronger_error(
                    decision,
                    request.stronger_than,
                    cls.task_type,
                    self.restriction(cls.task_type)[1],
                )
            await self._end(state, await self.unroutable_error(prepared))
            return
        chosen = decision.candidates[0].model
        outcome.requested_model = request.model or chosen.id
        outcome.warnings = list(decision.warnings)
        state.emit(
            RoutingDecided(
                request_id=request_id,
                task_type=cls.task_type,
                complexity=cls.complexity,
                signals=tuple(cls.signals),
                model=chosen.id,
                candidates=tuple(candidate_views(decision)[:8]),
                fallbacks=tuple(decision.fallbacks),
                context_tokens=prepared.context_tokens,
                warnings=tuple(decision.warnings),
            )
        )

        from devflow_tui.context.errors import ContextWindowError

        try:
            chain, assembled = self.fit(prepared)
        except ContextWindowError as error:
            await self._end(state, error)
            return
        state.prompt_tokens = assembled.total_tokens
        outcome.context = _context_views(assembled)
        outcome.secrets_removed = assembled.scrubbed.total

        # Exact-match cache: a hit costs nothing and sends nothing.
        if request.use_cache and self.settings.cache.enabled:
            state.cache_key = self.cache.key_for(_cache_inputs(request, assembled, chain[0].id))
            hit = await self.recorder.call(self.cache.get, state.cache_key)
            if hit is not None:
                serve_cached(outcome, hit)
                await self._end(state, hit=hit)
                return

        from devflow_tui.accounting.pricing import worst_case_cost

        worst = worst_case_cost(chain[0].prices, assembled.total_tokens, prepared.max_tokens)
        try:
            await self.recorder.call(self.budget.reserve, request_id, worst)
        except BudgetExceededError as exc:
            await self._end(state, exc)
            return
        await self.recorder.call(self.recorder_begin, state)
        await self._call_chain(state, chain, assembled)
        await self._end(state)

    async def unroutable_error(self, prepared: PreparedRequest) -> DevflowError:
        """Why no model can take the request, with the fix for its cause. When the budget is
        what excluded every model (the same request would route without it), that is a budget
        refusal naming the budget, not a request no model can take."""
        decision = prepared.decision
        without_budget = dataclasses.replace(prepared.criteria, remaining_budget_usd=None)
        if prepared.criteria.remaining_budget_usd is not None and (
            self.selector.select(without_budget).candidates
        ):
            views = await self.recorder.call(self.budget.status)
            return _budget_exhausted(views, self.budget.setting)
        from devflow_tui.gateway.unroutable import unroutable_error

        restricted_by = None
        if prepared.criteria.only_models and not prepared.request.model:
            restricted_by = self.restriction(prepared.criteria.task_type)[1]
        return unroutable_error(decision, restricted_by)

    async def _end(
        self,
        state: _RunState,
        error: DevflowError | None = None,
        *,
        hit: CachedAnswer | None = None,
    ) -> None:
        """The one exit of every request: close its books in one recorder job (price a partial
        answer, write the row and the answer, drop its reservations, cache it),
        then tell the front end how it ended."""
        state.ended = True
        outcome = state.outcome
        if error is not None:
            outcome.status = "refused" if isinstance(error, BudgetExceededError) else "error"
            outcome.error_category = error.category.value
            outcome.error_message = str(error)
        alerts = await self.recorder.call(self._close_books, state, hit)
        request_id = outcome.request_id
        for alert in alerts:
            state.emit(alert)
        if hit is not None:
            state.emit(CacheHit(request_id, hit.model, hit.cost_usd))
            state.emit(ChunkReceived(request_id, hit.text))
        if outcome.status == "ok":
            state.emit(Completed(request_id, outcome))
        elif error is not None:
            state.emit(Failed(request_id, outcome, error.category.value, error.message, error.hint))
        else:
            state.emit(
                Failed(
                    request_id,
                    outcome,
                    outcome.error_category or ErrorCategory.PROVIDER.value,
                    outcome.error_message or "The request failed.",
                    None,
                )
            )

    def recorder_begin(self, state: _RunState) -> None:
        """Recorder job when a request is about to be sent: its user message and its
        "running" row."""
        self._begin(state, with_message=True)

    def _begin(self, state: _RunState, *, with_message: bool) -> None:
        prepared = state.prepared
        project = project_key(state.request.project_dir or Path.cwd())
        if with_message and prepared is not None:
            request = state.request
            state.outcome.conversation_id = request.conversation_id = self.store.save_message(
                request.conversation_id,
                "user",
                prepared.prompt,
                request_id=state.outcome.request_id,
                project=project,
            )
        self.store.begin_request(self._start_row(state, project))
        state.begun = True

    def _close_books(self, state: _RunState, hit: CachedAnswer | None) -> list[BudgetAlert]:
        """Recorder job at the end of every request of `run`."""
        begin = None
        if not state.begun:
            begin = functools.partial(self._begin, state, with_message=hit is not None)
        return self.close_books(
            state.outcome,
            prompt_tokens=state.prompt_tokens,
            hit=hit,
            cache_key=state.cache_key,
            begin=begin,
        )

    def close_books(
        self,
        outcome: RequestOutcome,
        *,
        prompt_tokens: int = 0,
        hit: CachedAnswer | None = None,
        cache_key: str | None = None,
        begin: Callable[[], object] | None = None,
    ) -> list[BudgetAlert]:
        """The one closing job of every request, the pipeline's and the proxy's; run it on
        the recorder. Prices a partial answer, writes the row (after `begin`, which writes its
        start, when it was never begun) and the answer, caches a complete answer under
        `cache_key`; returns the budget alerts it crossed. The request's reservation is
        given back by `finish_request`, in the transaction that records its cost (no
        separate settle: a round trip less on PostgreSQL, and no moment where the money is
        counted twice)."""
        if hit is None:
            self._price_partial(outcome, prompt_tokens)
        if begin is not None:
            begin()
        # The budgets' spend, now that the cost is recorded, is read in the same transaction.
        spent = self.store.finish_request(
            outcome.request_id,
            outcome,
            saved_usd=hit.cost_usd if hit is not None else None,
            spend_since=self.budget.period_starts(),
        )
        outcome.budget = self.budget.views(spent)
        if outcome.text and outcome.conversation_id:
            self.store.save_message(
                outcome.conversation_id, "assistant", outcome.text, request_id=outcome.request_id
            )
        cacheable = outcome.status == "ok" and outcome.complete and outcome.model
        if hit is None and cache_key and cacheable:
            self.cache.put(
                cache_key,
                text=outcome.text,
                model=outcome.model or "",
                prompt_tokens=outcome.prompt_tokens,
                completion_tokens=outcome.completion_tokens,
                reasoning_tokens=outcome.reasoning_tokens,
                cached_tokens=outcome.cached_tokens,
                cost_usd=outcome.cost_usd,
            )
        # The budgets as they stood before this request's cost counted: the alerts are those
        # its own cost crossed (read from the status after it, not by a read before it: a
        # round trip less per request on PostgreSQL).
        cost = None if outcome.cache_hit else outcome.cost_usd
        before = self.budget.before_spending(outcome.budget, cost)
        return self.budget.alerts_crossed(before, outcome.budget)

    def assemble(
        self, prepared: PreparedRequest, model: CatalogModel, window_factor: float = 1.0
    ) -> AssembledContext | None:
        """What would be sent to `model`: the request's context fitted to its window (times
        `window_factor`) and its output limit; None when the prompt alone does not fit."""
        from devflow_tui.context.errors import ContextError

        window = int((model.context_length or 8192) * window_factor)
        max_out = min(prepared.max_tokens, model.max_completion_tokens or prepared.max_tokens)
        try:
            return prepared.context.assemble(
                context_length=window,
                max_output_tokens=max_out,
                system_prompt=SYSTEM_PROMPT,
            )
        except ContextError:
            return None

    def fit(self, prepared: PreparedRequest) -> tuple[list[CatalogModel], AssembledContext]:
        """The models to try, from the first of the decision's chain (its model, then its
        fallbacks) that the request fits, and what is sent to that one. Routing admits a
        model when the prompt and the answer fit its window; the assembler also keeps a
        margin for the token estimator's error (5 % of the window), so near the window the
        routed model may not take it after all. `ask` and `route` both go by this. Raises
        `ContextWindowError` (a rejected request, exit 6) when no model of the chain fits."""
        from devflow_tui.context.errors import ContextWindowError

        decision = prepared.decision
        chain = [c.model for c in decision.candidates[:1]]
        chain += [m for m in (self.catalog.get(f) for f in decision.fallbacks) if m]
        for index, model in enumerate(chain):
            assembled = self.assemble(prepared, model)
            if assembled is not None:
                return chain[index:], assembled
        larger = " or pin a model with a larger window" if prepared.request.model else ""
        out = min(prepared.max_tokens, chain[0].max_completion_tokens or prepared.max_tokens)
        raise ContextWindowError(
            f"The prompt alone does not fit {chain[0].id}'s context window once {out:,} "
            "tokens are kept for the answer and a margin for the token estimate.",
            hint=f"Shorten the prompt, lower --max-tokens{larger}.",
        )

    def _price_partial(self, outcome: RequestOutcome, prompt_tokens: int) -> None:
        """A cut-off or cancelled answer got no usage from the server: estimate what the
        tokens that did arrive cost (providers may bill them), rather than leave it unknown."""
        if outcome.status == "ok" or outcome.cost_usd is not None or not outcome.text:
            return
        from devflow_tui.accounting.pricing import compute_cost
        from devflow_tui.context.tokens import estimate_tokens
        from devflow_tui.openrouter.wire import Usage

        model = self.catalog.get(outcome.model or outcome.requested_model or "")
        if model is None:
            return
        outcome.prompt_tokens = outcome.prompt_tokens or prompt_tokens
        outcome.completion_tokens = outcome.completion_tokens or estimate_tokens(outcome.text)
        usage = Usage(
            prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens
        )
        cost = compute_cost(model.prices, usage)
        if cost is not None:
            outcome.cost_usd = cost
            outcome.cost_source = "estimated"

    def _start_row(self, state: _RunState, project: str | None) -> RequestStart:
        from devflow_tui.accounting.records import RequestStart, hash_prompt

        prepared = state.prepared
        outcome = state.outcome
        if prepared is None:  # failed before routing: what the user asked is all there is
            return RequestStart(
                request_id=outcome.request_id,
                ts=time.time(),
                conversation_id=state.request.conversation_id,
                prompt_hash=hash_prompt(state.request.prompt),
                task_type=state.request.task_type,
                requested_model=state.request.model,
                comparison=state.request.comparison,
                project=project,
            )
        decision = prepared.decision
        reason = decision.candidates[0].reason if decision.candidates else None
        return RequestStart(
            request_id=outcome.request_id,
            ts=time.time(),
            conversation_id=outcome.conversation_id or prepared.request.conversation_id,
            prompt_hash=hash_prompt(prepared.prompt),
            prompt_tokens=prepared.classification.prompt_tokens + prepared.context_tokens,
            task_type=outcome.task_type,
            complexity=outcome.complexity,
            requested_model=outcome.requested_model or prepared.request.model,
            routing_reason=reason,
            comparison=prepared.request.comparison,
            project=project,
            client=prepared.request.client,
            escalation_of=prepared.request.escalation_of,
        )

    async def _call_chain(
        self, state: _RunState, chain: list[CatalogModel], assembled: AssembledContext
    ) -> None:
        """Try each model of the chain in turn (`_try_chain`). What attempts billed without
        giving an answer (an empty one, or every token spent thinking) counts in the
        request's cost and tokens, whatever answers in the end, and however it ends."""
        try:
            await self._try_chain(state, chain, assembled)
        finally:
            if state.unanswered.attempts:
                self._price_partial(state.outcome, state.prompt_tokens)
                state.unanswered.add_to(state.outcome)

    async def _try_chain(
        self, state: _RunState, chain: list[CatalogModel], assembled: AssembledContext
    ) -> None:
        """Try each model of the chain in turn, as the fallback rules say. Every failed
        attempt is announced once, with what really comes next: the same model when the
        client retries it, the next model the policy picked, or nothing when it gives up."""
        prepared = state.prepared
        assert prepared is not None
        request = prepared.request
        outcome = state.outcome
        emit = state.emit
        request_id = outcome.request_id
        attempt_no = 0
        index = 0
        current = assembled
        shrunk: set[str] = set()  # models already re-tried with a tighter fit
        tried: list[str] = []  # failed or skipped; the fallback policy never returns to them
        chain_ids = [m.id for m in chain]
        while index < len(chain):
            model = chain[index]
            if index > 0 and model.id not in shrunk:
                refit = self.assemble(prepared, model)
                if refit is None:
                    tried.append(model.id)
                    index += 1
                    continue
                current = refit
                outcome.context = _context_views(current)
            if not self.health.is_available(model.id):
                # Cooling down after repeated failures, or its half-open probe is in flight;
                # when it is half-open, this call takes the one probe slot.
                tried.append(model.id)
                index += 1
                continue
            attempt_no += 1
            emit(AttemptStarted(request_id, model.id, attempt_no))
            last_failed: list[AttemptRecord] = []  # the attempt the client gave up on
            # The call's successful attempt, recorded once its answer is known not to be empty.
            answered: list[AttemptRecord] = []

            def on_attempt(
                record: AttemptRecord, _answered: list[AttemptRecord] = answered
            ) -> None:
                if record.error:
                    post(record)
                else:
                    _answered.append(record)

            def post(
                record: AttemptRecord,
                _model: str = model.id,
                _last: list[AttemptRecord] = last_failed,
            ) -> None:
                outcome.attempts.append(record)
                n = len(outcome.attempts)
                self.recorder.post(self.store.record_attempt, request_id, record, n=n)
                if not record.error:
                    return
                self.health.record_failure(_model, record.error)
                if record.retried:
                    emit(self._attempt_failed(request_id, record, _model, _model))
                else:
                    _last.append(record)

            chat_request = ChatRequest(
                model=model.id,
                messages=current.messages,
                stream=request.stream,
                max_tokens=min(prepared.max_tokens, model.max_completion_tokens or 10**9),
                temperature=request.temperature,
            )
            failure: OpenRouterError | None = None
            try:
                result = await self._call_one(state, chat_request, on_attempt)
            except OpenRouterError as exc:
                failure = exc
            except BaseException:  # cancelled: what was answered stays on record
                for record in answered:
                    post(record)
                raise
            held = answered
            if failure is None and not result.text.strip() and result.finish_reason != "tool_calls":
                # Billed all the same: its cost and tokens count in the request's.
                state.unanswered.add(result, model)
                if result.finish_reason == "length":
                    for record in held:
                        post(record)
                    outcome.status = "error"
                    outcome.error_category = ErrorCategory.USER.value
                    outcome.error_message = (
                        f"{model.id} used all {chat_request.max_tokens} output tokens before "
                        "writing any answer (reasoning models think first). Raise --max-tokens."
                    )
                    return
                # A provider warming up can answer with nothing: that is a failure, not an
                # answer; the next model gets the request.
                failure = OpenRouterError(
                    f"{model.id} returned an empty answer. Retry, or pin another model.",
                    category=ErrorCategory.PROVIDER,
                    retryable=True,
                    model=model.id,
                )
                held = [
                    r.model_copy(
                        update={"error": failure.category.value, "message": "empty answer"}
                    )
                    for r in held
                ]
            for record in held:
                post(record)  # an empty answer's is a failure, for the health tracker too
            if failure is None:
                self._complete(outcome, result, model)
                return
            failed_record = (
                last_failed[-1]
                if last_failed
                else AttemptRecord(
                    model=model.id, error=failure.category.value, message=failure.message
                )
            )
            outcome.error_category = failure.category.value
            outcome.error_message = str(failure)
            outcome.status = "error"
            if outcome.text:
                # Tokens already reached the user: never silently re-run on another model.
                outcome.complete = False
                outcome.model = model.id
                emit(self._attempt_failed(request_id, failed_record, model.id, None))
                return
            if failure.is_context_length and model.id not in shrunk:
                # Our token estimate was low for this model: fit again 20% tighter and retry
                # once on the same model, but only if that changes what is sent; an identical
                # request would fail the same way.
                tighter = self.assemble(prepared, model, 0.8)
                shrunk.add(model.id)
                if tighter is not None and tighter.messages != current.messages:
                    current = tighter
                    outcome.context = _context_views(current)
                    emit(self._attempt_failed(request_id, failed_record, model.id, model.id))
                    continue
            step = next_step(
                failure,
                failed_model=model.id,
                chain=chain_ids,
                tried=tried,
                catalog=self.catalog,
                health=self.health,
            )
            tried.append(model.id)
            if step.action == "stop" and failure.is_context_length and not request.model:
                larger = self._larger_window(prepared, model, tried)
                if larger is not None:
                    chain.append(larger)
                    chain_ids.append(larger.id)
                    outcome.fallbacks.append(larger.id)
                    step = dataclasses.replace(step, action="next", model=larger.id)
            emit(self._attempt_failed(request_id, failed_record, model.id, step.model))
            if step.action == "stop" or step.model is None:
                if step.incomplete:
                    outcome.complete = False
                # Filed under the model that failed last, not "(none)" in reports.
                outcome.model = model.id
                failed = list(dict.fromkeys(a.model for a in outcome.attempts if a.error))
                # Only when the chain ran out: a stop for credits, a key, moderation, the total
                # time or a bad request keeps its own fix (it said "Retry later" for a 402).
                from devflow_tui.openrouter.error_map import TOTAL_TIMEOUT

                ran_out = failure.category in _CHAIN_RAN_OUT and failure.error_type != TOTAL_TIMEOUT
                if len(failed) > 1 and ran_out:
                    # Not only the last: every model was tried, so "choose another" is no fix.
                    outcome.error_message = (
                        f"Every model tried failed ({', '.join(failed)}); the last: "
                        f"{failure.message} Retry later."
                    )
                return
            index = chain_ids.index(step.model)
        if attempt_no == 0:
            left = self.health.cooldowns()
            names = ", ".join(f"{m} ({s:.0f} s left)" for m, s in left.items()) or "all models"
            outcome.status = "error"
            outcome.error_category = ErrorCategory.PROVIDER.value
            outcome.error_message = (
                f"No model could be tried: {names} cooling down after repeated failures. "
                "Retry shortly, or pin another model with --model."
            )

    def _attempt_failed(
        self,
        request_id: str,
        record: AttemptRecord,
        model: str,
        next_model: str | None,
    ) -> AttemptFailed:
        """The failure of `record` on `model`, announced with what comes next: the same model
        again (a retry), another model (a fallback), or None (the request gives up)."""
        return AttemptFailed(
            request_id,
            record,
            retryable=next_model == model,
            next_model=next_model,
            cooldown=self.health.in_cooldown(model),
        )

    def _larger_window(
        self, prepared: PreparedRequest, failed: CatalogModel, tried: Sequence[str]
    ) -> CatalogModel | None:
        """The routed candidate with the smallest window larger than `failed`'s, for a request
        that did not fit and has nothing left to trim (the fallback chain had none)."""
        larger = [
            c.model
            for c in prepared.decision.candidates
            if c.model.id not in tried
            and c.model.context_length > failed.context_length
            and not self.health.in_cooldown(c.model.id)
        ]
        return min(larger, key=lambda m: m.context_length) if larger else None

    async def _call_one(
        self,
        state: _RunState,
        chat_request: ChatRequest,
        record: Callable[[AttemptRecord], None],
    ) -> ChatResult:
        from devflow_tui.openrouter.client import StreamDone, TextChunk

        outcome = state.outcome
        emit = state.emit
        request_id = outcome.request_id

        if not chat_request.stream:
            result = await self.client.chat(chat_request, on_attempt=record)
            if result.text:
                emit(FirstToken(request_id, result.model or "", result.ttft_ms or 0.0))
                emit(ChunkReceived(request_id, result.text))
            return result
        started = time.perf_counter()
        ttft_ms: float | None = None
        last_saved = started
        try:
            async for item in self.client.stream_chat(chat_request, on_attempt=record):
                if isinstance(item, TextChunk):
                    now = time.perf_counter()
                    if now - last_saved >= PROGRESS_EVERY_S:
                        # Durable progress: a killed process still leaves its partial answer.
                        last_saved = now
                        self.recorder.post(
                            self.store.record_progress,
                            request_id,
                            completion_tokens=_estimate(outcome.text),
                            model=chat_request.model,
                            partial_text=outcome.text,
                            generation_id=outcome.generation_id,
                        )
                    if ttft_ms is None and (item.text or item.reasoning):
                        ttft_ms = (now - started) * 1000
                        emit(FirstToken(request_id, chat_request.model or "", ttft_ms))
                    if item.text and not outcome.text:
                        # Kept however the answer ends (cut off, timed out, cancelled), so
                        # that `reconcile` can replace its estimated cost with the billed one.
                        outcome.generation_id = item.generation_id
                    outcome.text += item.text
                    emit(ChunkReceived(request_id, item.text, item.reasoning))
                elif isinstance(item, StreamDone):
                    return item.result
        except BaseException as stop:
            if outcome.text and not isinstance(stop, OpenRouterError):
                # Stopped mid-answer (cancelled, or a front end that can no longer show it):
                # the text so far is this model's, in this time. The row, the dashboard's
                # footer and `ask --json` say so; the tokens are priced when the request ends.
                # (A provider's failure has its own end, in `_call`.)
                outcome.model = chat_request.model
                outcome.latency_ms = round((time.perf_counter() - started) * 1000, 2)
                outcome.ttft_ms = round(ttft_ms, 2) if ttft_ms is not None else None
            raise
        raise OpenRouterError(
            "The stream ended without a final result.",
            category=ErrorCategory.INVALID_RESPONSE,
            retryable=False,
            mid_stream=bool(outcome.text),
        )

    def _complete(self, outcome: RequestOutcome, result: ChatResult, model: CatalogModel) -> None:
        served = self.catalog.get(result.model or "") if result.model else None
        prices = (served or model).prices
        outcome.text = result.text
        outcome.model = result.model or model.id
        outcome.generation_id = result.generation_id
        outcome.finish_reason = result.finish_reason
        # An answer stopped by the token limit is cut off, even though the call succeeded.
        outcome.complete = result.complete and result.finish_reason != "length"
        price_answer(outcome, result.usage, prices, result.latency_ms, result.ttft_ms)
        outcome.status = "ok"
        outcome.error_category = None
        outcome.error_message = None
        self.health.record_success(
            outcome.model,
            latency_ms=result.latency_ms,
            ttft_ms=result.ttft_ms or result.latency_ms,
            tokens_per_s=outcome.tokens_per_s or 0.0,
        )

    async def reconcile(self, limit: int = 20) -> list[Any]:
        """Fetch the billed cost of recent requests from /generation and record it."""
        from devflow_tui.accounting.reconcile import reconcile

        done = await reconcile(
            self.store, functools.partial(self.client.get_generation, wait_s=0.0), limit=limit
        )
        return list(done.drifts)

    async def aclose(self) -> None:
        """Finish the queued store writes, then close everything the gateway was built with,
        in reverse order of opening."""
        await asyncio.to_thread(self.recorder.close)
        await self._resources.aclose()

    async def __aenter__(self) -> Gateway:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


# ---------------------------------------------------------------------- helpers


def _first(*values: float | None) -> float:
    for value in values:
        if value is not None:
            return value
    return 0.5


def price_answer(
    outcome: RequestOutcome,
    usage: Usage | None,
    prices: Prices | None,
    latency_ms: float,
    ttft_ms: float | None,
) -> None:
    """Tokens, cost (reported, else estimated from `prices`, else unknown), latency and
    throughput of an answer: one formula for `devflow ask`, the dashboard and the proxy."""
    from devflow_tui.accounting.pricing import resolve_cost

    outcome.latency_ms = round(latency_ms, 2)
    outcome.ttft_ms = round(ttft_ms, 2) if ttft_ms is not None else None
    if usage is not None:
        outcome.prompt_tokens = usage.prompt_tokens
        outcome.completion_tokens = usage.completion_tokens
        outcome.reasoning_tokens = usage.reasoning_tokens
        outcome.cached_tokens = usage.cached_tokens
    outcome.cost_usd, outcome.cost_source = resolve_cost(usage, prices)
    rate = tokens_per_s(outcome.completion_tokens, generation_ms(latency_ms, ttft_ms))
    outcome.tokens_per_s = round(rate, 1) if rate is not None else None


def _estimate(content: Any) -> int:
    from devflow_tui.context.tokens import estimate_tokens

    return estimate_tokens(content) if isinstance(content, str) else 0


def _replace_task(classification: Classification, task_type: str) -> Classification:
    signals = (*classification.signals, f"task set to {task_type} by the user")
    return dataclasses.replace(classification, task_type=task_type, signals=signals)


def _context_views(assembled: AssembledContext) -> list[ContextView]:
    return assembled.views()


def _cache_inputs(
    request: GatewayRequest, assembled: AssembledContext, model: str
) -> dict[str, Any]:
    return {
        "model": model,
        "pinned": request.model,
        "task": request.task_type,
        "cost_priority": request.cost_priority,
        "performance_priority": request.performance_priority,
        "messages": [m.model_dump(exclude_none=True) for m in assembled.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
    }


def candidate_views(decision: RoutingDecision) -> list[CandidateView]:
    """The ranked candidates as the routing pane and `devflow route --json` show them."""
    return [
        CandidateView(
            model=c.model.id,
            score=round(c.score, 4),
            estimated_cost_usd=c.estimated_cost_usd,
            reason=c.reason,
        )
        for c in decision.candidates
    ]


def serve_cached(outcome: RequestOutcome, hit: CachedAnswer) -> None:
    """Fill `outcome` with a cached answer: complete, at no cost, marked as a hit."""
    outcome.text = hit.text
    outcome.model = hit.model
    outcome.prompt_tokens = hit.prompt_tokens
    outcome.completion_tokens = hit.completion_tokens
    outcome.cost_usd = Decimal(0)
    outcome.cost_source = "reported"
    outcome.cache_hit = True
    outcome.complete = True
    outcome.status = "ok"
    outcome.latency_ms = 0.0
    outcome.ttft_ms = 0.0


def _budget_exhausted(
    views: Sequence[BudgetView], setting: Callable[[str], str]
) -> BudgetExceededError:
    """The refusal when no model's worst case fits what is left: names the tightest budget."""
    limited = [v for v in views if v.remaining_usd is not None and v.limit_usd is not None]
    if not limited:
        return BudgetExceededError(
            "Request refused by the budget: no model's worst-case cost fits what is left.",
            hint="Raise the budget or lower --max-tokens.",
        )
    from devflow_tui.usd import format_usd

    tightest = min(limited, key=lambda v: v.remaining_usd or Decimal(0))
    return BudgetExceededError(
        f"Request refused by the {tightest.name} budget: spent {format_usd(tightest.spent_usd)} "
        f"of a {format_usd(tightest.limit_usd or Decimal(0))} limit, "
        f"{format_usd(tightest.remaining_usd or Decimal(0))} left; no model's worst-case cost "
        "fits in it.",
        hint=f"Raise the limit ({setting(tightest.name)}), lower --max-tokens, or wait for "
        "the period to reset.",
    )
