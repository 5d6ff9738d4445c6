"""Pass-through requests: a client's own Anthropic Messages or OpenAI chat body through the
same gateway core as `devflow ask`: routing (`Gateway.decide`), budgets, retries and fallback
before the first byte, cost (reported, else estimated from the catalog; reconciled later from
/generation), health, and one row per request in the analytics store.

The body goes on unchanged but for its model id: tools, thinking, system blocks, beta fields
and OpenRouter extras pass through. What the client gets back is what OpenRouter answered.
Never cached: a proxied request may carry tools or side effects, and its answer is not text
alone (see the README).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devflow_tui.errors import BudgetExceededError, DevflowError, ErrorCategory, OpenRouterError
from devflow_tui.gateway.events import (
    Completed,
    Failed,
    GatewayEvent,
    RequestOutcome,
    RoutingDecided,
)
from devflow_tui.openrouter.relay import Api, RelayResult, RelayStream
from devflow_tui.routing.fallback import next_step
from devflow_tui.stats import generation_ms, tokens_per_s

if TYPE_CHECKING:
    from devflow_tui.accounting.records import Reservation
    from devflow_tui.gateway.pipeline import Gateway
    from devflow_tui.routing.catalog import CatalogModel

EventSink = Callable[[GatewayEvent], None]
OutcomeSink = Callable[["PassthroughRequest", RequestOutcome], None]
_UNKNOWN_WINDOW = 128_000


@dataclass
class PassthroughRequest:
    """One proxied request, as the front end read it."""

    api: Api
    body: dict[str, Any]  # the client's body; its "model" is replaced by the routed id
    client: str  # who sent it ("claude-code", "openai-sdk", ...)
    route_text: str  # what the classifier reads: the last user turn
    prompt_tokens: int  # estimate of everything sent
    max_tokens: int
    model: str | None = None  # a pinned OpenRouter id; None: route
    needs_tools: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # sent on (anthropic-beta, ...)
    requested_model: str | None = None  # the name the client asked for


class UpstreamError(Exception):
    """Every model tried failed before anything reached the client."""

    def __init__(self, error: DevflowError, outcome: RequestOutcome) -> None:
        super().__init__(str(error))
        self.error = error
        self.outcome = outcome

    @property
    def status(self) -> int:
        """The HTTP status to answer with."""
        if isinstance(self.error, OpenRouterError) and self.error.status:
            return self.error.status
        return 400 if self.error.category is ErrorCategory.USER else 502


@dataclass
class _Call:
    request: PassthroughRequest
    outcome: RequestOutcome
    chain: list[CatalogModel]
    reservation: Reservation
    started: float


class Passthrough:
    """Runs pass-through requests on a `Gateway`'s parts."""

    def __init__(
        self,
        gateway: Gateway,
        on_event: EventSink | None = None,
        on_outcome: OutcomeSink | None = None,
    ) -> None:
        self.gateway = gateway
        self._emit: EventSink = on_event or (lambda _event: None)
        self._outcome: OutcomeSink = on_outcome or (lambda _request, _outcome: None)

    # ------------------------------------------------------------------ public

    async def send(self, request: PassthroughRequest) -> RelayResult:
        """A non-streamed request; raises BudgetExceededError or UpstreamError."""
        call = self._begin(request)
        try:
            result, model = await self._try_chain(call, stream=False)
        except asyncio.CancelledError:
            self._end(call, None, cancelled=True)
            raise
        assert isinstance(result, RelayResult)
        self._end(call, result, served=model)
        return result

    async def open_stream(self, request: PassthroughRequest) -> AsyncGenerator[bytes, None]:
        """A streamed request, opened up to the first piece of the answer: iterate the
        generator for the SSE frames to send on (closing it early cancels upstream). Raises
        BudgetExceededError or UpstreamError before anything is sent."""
        call = self._begin(request)
        try:
            stream, model = await self._try_chain(call, stream=True)
        except asyncio.CancelledError:
            self._end(call, None, cancelled=True)
            raise
        assert isinstance(stream, RelayStream)
        return self._frames(call, stream, model)

    # ------------------------------------------------------------------ steps

    def _begin(self, request: PassthroughRequest) -> _Call:
        """Decide the models, reserve the worst case, record the request as running."""
        from devflow_tui.accounting.pricing import worst_case_cost
        from devflow_tui.accounting.records import RequestStart, hash_prompt

        gw = self.gateway
        request_id = str(uuid.uuid4())
        if request.model:
            # Pinned: only the classification is needed (for reports); no ranking.
            classification = gw.classifier.classify(request.route_text)
            decision = gw.pin(request.model)
        else:
            classification, decision = gw.decide(
                request.route_text,
                extra_tokens=max(0, request.prompt_tokens - _estimate(request.route_text)),
                max_tokens=request.max_tokens,
                required_capabilities=(
                    frozenset({"tools"}) if request.needs_tools else frozenset()
                ),
            )
        outcome = RequestOutcome(
            request_id=request_id,
            task_type=classification.task_type,
            complexity=classification.complexity,
            requested_model=request.requested_model or request.model,
            fallbacks=list(decision.fallbacks),
            warnings=list(decision.warnings),
        )
        chain = [c.model for c in decision.candidates[:1]]
        chain += [m for m in (gw.catalog.get(f) for f in decision.fallbacks) if m]
        start = RequestStart(
            request_id=request_id,
            ts=time.time(),
            prompt_hash=hash_prompt(request.route_text),
            prompt_tokens=request.prompt_tokens,
            task_type=outcome.task_type,
            complexity=outcome.complexity,
            requested_model=outcome.requested_model,
            model=chain[0].id if chain else None,
            routing_reason=decision.candidates[0].reason if decision.candidates else None,
            client=request.client,
        )
        if not chain:
            why = "; ".join(f"{m}: {r}" for m, r in decision.excluded[:5]) or "empty catalog"
            error = DevflowError(
                f"No model can take this request ({why}).",
                hint="Lower max_tokens, or map the model name to a fixed model in [serve.models].",
            )
            self._refuse(request, start, outcome, error, ErrorCategory.USER)
            raise UpstreamError(error, outcome)
        self._emit(
            RoutingDecided(
                request_id=request_id,
                task_type=classification.task_type,
                complexity=classification.complexity,
                signals=tuple(classification.signals),
                model=chain[0].id,
                candidates=(),
                fallbacks=tuple(decision.fallbacks),
                warnings=tuple(decision.warnings),
            )
        )
        # The most the first model can bill: what is sent is capped at its output limit.
        limit = chain[0].max_completion_tokens or request.max_tokens
        worst = worst_case_cost(
            chain[0].prices, request.prompt_tokens, min(request.max_tokens, limit)
        )
        try:
            reservation = gw.budget.reserve(request_id, worst)
        except BudgetExceededError as exc:
            outcome.budget = gw.budget.status()
            self._refuse(request, start, outcome, exc, ErrorCategory.BUDGET)
            raise
        gw.store.begin_request(start)
        return _Call(request, outcome, chain, reservation, time.perf_counter())

    def _refuse(
        self,
        request: PassthroughRequest,
        start: Any,
        outcome: RequestOutcome,
        error: DevflowError,
        category: ErrorCategory,
    ) -> None:
        """Record a request that is never sent (nothing reaches OpenRouter)."""
        outcome.status = "refused" if category is ErrorCategory.BUDGET else "error"
        outcome.error_category = category.value
        outcome.error_message = str(error)
        self.gateway.store.begin_request(start)
        self._record(request, outcome, error.hint)

    def _record(
        self, request: PassthroughRequest, outcome: RequestOutcome, hint: str | None = None
    ) -> None:
        """Write the finished request (its one row) and tell the listeners."""
        self.gateway.store.finish_request(outcome.request_id, outcome)
        self._outcome(request, outcome)
        if outcome.status == "ok":
            self._emit(Completed(outcome.request_id, outcome))
        else:
            category = outcome.error_category or "provider"
            message = outcome.error_message or ""
            self._emit(Failed(outcome.request_id, outcome, category, message, hint))

    async def _try_chain(
        self, call: _Call, *, stream: bool
    ) -> tuple[RelayResult | RelayStream, CatalogModel]:
        """Each model of the chain in turn, as the fallback policy says."""
        gw = self.gateway
        request = call.request
        chain_ids = [m.id for m in call.chain]
        tried: list[str] = []
        index = 0
        failure: DevflowError | None = None
        while index < len(call.chain):
            model = call.chain[index]
            if index > 0 and not gw.health.is_available(model.id):
                tried.append(model.id)
                index += 1
                continue
            body = _body_for(request, model)

            def on_attempt(record: Any, _model: str = model.id) -> None:
                # Written with the outcome (finish_request adds unrecorded attempts): one
                # commit fewer per request on the proxy's hot path.
                call.outcome.attempts.append(record)
                if record.error:
                    gw.health.record_failure(_model, record.error)

            try:
                if stream:
                    opened: RelayResult | RelayStream = await gw.client.relay_stream(
                        request.api, body, headers=request.headers, on_attempt=on_attempt
                    )
                else:
                    opened = await gw.client.relay(
                        request.api, body, headers=request.headers, on_attempt=on_attempt
                    )
                return opened, model
            except OpenRouterError as exc:
                failure = exc
            step = next_step(
                failure,
                failed_model=model.id,
                chain=chain_ids,
                tried=tried,
                catalog=gw.catalog,
                health=gw.health,
            )
            tried.append(model.id)
            if step.action == "stop" or step.model is None:
                break
            index = chain_ids.index(step.model)
        error = failure or DevflowError(
            "No model could be tried: every model of the chain is cooling down after failures.",
            hint="Retry shortly, or map the model name to a fixed model.",
        )
        outcome = call.outcome
        outcome.status = "error"
        outcome.error_category = error.category.value
        outcome.error_message = str(error)
        outcome.model = call.chain[0].id
        self._settle(call)
        self._record(request, outcome, error.hint)
        raise UpstreamError(error, outcome)

    async def _frames(
        self, call: _Call, stream: RelayStream, model: CatalogModel
    ) -> AsyncGenerator[bytes, None]:
        failure: OpenRouterError | None = None
        cancelled = False
        try:
            async for frame in stream.frames():
                yield frame
        except OpenRouterError as exc:
            failure = exc
        except (asyncio.CancelledError, GeneratorExit):
            cancelled = True
            raise
        finally:
            # Recorded before any further await: a cancelled task may not get to run another.
            self._end(call, stream.result(), served=model, failure=failure, cancelled=cancelled)
            await stream.aclose()

    def _end(
        self,
        call: _Call,
        result: RelayResult | None,
        *,
        served: CatalogModel | None = None,
        failure: OpenRouterError | None = None,
        cancelled: bool = False,
    ) -> None:
        """Price, settle and record the request (exactly once), and tell the listeners."""
        from devflow_tui.accounting.pricing import resolve_cost

        gw = self.gateway
        outcome = call.outcome
        if result is not None:
            priced = gw.catalog.get(result.model or "") or served
            outcome.model = result.model or (served.id if served else None)
            outcome.generation_id = result.generation_id
            outcome.finish_reason = result.stop_reason
            outcome.text = result.text
            outcome.latency_ms = round(result.latency_ms, 2)
            outcome.ttft_ms = round(result.ttft_ms, 2) if result.ttft_ms is not None else None
            usage = result.usage
            if usage is not None:
                outcome.prompt_tokens = usage.prompt_tokens
                outcome.completion_tokens = usage.completion_tokens
                outcome.reasoning_tokens = usage.reasoning_tokens
                outcome.cached_tokens = usage.cached_tokens
            cost, source = resolve_cost(usage, priced.prices if priced else None)
            if cost is None and outcome.text and priced is not None:
                cost, source = _estimate_partial(priced, outcome, call.request.prompt_tokens)
            outcome.cost_usd, outcome.cost_source = cost, source
            gen_ms = generation_ms(result.latency_ms, result.ttft_ms)
            rate = tokens_per_s(outcome.completion_tokens, gen_ms)
            outcome.tokens_per_s = round(rate, 1) if rate is not None else None
            cut = result.stop_reason in ("max_tokens", "length")
            outcome.complete = result.complete and not cut
        if cancelled:
            outcome.status = "cancelled"
            outcome.error_category = ErrorCategory.CANCELLED.value
            outcome.error_message = "The client closed the connection; the partial answer counts."
        elif failure is not None:
            outcome.status = "error"
            outcome.error_category = failure.category.value
            outcome.error_message = str(failure)
            outcome.complete = False
        elif result is not None and result.complete:
            outcome.status = "ok"
            gw.health.record_success(
                outcome.model or "",
                latency_ms=result.latency_ms,
                ttft_ms=result.ttft_ms or result.latency_ms,
                tokens_per_s=outcome.tokens_per_s or 0.0,
            )
        else:
            outcome.status = "error"
            outcome.error_category = ErrorCategory.INVALID_RESPONSE.value
            outcome.error_message = "The answer ended before it was complete."
        self._settle(call)
        self._record(call.request, outcome)

    def _settle(self, call: _Call) -> None:
        gw = self.gateway
        outcome = call.outcome
        unbilled = outcome.cost_usd is None and outcome.completion_tokens == 0 and not outcome.text
        if unbilled and outcome.status != "ok":
            gw.budget.release(call.reservation)  # nothing was billed
            outcome.budget = gw.budget.status()
            return
        gw.budget.settle(call.reservation, outcome.cost_usd)
        outcome.budget = gw.budget.status()


def _body_for(request: PassthroughRequest, model: CatalogModel) -> dict[str, Any]:
    """The client's body for `model`: its id, and max tokens within the model's own limit
    (a routed model may allow fewer output tokens than the one the client had in mind)."""
    body = {**request.body, "model": model.id}
    limit = model.max_completion_tokens
    for name in ("max_tokens", "max_completion_tokens"):
        asked = body.get(name)
        if limit and isinstance(asked, int) and asked > limit:
            body[name] = limit
    return body


def _estimate(text: str) -> int:
    from devflow_tui.context.tokens import estimate_tokens

    return estimate_tokens(text)


def _estimate_partial(
    model: CatalogModel, outcome: RequestOutcome, prompt_tokens: int
) -> tuple[Decimal | None, Any]:
    """A cut-off answer got no usage: price the prompt and the text that did arrive."""
    from devflow_tui.accounting.pricing import compute_cost
    from devflow_tui.openrouter.wire import Usage

    outcome.prompt_tokens = outcome.prompt_tokens or prompt_tokens
    outcome.completion_tokens = outcome.completion_tokens or _estimate(outcome.text)
    usage = Usage(prompt_tokens=outcome.prompt_tokens, completion_tokens=outcome.completion_tokens)
    cost = compute_cost(model.prices, usage)
    return cost, ("estimated" if cost is not None else "unknown")
