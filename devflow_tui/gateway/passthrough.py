"""Pass-through requests: a client's own Anthropic Messages or OpenAI chat body through the
same gateway core as `devflow ask`: routing (`Gateway.decide`), the response cache (for text
requests that are safe to answer again), budgets, retries and fallback before the first byte,
cost (reported, else estimated from the catalog; reconciled later from /generation), health,
and one row per request in the analytics store.

Every store write goes through the gateway's recorder, off the event loop, and every request
ends in the gateway's own `close_books` job (the one `devflow ask` ends in): pricing, budget
settlement, the row and the cache are written in one place. The closing job is queued when the
last byte has been handed to the client, so the client never waits for the database.

The body goes on unchanged but for its model id: tools, thinking, system blocks, beta fields
and OpenRouter extras pass through. What the client gets back is what OpenRouter answered, or,
on a cache hit, the stored text in the same API shape, streamed or not, at no cost.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from devflow_tui.errors import BudgetExceededError, DevflowError, ErrorCategory, OpenRouterError
from devflow_tui.gateway.events import (
    BudgetAlert,
    CacheHit,
    Completed,
    Failed,
    GatewayEvent,
    RequestOutcome,
    RoutingDecided,
)
from devflow_tui.gateway.pipeline import PROGRESS_EVERY_S, price_answer, serve_cached
from devflow_tui.openrouter.relay import (
    Api,
    Encoded,
    RelayResult,
    RelayStream,
    Replay,
    encode_body,
)
from devflow_tui.routing.fallback import next_step

if TYPE_CHECKING:
    from devflow_tui.accounting.cache import CachedAnswer
    from devflow_tui.accounting.records import RequestStart
    from devflow_tui.gateway.pipeline import Gateway
    from devflow_tui.routing.catalog import CatalogModel

log = logging.getLogger(__name__)

EventSink = Callable[[GatewayEvent], None]
OutcomeSink = Callable[["PassthroughRequest", RequestOutcome], None]
# Stop reasons of an answer that ended by itself (a replay says the same).
NATURAL_ENDS = frozenset({"end_turn", "stop"})
CACHE_HEADER = "x-devflow-cache"


@dataclass
class PassthroughRequest:
    """One proxied request, as the front end read it."""

    api: Api
    # The client's body; its "model" is replaced by the routed id. Once it has been encoded
    # for the first model it is let go (None): `sent` keeps those bytes for a fallback.
    body: dict[str, Any] | None
    client: str  # who sent it ("claude-code", "openai-sdk", ...)
    route_text: str  # what the classifier reads: the last user turn
    prompt_tokens: int  # estimate of everything sent
    max_tokens: int
    model: str | None = None  # a pinned OpenRouter id; None: route
    needs_tools: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # sent on (anthropic-beta, ...)
    member: str | None = None  # the team member whose token was sent; their budget applies
    requested_model: str | None = None  # the name the client asked for
    cacheable: bool = False  # text only, no tools, no opt-out: the cache may answer it
    sent: Encoded | None = None  # the body as first sent, once `body` is let go
    asked_limits: dict[str, Any] = field(default_factory=dict)  # the client's max tokens


@dataclass
class OpenedStream:
    """A streamed answer to send on: its SSE frames, and the response headers that go with
    them (the generation id; a cache hit says so). Once `ended()` says the answer is whole,
    the response can be ended: what the frames still do is the request's bookkeeping."""

    frames: AsyncGenerator[bytes, None]
    headers: dict[str, str]
    ended: Callable[[], bool] = lambda: False


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
    """One request between its routing and its closing job. The recorder's jobs set
    `begun` on its thread, in order."""

    request: PassthroughRequest
    outcome: RequestOutcome
    chain: list[CatalogModel]
    start: RequestStart
    cache_key: str | None = None
    hit: CachedAnswer | None = None
    begun: bool = False
    hint: str | None = None  # what to do about a failure
    opening: asyncio.TimerHandle | None = None  # the running row, written if still running
    closed: bool = False


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
        call = self._route(request)
        try:
            hit = await self._open(call)
            if hit is not None:
                return hit.result(call.request.api)
            result, model = await self._try_chain(call, stream=False)
        except asyncio.CancelledError:
            self._end(call, None, cancelled=True)
            raise
        assert isinstance(result, RelayResult)
        self._end(call, result, served=model)
        return result

    async def open_stream(self, request: PassthroughRequest) -> OpenedStream:
        """A streamed request, opened up to the first piece of the answer: iterate its
        frames for the SSE events to send on (closing them early cancels upstream). Raises
        BudgetExceededError or UpstreamError before anything is sent."""
        call = self._route(request)
        try:
            hit = await self._open(call)
            if hit is not None:
                frames = _replayed(hit.frames(call.request.api))
                return OpenedStream(frames, {CACHE_HEADER: "hit"})
            stream, model = await self._try_chain(call, stream=True)
        except asyncio.CancelledError:
            self._end(call, None, cancelled=True)
            raise
        assert isinstance(stream, RelayStream)
        # What was sent was for a fallback, now past: a stream can run for minutes.
        request.sent = None
        meter = stream.meter
        return OpenedStream(
            self._frames(call, stream, model), dict(stream.headers), lambda: meter.done
        )

    # ------------------------------------------------------------------ steps

    def _route(self, request: PassthroughRequest) -> _Call:
        """Decide the models; a request no model can take is recorded and refused."""
        from devflow_tui.accounting.records import RequestStart, hash_prompt

        gw = self.gateway
        request_id = str(uuid.uuid4())
        if request.model:
            # Pinned: only the classification is needed (for reports); no ranking.
            classification = gw.classify(request.route_text)
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
            member=request.member,
        )
        call = _Call(request, outcome, chain, start)
        if not chain:
            from devflow_tui.gateway.unroutable import unroutable_error

            error = unroutable_error(
                decision,
                max_tokens="max_tokens",
                also="map the model name to a fixed model in [serve.models]",
            )
            self._fail(call, error)
            self._close(call)
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
        return call

    async def _open(self, call: _Call) -> _Hit | None:
        """The cached answer, when there is one; else reserve the worst case and record the
        request as running. Raises BudgetExceededError (recorded) when it does not fit."""
        from devflow_tui.accounting.pricing import worst_case_cost

        gw = self.gateway
        request = call.request
        first = call.chain[0]
        if request.cacheable and gw.settings.cache.enabled and gw.cache.enabled:
            call.cache_key = gw.cache.key_for(_cache_inputs(request, first))
            hit = await gw.recorder.call(gw.cache.get, call.cache_key)
            if hit is not None:
                return self._serve_hit(call, hit)
        # The most the first model can bill: what is sent is capped at its output limit.
        limit = first.max_completion_tokens or request.max_tokens
        worst = worst_case_cost(first.prices, request.prompt_tokens, min(request.max_tokens, limit))
        if not gw.budget.active and request.member is None:
            # Nothing to refuse, so nothing to write before sending: a request still running
            # after a moment gets its running row then (for the dashboard, and to be counted
            # if the process is killed); a short one only gets its closing job.
            loop = asyncio.get_running_loop()
            call.opening = loop.call_later(PROGRESS_EVERY_S, self._open_late, call, worst)
            return None
        try:
            await gw.recorder.call(self._open_books, call, worst)
        except BudgetExceededError as exc:
            self._fail(call, exc)
            self._close(call)
            raise
        return None

    def _open_late(self, call: _Call, worst: Any) -> None:
        if not call.closed:
            self.gateway.recorder.post(self._open_books, call, worst)

    def _open_books(self, call: _Call, worst: Any) -> None:
        """Recorder job: reserve the worst case and write the running row, both in one round
        trip on PostgreSQL (a refused request keeps its row: the closing job finishes it)."""
        gw = self.gateway
        request_id, member = call.outcome.request_id, call.request.member
        if call.start.escalation_of is not None:  # begin_request runs a transaction then
            gw.budget.reserve(request_id, worst, member)
            gw.store.begin_request(call.start)
            call.begun = True
            return
        with gw.store.batched():
            answer = gw.budget.reserve_sent(request_id, worst, member)
            gw.store.begin_request(call.start)
        call.begun = True
        answer()  # raises BudgetExceededError when refused

    def _serve_hit(self, call: _Call, hit: CachedAnswer) -> _Hit:
        """A cache hit: the stored answer at no cost, recorded as a hit."""
        outcome = call.outcome
        call.hit = hit
        serve_cached(outcome, hit)
        self._emit(CacheHit(outcome.request_id, hit.model, hit.cost_usd))
        self._close(call)
        replay = Replay(
            answer_id=outcome.request_id.replace("-", ""),
            model=hit.model,
            text=hit.text,
            prompt_tokens=hit.prompt_tokens,
            completion_tokens=hit.completion_tokens,
        )
        return _Hit(replay)

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
            body = _encode(request, model, stream=stream)

            def on_attempt(record: Any, _model: str = model.id) -> None:
                # Written with the outcome (finish_request adds unrecorded attempts): one
                # store write fewer per request.
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
        call.outcome.model = call.chain[0].id
        self._fail(call, error)
        self._close(call)
        raise UpstreamError(error, call.outcome)

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
            # Queued before any further await: a cancelled task may not get to run another.
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
        """Read the answer into the outcome and queue the request's closing job."""
        if call.closed:
            return
        gw = self.gateway
        outcome = call.outcome
        if result is not None:
            priced = gw.catalog.get(result.model or "") or served
            outcome.model = result.model or (served.id if served else None)
            outcome.generation_id = result.generation_id
            outcome.finish_reason = result.stop_reason
            outcome.text = result.text
            prices = priced.prices if priced else None
            price_answer(outcome, result.usage, prices, result.latency_ms, result.ttft_ms)
            cut = result.stop_reason in ("max_tokens", "length")
            outcome.complete = result.complete and not cut
        if cancelled:
            outcome.status = "cancelled"
            outcome.error_category = ErrorCategory.CANCELLED.value
            outcome.error_message = "The client closed the connection; the partial answer counts."
        elif failure is not None:
            outcome.complete = False
            self._fail(call, failure)
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
        replayable = (
            result is not None
            and result.text_only
            and bool(outcome.text)
            and result.stop_reason in NATURAL_ENDS
        )
        if not replayable:
            call.cache_key = None
        self._close(call)

    def _fail(self, call: _Call, error: DevflowError) -> None:
        outcome = call.outcome
        refused = isinstance(error, BudgetExceededError)
        outcome.status = "refused" if refused else "error"
        outcome.error_category = error.category.value
        outcome.error_message = str(error)
        call.hint = error.hint

    def _close(self, call: _Call) -> None:
        """Queue the request's one closing job (the gateway's `close_books`) and tell the
        listeners once it has run."""
        if call.closed:
            return
        call.closed = True
        if call.opening is not None:
            call.opening.cancel()
        done = self.gateway.recorder.submit(self._close_books, call)
        done.add_done_callback(functools.partial(self._closed, call))

    def _close_books(self, call: _Call) -> list[BudgetAlert]:
        """Recorder job: the gateway's closing job, with the running row written first when
        the request never got one (refused, cancelled early, or a cache hit)."""
        gw = self.gateway
        begin = None if call.begun else functools.partial(gw.store.begin_request, call.start)
        return gw.close_books(
            call.outcome,
            prompt_tokens=call.request.prompt_tokens,
            hit=call.hit,
            cache_key=call.cache_key,
            begin=begin,
        )

    def _closed(self, call: _Call, done: asyncio.Future[list[BudgetAlert]]) -> None:
        outcome = call.outcome
        if done.cancelled():
            return
        error = done.exception()
        if error is not None:
            log.warning("recording request %s failed: %s", outcome.request_id, error)
            alerts: list[BudgetAlert] = []
        else:
            alerts = done.result()
        self._outcome(call.request, outcome)
        for alert in alerts:
            self._emit(alert)
        if outcome.status == "ok":
            self._emit(Completed(outcome.request_id, outcome))
        else:
            category = outcome.error_category or "provider"
            message = outcome.error_message or ""
            self._emit(Failed(outcome.request_id, outcome, category, message, call.hint))


@dataclass(frozen=True)
class _Hit:
    """A cached answer, ready to hand back in either shape."""

    replay: Replay

    def result(self, api: Api) -> RelayResult:
        return RelayResult(
            status=200,
            headers={CACHE_HEADER: "hit"},
            body=self.replay.body(api),
            model=self.replay.model,
            generation_id=None,
            usage=None,
            stop_reason="stop",
            text=self.replay.text,
            complete=True,
            latency_ms=0.0,
            ttft_ms=0.0,
            text_only=True,
        )

    def frames(self, api: Api) -> list[bytes]:
        return self.replay.frames(api)


async def _replayed(frames: list[bytes]) -> AsyncGenerator[bytes, None]:
    for piece in frames:
        yield piece


def _cache_inputs(request: PassthroughRequest, model: CatalogModel) -> dict[str, Any]:
    """What a proxied answer depends on: the API, the body as sent to `model` (a streamed and
    a non-streamed request share one entry) and the headers sent on."""
    body = {k: v for k, v in _body_for(request, model).items() if k not in _NOT_IN_KEY}
    return {"api": request.api, "body": body, "headers": request.headers}


_NOT_IN_KEY = frozenset({"stream", "stream_options"})


_LIMITS = ("max_tokens", "max_completion_tokens")


def _body_for(request: PassthroughRequest, model: CatalogModel) -> dict[str, Any]:
    """The client's body for `model`: its id, and max tokens within the model's own limit
    (a routed model may allow fewer output tokens than the one the client had in mind)."""
    if request.body is not None:
        body = {**request.body, "model": model.id}
    else:  # a fallback: the body as first sent, with the client's own limits
        assert request.sent is not None
        import orjson

        body = {**orjson.loads(request.sent.payload), **request.asked_limits, "model": model.id}
    limit = model.max_completion_tokens
    for name in _LIMITS:
        asked = body.get(name)
        if limit and isinstance(asked, int) and asked > limit:
            body[name] = limit
    return body


def _encode(request: PassthroughRequest, model: CatalogModel, *, stream: bool) -> Encoded:
    """The body for `model` as sent. The first time, the parsed body is let go and the bytes
    kept instead (for a fallback, parsed again then): a Claude Code body is ~120 KB as
    objects against ~65 KB as bytes, and at 100 streams a hundred of them wait for upstream
    at once."""
    encoded = Encoded(encode_body(_body_for(request, model), stream=stream), model.id)
    if request.body is not None:
        request.asked_limits = {k: request.body[k] for k in _LIMITS if k in request.body}
        request.body = None
        request.sent = encoded
    return encoded


def _estimate(text: str) -> int:
    from devflow_tui.context.tokens import estimate_tokens

    return estimate_tokens(text)
