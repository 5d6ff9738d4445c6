"""The gateway end to end against the simulated OpenRouter: events, fallbacks, budgets, cache."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.accounting.reports import build_report
from devflow_tui.context.errors import ContextWindowError
from devflow_tui.gateway.events import (
    AttemptFailed,
    AttemptStarted,
    BudgetAlert,
    CacheHit,
    ChunkReceived,
    Completed,
    Failed,
    FirstToken,
    GatewayEvent,
    RoutingDecided,
)
from devflow_tui.gateway.pipeline import GatewayRequest, PreparedRequest
from devflow_tui.sim import Fault, SimServer
from tests.gateway.conftest import GatewayFactory

FREE_MODEL = "meta-llama/llama-3.3-70b-instruct:free"  # the one model a $0 budget can pay for
CODE_PROMPT = "Write a Python function that parses an ISO 8601 date and add unit tests."


def chat_requests(sim: SimServer) -> list[object]:
    return [r for r in sim.requests if r.path == "/chat/completions"]


async def test_streamed_request_emits_events_in_order_and_is_recorded(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    events: list[GatewayEvent] = []
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT), events.append)

    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "RoutingDecided"
    assert kinds[1] == "AttemptStarted"
    assert kinds[2] == "FirstToken"
    assert kinds[-1] == "Completed"
    assert kinds.count("Completed") == 1
    decided = events[0]
    assert isinstance(decided, RoutingDecided)
    assert decided.task_type == "coding"
    assert decided.candidates and decided.model == decided.candidates[0].model

    streamed = "".join(e.text for e in events if isinstance(e, ChunkReceived))
    assert streamed == outcome.text
    assert "[simulated answer" in outcome.text
    assert outcome.status == "ok" and outcome.complete
    assert outcome.model == decided.model
    assert outcome.cost_source == "reported"
    assert outcome.cost_usd is not None and outcome.cost_usd > 0
    assert outcome.generation_id and outcome.generation_id.startswith("gen-")
    assert len(outcome.attempts) == 1 and outcome.attempts[0].status == 200

    row = gateway.store.get_request(outcome.request_id)
    assert row is not None
    assert row.status == "ok"
    assert row.model == outcome.model
    assert Decimal(str(row.cost_usd)) == outcome.cost_usd
    assert row.completion_tokens == outcome.completion_tokens
    messages = gateway.store.load_conversation((outcome.request_id and row.conversation_id) or "")
    assert [m.role for m in messages] == ["user", "assistant"]
    # the server billed exactly what we recorded
    assert sim.spent == outcome.cost_usd


async def test_non_streamed_request(make_gateway: GatewayFactory, sim: SimServer) -> None:
    gateway = await make_gateway()
    outcome = await gateway.run(GatewayRequest(prompt="hi there!", stream=False))
    assert outcome.status == "ok" and outcome.text
    body = chat_requests(sim)[-1].json  # type: ignore[attr-defined]
    assert body["stream"] is False


async def test_503_then_fallback_to_next_model(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    decision = gateway.prepare(GatewayRequest(prompt=CODE_PROMPT)).decision
    first = decision.candidates[0].model.id
    sim.add_fault(Fault(kind="http_error", status=503, model=first, times=None))
    events: list[GatewayEvent] = []
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT), events.append)

    assert outcome.status == "ok"
    assert outcome.model == decision.fallbacks[0]
    assert [a.model for a in outcome.attempts] == [first, first, decision.fallbacks[0]]
    assert [a.status for a in outcome.attempts] == [503, 503, 200]
    failed = [e for e in events if isinstance(e, AttemptFailed)]
    assert len(failed) == 2 and all(e.record.error == "provider" for e in failed)
    # Each failure says what really followed: the client's retry, then the fallback.
    assert [(e.retryable, e.next_model) for e in failed] == [
        (True, first),
        (False, decision.fallbacks[0]),
    ]
    started = [e.model for e in events if isinstance(e, AttemptStarted)]
    assert started == [first, decision.fallbacks[0]]
    assert (gateway.health.stats(first).success_rate or 0.0) < 1.0
    attempts = gateway.store.attempts_for(outcome.request_id)
    assert [a.status for a in attempts] == [503, 503, 200]


async def test_network_down_fails_fast_without_cooling_models_down(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway(max_retries=3)
    decision = gateway.prepare(GatewayRequest(prompt=CODE_PROMPT)).decision
    assert len(decision.fallbacks) >= 2
    sim.stop()  # the port now refuses connections, as when the network is down
    events: list[GatewayEvent] = []
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT), events.append)

    assert outcome.status == "error" and outcome.error_category == "network_down"
    assert "Cannot reach OpenRouter" in (outcome.error_message or "")
    first = decision.candidates[0].model.id
    assert [a.model for a in outcome.attempts] == [first]
    assert [e.model for e in events if isinstance(e, AttemptStarted)] == [first]
    assert gateway.health.cooldowns() == {}
    assert all(gateway.health.is_available(m) for m in (first, *decision.fallbacks))


async def test_context_length_error_moves_to_a_larger_model(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    """Nothing to trim (no context): the same request is never sent again to the same model."""
    gateway = await make_gateway()
    decision = gateway.prepare(GatewayRequest(prompt=CODE_PROMPT)).decision
    first = decision.candidates[0].model
    sim.add_fault(
        Fault(
            kind="http_error",
            status=400,
            error_type="context_length_exceeded",
            model=first.id,
            times=1,
        )
    )
    events: list[GatewayEvent] = []
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT), events.append)
    assert outcome.status == "ok"
    served = gateway.catalog.get(outcome.model or "")
    assert served is not None
    assert (served.context_length or 0) > (first.context_length or 0)
    assert [a.status for a in outcome.attempts] == [400, 200]
    assert [r.json["model"] for r in chat_requests(sim)] == [first.id, served.id]  # type: ignore[attr-defined]
    failed = [e for e in events if isinstance(e, AttemptFailed)]
    assert [e.next_model for e in failed] == [served.id]


async def test_context_length_with_no_larger_fallback_takes_a_larger_routed_candidate(
    make_gateway: GatewayFactory, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback chain has no larger window: the routed candidate with the next larger
    window takes the request, announced as the real next step."""
    gateway = await make_gateway()
    real_prepare = gateway.prepare

    def no_fallbacks(request: GatewayRequest) -> PreparedRequest:
        prepared = real_prepare(request)
        decision = dataclasses.replace(prepared.decision, fallbacks=[])
        return dataclasses.replace(prepared, decision=decision)

    monkeypatch.setattr(gateway, "prepare", no_fallbacks)
    first = no_fallbacks(GatewayRequest(prompt=CODE_PROMPT)).decision.candidates[0].model
    sim.add_fault(
        Fault(kind="http_error", status=400, error_type="context_length_exceeded",
              model=first.id, times=None)
    )  # fmt: skip
    events: list[GatewayEvent] = []
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT), events.append)
    assert outcome.status == "ok"
    served = gateway.catalog.get(outcome.model or "")
    assert served is not None and served.context_length > first.context_length
    assert [r.json["model"] for r in chat_requests(sim)] == [first.id, served.id]  # type: ignore[attr-defined]
    assert [e.next_model for e in events if isinstance(e, AttemptFailed)] == [served.id]
    assert served.id in outcome.fallbacks


def _context_file(tmp_path: Path, tokens: int) -> Path:
    """A prose file of roughly `tokens` estimated tokens (about 5.5 characters each)."""
    line = "The scheduler picks the job with the earliest deadline among those ready to run.\n"
    path = tmp_path / "notes.md"
    path.write_text(line * (tokens * 55 // 10 // len(line)))
    return path


async def test_context_length_error_refits_tighter_on_same_model(
    make_gateway: GatewayFactory, sim: SimServer, tmp_path: Path
) -> None:
    """With context to trim, one tighter (so different) request goes to the same model."""
    gateway = await make_gateway()
    sim.add_fault(
        Fault(kind="http_error", status=400, error_type="context_length_exceeded", times=1)
    )
    request = GatewayRequest(
        prompt="Summarise these notes.",
        model="openai/gpt-3.5-turbo",  # a 16,385-token window
        context_specs=[str(_context_file(tmp_path, 15_000))],
        max_tokens=500,
    )
    outcome = await gateway.run(request)
    assert outcome.status == "ok"
    assert outcome.model == "openai/gpt-3.5-turbo"
    assert [a.status for a in outcome.attempts] == [400, 200]
    first, second = (r.json for r in chat_requests(sim))  # type: ignore[attr-defined]
    assert len(str(second["messages"])) < len(str(first["messages"]))


async def test_context_length_error_with_nothing_to_trim_is_not_resent_to_a_pinned_model(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    sim.add_fault(
        Fault(kind="http_error", status=400, error_type="context_length_exceeded", times=None)
    )
    pinned = "openai/gpt-4o-mini"
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT, model=pinned))
    assert outcome.status == "error" and outcome.error_category == "user"
    assert len(chat_requests(sim)) == 1  # before: an identical second request


async def test_every_model_failing_names_them_all_and_files_the_row_under_one(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway(max_retries=0)
    sim.add_fault(Fault(kind="http_error", status=500, times=None))
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    tried = list(dict.fromkeys(a.model for a in outcome.attempts))
    assert outcome.status == "error" and len(tried) > 1
    message = outcome.error_message or ""
    assert message.startswith(f"Every model tried failed ({', '.join(tried)}); the last: ")
    assert "choose another model" not in message and message.endswith("Retry later.")
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and row.model == tried[-1]  # not "(none)" in reports


async def test_a_stop_after_another_model_failed_keeps_its_own_fix(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    """A 503, then a 402 on the fallback: the message said "Every model tried failed … Retry
    later", which dropped the 402's own fix (add credits)."""
    gateway = await make_gateway(max_retries=0)
    sim.add_fault(Fault(kind="http_error", status=503, times=1))
    sim.add_fault(Fault(kind="http_error", status=402, times=None))
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    assert len({a.model for a in outcome.attempts}) == 2
    assert outcome.error_category == "credits"
    message = outcome.error_message or ""
    assert "Every model tried failed" not in message and "Retry later" not in message


@pytest.mark.parametrize(
    ("status", "category"), [(402, "credits"), (401, "auth"), (403, "moderation")]
)
async def test_stop_errors_do_not_fall_back(
    make_gateway: GatewayFactory, sim: SimServer, status: int, category: str
) -> None:
    gateway = await make_gateway()
    sim.add_fault(Fault(kind="http_error", status=status, times=None))
    events: list[GatewayEvent] = []
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT), events.append)
    assert outcome.status == "error"
    assert outcome.error_category == category
    assert len(chat_requests(sim)) == 1
    assert isinstance(events[-1], Failed)
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and row.status == "error" and row.error_category == category


async def test_mid_stream_error_is_not_retried_elsewhere(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    sim.add_fault(Fault(kind="mid_stream_error", after_chunks=3, status=502))
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    assert outcome.status == "error"
    assert not outcome.complete
    assert outcome.text  # the partial answer is kept
    assert len(chat_requests(sim)) == 1
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and row.status == "error" and not row.complete
    # no usage came back: the tokens that did arrive are priced from the catalog
    assert outcome.cost_source == "estimated"
    assert outcome.cost_usd is not None and outcome.cost_usd > 0
    assert outcome.completion_tokens > 0
    # The cut-off answer's generation is kept, so reconcile can replace the estimate.
    (generation,) = sim.generations
    assert outcome.generation_id == generation and row.generation_id == generation
    drifts = await gateway.reconcile()
    assert [d.request_id for d in drifts] == [outcome.request_id]
    billed = gateway.store.get_request(outcome.request_id)
    assert billed is not None and billed.billed_cost_usd is not None


async def test_cancel_keeps_partial_answer(make_gateway: GatewayFactory, sim: SimServer) -> None:
    gateway = await make_gateway()
    sim.config.time_scale = 1.0
    sim.config.answer_tokens = 3000  # a long stream at the model's real pace
    got_chunks = asyncio.Event()
    chunks: list[str] = []
    ended: list[Failed] = []
    streaming: list[str] = []

    def on_event(event: GatewayEvent) -> None:
        if isinstance(event, FirstToken):
            streaming.append(event.model)
        if isinstance(event, Failed):
            ended.append(event)
        if isinstance(event, ChunkReceived):
            chunks.append(event.text)
            if len(chunks) >= 3:
                got_chunks.set()

    task = asyncio.create_task(gateway.run(GatewayRequest(prompt=CODE_PROMPT), on_event))
    await asyncio.wait_for(got_chunks.wait(), 20)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sim.wait_until_done(timeout_s=10)
    assert chat_requests(sim)[-1].cancelled  # type: ignore[attr-defined]
    row = gateway.store.recent_requests(5)[0]
    assert row.status == "cancelled"
    assert not row.complete
    messages = gateway.store.load_conversation(row.conversation_id or "")
    assert messages[-1].role == "assistant"
    assert messages[-1].content == "".join(chunks)
    assert row.cost_source == "estimated" and row.completion_tokens > 0
    # QA2 finding 10: the cancelled outcome, as the front ends get it, names the model that
    # streamed the partial answer and its times, as the row does.
    (failed,) = ended
    outcome = failed.outcome
    assert failed.category == "cancelled" and outcome.status == "cancelled"
    assert outcome.model == row.model == streaming[0]
    assert outcome.latency_ms is not None and outcome.ttft_ms is not None
    assert 0 < outcome.ttft_ms < outcome.latency_ms
    assert (row.latency_ms, row.ttft_ms) == (outcome.latency_ms, outcome.ttft_ms)
    assert (row.cost_usd, row.completion_tokens) == (outcome.cost_usd, outcome.completion_tokens)
    # What the cancelled generation cost in the end is asked for by its id.
    assert row.generation_id is not None and row.generation_id in sim.generations


async def test_a_front_end_that_raises_mid_answer_ends_the_request_as_cancelled(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    """A sink that fails (`ask` writing into a closed pipe) used to skip the closing of the
    books: the row stayed `running` with no cost. The sink's exception still reaches the
    caller; the request is recorded as cancelled with what arrived."""
    gateway = await make_gateway()
    chunks: list[str] = []

    def on_event(event: GatewayEvent) -> None:
        if isinstance(event, ChunkReceived):
            chunks.append(event.text)
            if len(chunks) == 2:
                raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(BrokenPipeError):
        await gateway.run(GatewayRequest(prompt=CODE_PROMPT), on_event)
    row = gateway.store.recent_requests(5)[0]
    assert (row.status, row.complete, row.cost_source) == ("cancelled", False, "estimated")
    assert row.completion_tokens > 0
    assert "could not be delivered (BrokenPipeError)" in (row.error_message or "")


async def test_an_internal_error_mid_request_is_recorded_not_left_running(
    make_gateway: GatewayFactory, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = await make_gateway()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(gateway, "_call_chain", broken)
    with pytest.raises(RuntimeError):
        await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    row = gateway.store.recent_requests(5)[0]
    assert row.status == "cancelled"
    assert "an internal error, please report it (RuntimeError)" in (row.error_message or "")


async def test_a_store_error_mid_request_is_recorded_as_that_error(
    make_gateway: GatewayFactory, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DevflowError of ours (a locked database) was recorded as a user cancellation with
    "an internal error, please report it"; it is an error with its own category and fix."""
    from devflow_tui.accounting.errors import StoreError

    gateway = await make_gateway()

    async def locked(*_args: object, **_kwargs: object) -> None:
        raise StoreError("The analytics database is locked.", hint="Close the other writer.")

    monkeypatch.setattr(gateway, "_call_chain", locked)
    with pytest.raises(StoreError):
        await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    row = gateway.store.recent_requests(5)[0]
    assert (row.status, row.error_category) == ("error", StoreError.category.value)
    assert "locked" in (row.error_message or "") and "report it" not in (row.error_message or "")


async def test_budget_refusal_sends_nothing(make_gateway: GatewayFactory, sim: SimServer) -> None:
    gateway = await make_gateway(cost_budget_usd=Decimal("0.000001"))
    events: list[GatewayEvent] = []
    outcome = await gateway.run(
        GatewayRequest(prompt=CODE_PROMPT, model="anthropic/claude-opus-4.1"), events.append
    )
    assert outcome.status == "refused"
    assert outcome.error_category == "budget"
    assert "budget" in (outcome.error_message or "").lower()
    assert chat_requests(sim) == []
    assert isinstance(events[-1], Failed)


@pytest.mark.parametrize("limit", ["0", "0.0000001"])
async def test_a_budget_no_model_fits_is_a_refusal_naming_it(
    make_gateway: GatewayFactory, sim: SimServer, limit: str
) -> None:
    """Routed (not pinned), no free model: the budget excluded every model. Before, this was
    a USER error "No model can take this request" (exit 6) that never named the budget."""
    gateway = await make_gateway(cost_budget_usd=Decimal(limit))
    gateway.settings.routing.excluded_models.append(FREE_MODEL)
    events: list[GatewayEvent] = []
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT), events.append)
    assert outcome.status == "refused" and outcome.error_category == "budget"
    assert "total budget" in (outcome.error_message or "")
    assert chat_requests(sim) == []
    assert isinstance(events[-1], Failed) and events[-1].category == "budget"
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and row.status == "refused"


async def test_early_failures_are_recorded(make_gateway: GatewayFactory, sim: SimServer) -> None:
    """A pinned model asked for more output than its window holds fails before sending;
    its outcome is still a request row, as `run` promises for every outcome."""
    gateway = await make_gateway()
    pinned = "mistralai/codestral-2508"  # no output cap of its own: max_tokens is taken as is
    request = GatewayRequest(prompt=CODE_PROMPT, model=pinned, max_tokens=10**6)
    outcome = await gateway.run(request)
    assert outcome.status == "error" and chat_requests(sim) == []
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None
    assert (row.status, row.error_category) == ("error", outcome.error_category)
    assert row.requested_model == pinned


async def test_a_bad_context_mention_is_recorded(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    gateway = await make_gateway()
    missing = str(tmp_path / "missing.py")
    outcome = await gateway.run(GatewayRequest(prompt="explain", context_specs=[missing]))
    assert outcome.status == "error"
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and row.status == "error"


async def test_budget_alert_when_threshold_crossed(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway(cost_budget_usd=Decimal("0.05"))
    events: list[GatewayEvent] = []
    request = GatewayRequest(prompt=CODE_PROMPT, model="openai/gpt-4o-mini", max_tokens=200)
    spent = Decimal(0)
    for _ in range(40):
        outcome = await gateway.run(request, events.append)
        spent += outcome.cost_usd or 0
        request.use_cache = False
        if any(isinstance(e, BudgetAlert) for e in events) or outcome.status != "ok":
            break
    # total spend never exceeds the limit, whatever happened
    assert spent <= Decimal("0.05")


async def test_cache_hit_sends_nothing_and_costs_nothing(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    first = await gateway.run(GatewayRequest(prompt="Explain the CAP theorem briefly."))
    events: list[GatewayEvent] = []
    second = await gateway.run(
        GatewayRequest(prompt="Explain the CAP theorem briefly."), events.append
    )
    assert second.cache_hit
    assert second.text == first.text
    assert second.cost_usd == 0
    assert len(chat_requests(sim)) == 1
    assert any(isinstance(e, CacheHit) for e in events)
    assert isinstance(events[-1], Completed)
    third = await gateway.run(
        GatewayRequest(prompt="Explain the CAP theorem briefly.", use_cache=False)
    )
    assert not third.cache_hit and len(chat_requests(sim)) == 2


async def test_pinned_model_is_used(make_gateway: GatewayFactory, sim: SimServer) -> None:
    gateway = await make_gateway()
    outcome = await gateway.run(GatewayRequest(prompt="hello", model="openai/gpt-5-nano"))
    assert outcome.model == "openai/gpt-5-nano"
    assert chat_requests(sim)[-1].json["model"] == "openai/gpt-5-nano"  # type: ignore[attr-defined]


async def test_a_request_resolves_its_model_once_and_the_settings_names_once(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--model` was resolved three times per request and every name in the settings checked
    again for each: now the pin once per request, the settings' names once per state."""
    from devflow_tui.gateway.pipeline import Gateway
    from devflow_tui.routing.names import SettingsNames

    gateway = await make_gateway(preferred_models=["claude-3-sonnet"])
    pins: list[str] = []
    built: list[SettingsNames] = []
    resolve, of = Gateway.resolve_model, SettingsNames.of.__func__  # type: ignore[attr-defined]

    def counted_resolve(self: Gateway, name: str) -> str:
        pins.append(name)
        return resolve(self, name)

    def counted_of(cls: type[SettingsNames], *args: object) -> SettingsNames:
        built.append(of(cls, *args))
        return built[-1]

    monkeypatch.setattr(Gateway, "resolve_model", counted_resolve)
    monkeypatch.setattr(SettingsNames, "of", classmethod(counted_of))
    request = GatewayRequest(prompt="hello", model="claude-haiku-4.5")
    for _ in range(2):
        prepared = gateway.prepare(request)
        assert prepared.decision.chosen is not None
        assert prepared.decision.chosen.id == "anthropic/claude-haiku-4.5"
    assert "claude-haiku-4.5 -> anthropic/claude-haiku-4.5 (slug)" in (
        prepared.decision.resolved_names
    )
    assert pins == ["claude-haiku-4.5"] * 2
    assert built == []  # the names as resolved when the gateway opened (its start-up log line)
    gateway.settings.preferred_models = ["gpt-4"]  # edited live, as the dashboard does
    assert gateway.model_names() == ["preferred: gpt-4 -> openai/gpt-5 (closest version)"]
    gateway.prepare(request)
    assert len(built) == 1


async def test_history_is_sent(make_gateway: GatewayFactory, sim: SimServer) -> None:
    from devflow_tui.openrouter.wire import ChatMessage

    gateway = await make_gateway()
    history = [
        ChatMessage(role="user", content="Write a sort in Go"),
        ChatMessage(role="assistant", content="func sort() {}"),
    ]
    await gateway.run(GatewayRequest(prompt="and now in Rust?", history=history))
    sent = chat_requests(sim)[-1].json["messages"]  # type: ignore[attr-defined]
    contents = [m["content"] for m in sent]
    assert "Write a sort in Go" in contents
    assert "func sort() {}" in contents
    assert any("and now in Rust?" in c for c in contents)


async def test_a_follow_up_takes_the_task_of_the_user_request(
    make_gateway: GatewayFactory,
) -> None:
    """QA finding 14: the answers' words are not the conversation's task; the classifier
    reads the user's prompts."""
    from devflow_tui.openrouter.wire import ChatMessage

    gateway = await make_gateway()
    explanation = (
        "The reason is that the request has no body, so the analysis of the data fails: "
        "summarise the key points of the research before you compare the pros and cons."
    )
    history = [
        ChatMessage(
            role="user",
            content="My Flask route returns 500 when the JSON body is empty, how do I fix it?",
        ),
        ChatMessage(role="assistant", content=explanation),
        ChatMessage(role="user", content="why?"),
        ChatMessage(role="assistant", content=explanation),
    ]
    prepared = gateway.prepare(GatewayRequest(prompt="e in italiano?", history=history))
    assert prepared.classification.task_type == "coding", prepared.classification.signals
    assert "follow-up to a coding conversation" in prepared.classification.signals


async def test_first_token_event_reports_ttft(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    events: list[GatewayEvent] = []
    await gateway.run(GatewayRequest(prompt="hi"), events.append)
    firsts = [e for e in events if isinstance(e, FirstToken)]
    assert len(firsts) == 1 and firsts[0].ttft_ms >= 0


async def test_running_stream_progress_is_durable(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    """While a stream runs, its partial answer is already in the database (crash safety)."""
    gateway = await make_gateway()
    sim.config.time_scale = 1.0
    sim.config.answer_tokens = 4000
    seen_progress = asyncio.Event()
    request = GatewayRequest(prompt=CODE_PROMPT, model="openai/gpt-4o-mini")
    task = asyncio.create_task(gateway.run(request))
    for _ in range(200):  # bounded polling, up to ~20 s
        await asyncio.sleep(0.1)
        rows = gateway.store.recent_requests(1)
        if rows and rows[0].status == "running" and rows[0].completion_tokens > 0:
            seen_progress.set()
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen_progress.is_set()


async def test_model_in_cooldown_is_skipped_then_probed(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway(max_retries=0)
    decision = gateway.prepare(GatewayRequest(prompt=CODE_PROMPT)).decision
    first = decision.candidates[0].model.id
    for _ in range(gateway.settings.routing.cooldown_failures):
        gateway.health.record_failure(first, "provider")
    assert gateway.health.in_cooldown(first)
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    assert outcome.status == "ok"
    assert outcome.model != first
    assert first not in [a.model for a in outcome.attempts]


async def test_reconcile_records_billed_cost(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    outcome = await gateway.run(GatewayRequest(prompt="hello there", model="openai/gpt-4o-mini"))
    drifts = await gateway.reconcile()
    assert [d.request_id for d in drifts] == [outcome.request_id]
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and row.billed_cost_usd is not None
    assert Decimal(str(row.billed_cost_usd)) == outcome.cost_usd


async def test_empty_answer_falls_back_to_next_model(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    first = gateway.prepare(GatewayRequest(prompt=CODE_PROMPT)).decision.candidates[0].model.id
    sim.add_fault(Fault(kind="empty_content", model=first, times=None))
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    assert outcome.status == "ok"
    assert outcome.model != first
    assert outcome.text.strip()


async def test_empty_answer_from_pinned_model_is_an_error(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    sim.add_fault(Fault(kind="empty_content", times=None))
    outcome = await gateway.run(GatewayRequest(prompt="hi", model="openai/gpt-4o-mini"))
    assert outcome.status == "error"
    assert outcome.error_category == "provider"
    assert "empty answer" in (outcome.error_message or "")


async def test_an_empty_answer_is_billed_and_recorded_as_a_failed_attempt(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    """The server bills an empty answer (its usage has a cost, its generation an id): that
    cost counts in the request's, and its attempt is a failure, not a 200 that went well."""
    gateway = await make_gateway()
    first = gateway.prepare(GatewayRequest(prompt=CODE_PROMPT)).decision.candidates[0].model.id
    sim.add_fault(Fault(kind="empty_content", model=first, times=1))
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    assert outcome.status == "ok" and outcome.model != first
    billed = [Decimal(str(g["total_cost"])) for g in sim.generations.values()]
    assert len(billed) == 2 and outcome.cost_usd == sum(billed)
    assert outcome.cost_source == "reported"
    await asyncio.to_thread(gateway.recorder.flush)
    attempts = gateway.store.attempts_for(outcome.request_id)
    assert [(a.model, a.error, a.message) for a in attempts] == [
        (first, "provider", "empty answer"),
        (outcome.model, None, None),
    ]
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and Decimal(str(row.cost_usd)) == sum(billed)


async def test_only_empty_answers_still_cost_what_was_billed(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway(max_retries=0)
    sim.add_fault(Fault(kind="empty_content", times=None))
    outcome = await gateway.run(GatewayRequest(prompt=CODE_PROMPT))
    assert outcome.status == "error" and outcome.error_category == "provider"
    billed = {gen_id: Decimal(str(g["total_cost"])) for gen_id, g in sim.generations.items()}
    assert len(billed) == len(outcome.attempts) >= 2
    assert outcome.cost_usd == sum(billed.values()) and outcome.cost_source == "reported"
    assert outcome.prompt_tokens > 0 and outcome.generation_id in billed
    assert outcome.model == outcome.attempts[-1].model
    assert all(a.error == "provider" for a in outcome.attempts)
    await asyncio.to_thread(gateway.recorder.flush)
    row = gateway.store.get_request(outcome.request_id)
    assert row is not None and row.cost_source == "reported"
    assert Decimal(str(row.cost_usd)) == sum(billed.values())


SENTENCE = "The quick brown fox jumps over the lazy dog. "


async def test_near_the_window_the_first_model_the_prompt_fits_answers(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    """About 15,000 tokens with 1,000 for the answer fit gpt-3.5-turbo's window (16,385) as
    routing counts, but not with the margin for the token estimate (which the simulator's
    own tokenizer shows is needed: it counts 17,209). The next model of the chain that
    takes it answers, and `fit` (what `route` shows) says the same."""
    gateway = await make_gateway()
    request = GatewayRequest(
        prompt="Summarise: " + SENTENCE * 1720,
        model="openai/gpt-3.5-turbo",
        max_tokens=1000,
    )
    prepared = gateway.prepare(request)
    assert prepared.decision.candidates[0].model.id == "openai/gpt-3.5-turbo"
    with pytest.raises(ContextWindowError, match="once 1,000 tokens are kept for the answer"):
        gateway.fit(prepared)  # pinned: no fallback
    # With a fallback of a larger window, that one is tried first, not refused locally.
    decision = dataclasses.replace(prepared.decision, fallbacks=["openai/gpt-4o-mini"])
    chain, assembled = gateway.fit(dataclasses.replace(prepared, decision=decision))
    assert [m.id for m in chain] == ["openai/gpt-4o-mini"]
    assert 16385 - 16385 // 20 < assembled.total_tokens + 1000 <= 16385  # in the margin


async def test_a_prompt_no_window_takes_is_a_rejection_not_a_provider_failure(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    gateway = await make_gateway()
    request = GatewayRequest(
        prompt="Summarise: " + SENTENCE * 1720, model="openai/gpt-3.5-turbo", max_tokens=1000
    )
    outcome = await gateway.run(request)
    assert outcome.status == "error" and outcome.error_category == "user"  # exit 6
    message = outcome.error_message or ""
    assert "does not fit openai/gpt-3.5-turbo's context window" in message
    assert "lower --max-tokens or pin a model with a larger window" in message
    assert chat_requests(sim) == []


async def test_pinned_model_in_cooldown_is_an_error_not_a_blank_answer(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    for _ in range(gateway.settings.routing.cooldown_failures):
        gateway.health.record_failure("openai/gpt-4o-mini", "provider")
    outcome = await gateway.run(GatewayRequest(prompt="hi", model="openai/gpt-4o-mini"))
    assert outcome.status == "error"
    assert "cooling down" in (outcome.error_message or "")
    assert outcome.attempts == []


async def test_token_limit_marks_answer_incomplete(make_gateway: GatewayFactory) -> None:
    gateway = await make_gateway()
    outcome = await gateway.run(
        GatewayRequest(prompt="write a long poem", model="openai/gpt-4o-mini", max_tokens=5)
    )
    assert outcome.status == "ok"
    assert outcome.finish_reason == "length"
    assert outcome.complete is False


async def test_secrets_in_context_are_counted(
    make_gateway: GatewayFactory, sim: SimServer, tmp_path: Path
) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("AWS_SECRET_ACCESS_KEY=" + "Ab1/" * 10 + "\nDEBUG=1\n")
    gateway = await make_gateway()
    outcome = await gateway.run(
        GatewayRequest(prompt="explain this config", context_specs=[str(env_file)])
    )
    assert outcome.secrets_removed == 1
    assert "Ab1/" * 10 not in str(chat_requests(sim)[-1].json)  # type: ignore[attr-defined]


async def test_a_key_pasted_in_the_prompt_is_never_sent_stored_or_titled(
    make_gateway: GatewayFactory, sim: SimServer, fake_key: str
) -> None:
    """The prompt itself was not scrubbed: the configured key, typed in a question, went
    upstream and into the database and the conversation's title in full."""
    gateway = await make_gateway()
    prompt = f"My OpenRouter key {fake_key} returns 401 with curl, why?"
    outcome = await gateway.run(GatewayRequest(prompt=prompt))
    assert outcome.status == "ok" and outcome.secrets_removed == 1
    sent = str(chat_requests(sim)[-1].json)  # type: ignore[attr-defined]
    assert fake_key not in sent and "[REDACTED:openrouter] returns 401" in sent
    conversation = outcome.conversation_id or ""
    assert all(fake_key not in m.content for m in gateway.store.load_conversation(conversation))
    titles = [c.title for c in gateway.store.list_conversations()]
    assert titles and all(fake_key not in (t or "") for t in titles)
    # The dashboard sends its turns as typed in the next request's history: scrubbed too.
    from devflow_tui.openrouter.wire import ChatMessage

    typed = [ChatMessage(role="user", content=prompt), ChatMessage(role="assistant", content="?")]
    follow = await gateway.run(GatewayRequest(prompt="and now?", history=typed))
    assert follow.secrets_removed == 1
    assert fake_key not in str(chat_requests(sim)[-1].json)  # type: ignore[attr-defined]


async def test_escalation_goes_one_tier_up_to_a_stronger_model_and_is_recorded(
    make_gateway: GatewayFactory,
) -> None:
    gateway = await make_gateway()
    first = await gateway.run(GatewayRequest(prompt="What's 17*23?"))
    assert first.status == "ok" and first.model and first.complexity
    again = GatewayRequest(
        prompt="What's 17*23?", escalation_of=first.request_id, stronger_than=first.model
    )
    prepared = gateway.prepare(again)
    order = ["low", "medium", "high"]
    assert order.index(prepared.classification.complexity) == order.index(first.complexity) + 1
    assert f"escalated from {first.model}" in " ".join(prepared.classification.signals)
    chosen = prepared.decision.chosen
    assert chosen is not None and chosen.id != first.model
    assert (first.model, f"not stronger than {first.model}") in prepared.decision.excluded
    second = await gateway.run(again)
    assert second.status == "ok" and second.model != first.model
    row = gateway.store.get_request(second.request_id)
    assert row is not None and row.escalation_of == first.request_id
    first_row = gateway.store.get_request(first.request_id)
    assert first_row is not None and first_row.escalation_of is None


async def test_each_escalation_goes_one_tier_above_the_answer_it_escalates(
    make_gateway: GatewayFactory,
) -> None:
    """QA: f12 three times on "What's 17*23?" gave low -> medium -> medium -> medium: the
    tier was one above the prompt's own classification, not above the answer escalated."""
    gateway = await make_gateway()
    answer = await gateway.run(GatewayRequest(prompt="What's 17*23?"))
    assert answer.status == "ok" and answer.complexity == "low"
    tiers: list[str | None] = [answer.complexity]
    for _ in range(3):
        assert answer.model
        answer = await gateway.run(
            GatewayRequest(
                prompt="What's 17*23?",
                escalation_of=answer.request_id,
                stronger_than=answer.model,
                answered_complexity=answer.complexity,
            )
        )
        assert answer.status == "ok", answer.error_message
        tiers.append(answer.complexity)
    assert tiers == ["low", "medium", "high", "high"]  # high is the top tier


async def test_an_escalation_with_nothing_stronger_allowed_is_a_notice_not_a_request(
    make_gateway: GatewayFactory, sim: SimServer
) -> None:
    """QA: with only Llama allowed, f12 recorded a failed request (`(none)` in the report),
    counted the first answer as escalated and said "Lower --max-tokens"."""
    from devflow_tui.gateway.unroutable import NothingStrongerError

    gateway = await make_gateway(only_models=["meta-llama/llama-3.3-70b-instruct"])
    first = await gateway.run(GatewayRequest(prompt="hi"))
    assert first.status == "ok" and first.model == "meta-llama/llama-3.3-70b-instruct"
    again = GatewayRequest(
        prompt="hi",
        escalation_of=first.request_id,
        stronger_than=first.model,
        answered_complexity=first.complexity,
    )
    assert gateway.prepare(again).decision.nothing_stronger
    with pytest.raises(NothingStrongerError) as raised:
        await gateway.run(again)
    text = str(raised.value)
    assert text.startswith("Nothing stronger to escalate to: no model the routing settings")
    # The fix names the "only" setting where it was set (here the settings, as a config file).
    from devflow_tui.routing.names import restriction

    where = restriction(gateway.settings, "chat")[1]
    assert where and where.startswith("only_models")
    assert f"Allow a stronger model in {where}" in (raised.value.hint or "")
    assert "max-tokens" not in text
    assert [r.id for r in gateway.store.recent_requests(5)] == [first.request_id]
    assert build_report(gateway.store, since="all").escalations == []
    assert len(chat_requests(sim)) == 1
    # Without an "only" pool, the strongest model has nothing above it either.
    plain = await make_gateway()
    top = GatewayRequest(prompt="hi", stronger_than="openai/gpt-5", answered_complexity="high")
    decision = plain.prepare(top).decision
    assert not decision.nothing_stronger  # others are as strong for chat: still somewhere to go


async def test_classification_of_a_repeated_prompt_is_remembered(
    make_gateway: GatewayFactory,
) -> None:
    """An agent's requests within one turn carry the same last user text: it is classified
    once, and a different prompt, history or context size is classified anew."""
    gateway = await make_gateway()
    calls: list[str] = []
    classify = gateway.classifier.classify

    def counting(prompt: str, **kwargs: object) -> object:
        calls.append(prompt)
        return classify(prompt, **kwargs)  # type: ignore[arg-type]

    gateway.classifier.classify = counting  # type: ignore[method-assign,assignment]
    first, _ = gateway.decide("Fix the failing test in parser.py")
    again, _ = gateway.decide("Fix the failing test in parser.py", max_tokens=100)
    assert again is first and gateway.classify("Fix the failing test in parser.py") is first
    gateway.decide("Fix the failing test in parser.py", history=["earlier turn"])
    gateway.decide("Fix the failing test in parser.py", context_tokens=50_000)
    gateway.decide("Write a haiku")
    assert calls == ["Fix the failing test in parser.py"] * 3 + ["Write a haiku"]
