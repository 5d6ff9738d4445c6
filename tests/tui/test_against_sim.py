"""The real app, the real gateway pipeline and the simulated OpenRouter server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from devflow_tui.compose import open_gateway
from devflow_tui.config import Settings, load_settings
from devflow_tui.sim import Fault, SimServer
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.money import ms, usd
from devflow_tui.tui.screens.history import HistoryScreen
from devflow_tui.tui.screens.models import ModelsScreen
from devflow_tui.tui.widgets.budget_gauges import BudgetGauges
from devflow_tui.tui.widgets.conversation import Conversation
from devflow_tui.tui.widgets.demo_indicator import DemoIndicator
from devflow_tui.tui.widgets.latency_charts import SpendChart
from devflow_tui.tui.widgets.latency_view import LatencyView
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from devflow_tui.tui.widgets.routing_pane import IDLE, RoutingPane
from tests.tui.store_rows import seed_request

pytestmark = pytest.mark.timeout(60)


async def wait_for(predicate: Callable[[], bool], pilot: Pilot[None], limit: float = 60) -> None:
    """Run the app until `predicate` holds, polling (bounded, never a fixed sleep)."""
    steps = int(limit / 0.02)
    for _ in range(steps):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached in time")


def app_on(server: SimServer, settings: Settings, key: str) -> DevflowApp:
    """The dashboard on a real gateway whose base URL is the simulated server."""

    async def factory(s: Settings, *, demo: bool | None = None) -> object:
        return await open_gateway(
            s.model_copy(update={"base_url": server.base_url}), demo=False, api_key=key
        )

    return DevflowApp(settings, gateway_factory=factory)  # type: ignore[arg-type]


async def send(pilot: Pilot[None], app: DevflowApp, text: str) -> None:
    editor = app.dashboard.query_one(PromptEditor)
    editor.focus()
    await pilot.press(*text)
    await pilot.press("enter")


def chat_requests(server: SimServer) -> list[Any]:
    return [r for r in server.requests if r.path.endswith("/chat/completions")]


async def test_prompt_routes_streams_and_updates_cost_and_gauges(
    sim: SimServer, fake_key: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[budget]\nsession_usd = "5"\ndaily_usd = "10"\n')
    settings = load_settings()
    app = app_on(sim, settings, fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        assert app.dashboard.query_one(DemoIndicator).mode == "live"
        await send(pilot, app, "write a python function that reverses a list")
        dash = app.dashboard
        await wait_for(
            lambda: dash.current is not None and dash.current.state != "streaming", pilot
        )
        answer = dash.current
        assert answer is not None and answer.state == "done"
        assert answer.text.startswith("[simulated answer from ")
        served = answer.label
        assert served in answer.text.splitlines()[0]
        assert "```" in answer.text
        # cost is reported by the server: never "unknown", never $0 for a paid model
        assert "unknown" not in answer.footer and "latency" in answer.footer
        routing = dash.query_one(RoutingPane)
        assert "task coding" in routing.decision_text
        assert f"chosen: {served}" in routing.decision_text
        assert len(routing.candidates) >= 2
        # The session gauge shows exactly what the store recorded for this request.
        row = app.gateway.store.recent_requests(1)[0]  # type: ignore[union-attr]
        assert row.model == served and row.status == "ok"
        gauges = dash.query_one(BudgetGauges)

        def session_spent() -> Decimal | None:
            gauge = gauges.gauge("session")
            return gauge.view.spent_usd if gauge is not None else None

        await wait_for(lambda: session_spent() == Decimal(row.cost_usd or 0), pilot)
        if row.cost_usd is not None:
            assert usd(Decimal(row.cost_usd)) in answer.footer
        assert len(chat_requests(sim)) == 1
        await wait_for(lambda: dash.query_one(LatencyView).points == 1, pilot)
        assert dash.query_one(SpendChart).points == 1


async def test_a_misspelled_model_setting_is_a_settings_error_not_offline(
    sim: SimServer, fake_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", "clade-sonet")
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        assert app.dashboard.query_one(DemoIndicator).mode == "live"  # connected, not offline
        notes = [n for n in app._notifications if n.title == "Settings error"]
        assert notes and "(from OPENROUTER_PREFERRED_MODELS)" in notes[0].message
        assert "anthropic/claude-sonnet-4.5" in notes[0].message
        await send(pilot, app, "hi")
        dash = app.dashboard
        await wait_for(
            lambda: dash.current is not None and dash.current.state != "streaming", pilot
        )
        assert dash.current is not None and dash.current.state != "done"
        failed = [n.message for n in app._notifications if n.title == "Request failed (config)"]
        assert failed and "Correct it in OPENROUTER_PREFERRED_MODELS" in failed[0]
        assert chat_requests(sim) == []  # nothing sent
        await pilot.press("f5")  # the catalog is there to find the right id
        await wait_for(lambda: isinstance(app.screen, ModelsScreen), pilot)
        screen = app.screen
        assert isinstance(screen, ModelsScreen) and len(screen.model_ids) > 10
        header = str(screen.query_one("#models-prefs", Static).content)
        assert "settings error: model 'clade-sonet'" in header


async def test_503_then_fallback_shows_both_attempts(sim: SimServer, fake_key: str) -> None:
    settings = load_settings()
    settings.max_retries = 0
    app = app_on(sim, settings, fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        gateway = app.gateway
        assert gateway is not None
        from devflow_tui.gateway.pipeline import GatewayRequest

        decision = gateway.prepare(GatewayRequest(prompt="hello there, how are you?")).decision
        assert decision.chosen is not None
        chosen = decision.chosen.id
        sim.add_fault(Fault(kind="http_error", status=503, model=chosen, times=5))
        await send(pilot, app, "hello there, how are you?")
        dash = app.dashboard
        await wait_for(
            lambda: dash.current is not None and dash.current.state != "streaming", pilot
        )
        lines = dash.query_one(RoutingPane).lines
        failed = [line for line in lines if line.startswith(f"✗ {chosen}")]
        assert failed and "HTTP 503" in failed[0]
        assert dash.current is not None and dash.current.state == "done"
        served = dash.current.label
        assert served != chosen
        assert any(line.endswith(f"→ {served}") for line in lines)


async def test_escape_cancels_a_long_stream(fake_key: str, tmp_path: Path) -> None:
    """QA2 finding 10: a cancelled answer showed only `CANCELLED · partial answer kept` and
    the budget gauge left its (recorded) cost out until a restart. Its end is passed through
    like every other: the full footer marked cancelled, gauges and charts from the store."""
    from devflow_tui.sim import SimConfig

    (tmp_path / "config.toml").write_text('[budget]\nlimit_usd = "5"\nperiod = "monthly"\n')
    slow = SimServer(SimConfig(time_scale=1.0, answer_tokens=4000)).start()
    try:
        settings = load_settings()
        app = app_on(slow, settings, fake_key)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(lambda: app.gateway is not None, pilot)
            dash = app.dashboard
            await wait_for(lambda: dash.history_loaded, pilot)
            await send(pilot, app, "tell me a long story")
            await wait_for(lambda: dash.current is not None and len(dash.current.text) > 20, pilot)
            await pilot.press("escape")
            await wait_for(
                lambda: dash.current is not None and dash.current.state == "cancelled", pilot
            )
            answer = dash.current
            assert answer is not None
            assert answer.text.startswith("[simulated answer")  # the partial answer is kept
            await wait_for(lambda: not dash.streaming, pilot, limit=5)
            rows = app.gateway.store.recent_requests(5)  # type: ignore[union-attr]
            row = rows[0]
            assert row.status == "cancelled" and row.model and row.cost_usd
            # The footer: the model, what it cost, tokens and times, marked cancelled.
            assert answer.footer.startswith(f"CANCELLED · {row.model} · {usd(row.cost_usd)} · ")
            assert f"{row.prompt_tokens:,}→{row.completion_tokens:,} tok" in answer.footer
            assert row.latency_ms and row.ttft_ms  # until the cancellation
            assert f"latency {ms(row.latency_ms)} · ttft {ms(row.ttft_ms)}" in answer.footer
            gauge = dash.query_one(BudgetGauges)

            def spent() -> Decimal | None:
                found = gauge.gauge("monthly")
                return found.view.spent_usd if found is not None else None

            await wait_for(lambda: spent() == row.cost_usd, pilot)  # not $0 until a restart
            # ... and the charts' report counts it.
            await wait_for(lambda: bool(dash.report and dash.report.totals.cancelled == 1), pilot)
            assert dash.query_one(LatencyView).points == 1
    finally:
        slow.stop()


async def test_budget_refusal_sends_nothing(sim: SimServer, fake_key: str, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[budget]\nsession_usd = "0.0000001"\n')
    settings = load_settings()
    app = app_on(sim, settings, fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        overrides = app.dashboard.query_one("#override-model")
        overrides.value = "anthropic/claude-sonnet-4.5"  # type: ignore[attr-defined]
        await send(pilot, app, "explain quantum computing in depth")
        dash = app.dashboard
        await wait_for(
            lambda: dash.current is not None and dash.current.state != "streaming", pilot
        )
        assert dash.current is not None and dash.current.state == "failed"
        assert "REFUSED" in dash.current.footer
        assert dash.query_one(RoutingPane).decision_text.startswith("Refused:")
        assert chat_requests(sim) == []


async def test_history_reopens_a_conversation(sim: SimServer, fake_key: str) -> None:
    settings = load_settings()
    app = app_on(sim, settings, fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "what is a monad")
        dash = app.dashboard
        await wait_for(lambda: dash.current is not None and dash.current.state == "done", pilot)
        first_id = dash.conversation_id
        assert first_id is not None
        first_answer = dash.current.text  # type: ignore[union-attr]
        await pilot.press("ctrl+n")
        await wait_for(lambda: dash.query_one(Conversation).answers == [], pilot)
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(lambda: screen.conversation_ids == [first_id], pilot)
        await wait_for(lambda: screen.report is not None, pilot)
        await pilot.press("ctrl+o")
        await wait_for(lambda: len(dash.query_one(Conversation).answers) == 1, pilot)
        assert dash.conversation_id == first_id
        assert dash.turns[1].content == first_answer
        # Issue 12, bug 6: the answer's footer comes back; the routing pane is not the last
        # request's any more.
        reopened = dash.query_one(Conversation).answers[0]
        row = app.gateway.store.recent_requests(1)[0]  # type: ignore[union-attr]
        assert reopened.label == row.model
        assert reopened.footer.startswith(f"{row.model} · ") and "latency" in reopened.footer
        assert dash.query_one(RoutingPane).decision_text == IDLE
        await send(pilot, app, "and a functor?")
        await wait_for(lambda: dash.current is not None and dash.current.state == "done", pilot)
        sent = chat_requests(sim)[-1].json
        assert [m["content"] for m in sent["messages"] if m["role"] == "user"][-2:] == [
            "what is a monad",
            "and a functor?",
        ]


async def test_background_reconcile_records_billed_cost(
    sim: SimServer, settings: Settings, fake_key: str
) -> None:
    app = app_on(sim, settings, fake_key)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "hello there")
        gateway: Any = app.gateway
        await wait_for(lambda: bool(gateway.store.recent_requests(1)), pilot)
        await wait_for(lambda: gateway.store.recent_requests(1)[0].status == "ok", pilot)
        worker = app.reconcile_billing()
        await worker.wait()
        row = gateway.store.recent_requests(1)[0]
        assert row.billed_cost_usd is not None
        assert Decimal(str(row.billed_cost_usd)) == Decimal(str(row.cost_usd))


async def test_free_model_is_not_refused_when_over_budget(
    sim: SimServer, fake_key: str, tmp_path: Path
) -> None:
    """Issue 12, bug 3: over budget, a free model was refused ("could cost up to $0")."""
    (tmp_path / "config.toml").write_text('[budget]\ndaily_usd = "0.001"\n')
    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    from devflow_tui.accounting.store import AnalyticsStore

    store = AnalyticsStore(settings.db_path)
    seed_request(store, "openai/gpt-4o-mini", "0.002")  # today: over the daily budget
    store.close()
    app = app_on(sim, settings, fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        overrides = app.dashboard.query_one("#override-model")
        overrides.value = "meta-llama/llama-3.3-70b-instruct:free"  # type: ignore[attr-defined]
        await send(pilot, app, "say hello")
        dash = app.dashboard
        await wait_for(
            lambda: dash.current is not None and dash.current.state != "streaming", pilot
        )
        assert dash.current is not None
        assert dash.current.state == "done", dash.current.footer
        assert len(chat_requests(sim)) == 1


async def test_f12_re_asks_with_a_stronger_model_as_an_escalation(
    sim: SimServer, fake_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devflow_tui.gateway.pipeline import Gateway, GatewayRequest, PreparedRequest

    prepared: list[GatewayRequest] = []  # every request prepared, once each
    prepare = Gateway.prepare

    def counted(gateway: Gateway, request: GatewayRequest) -> PreparedRequest:
        prepared.append(request)
        return prepare(gateway, request)

    monkeypatch.setattr(Gateway, "prepare", counted)
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        await pilot.press("f12")  # nothing to escalate yet: a notice, no request
        assert len(chat_requests(sim)) == 0
        await send(pilot, app, "hi there")
        await wait_for(lambda: dash.last_outcome is not None, pilot)
        first = dash.last_outcome
        assert first is not None and first.model
        await pilot.press("f12")
        await wait_for(
            lambda: dash.last_outcome is not None and dash.last_outcome is not first, pilot
        )
        second = dash.last_outcome
        assert second is not None and second.model != first.model
        assert len(chat_requests(sim)) == 2
        row = app.gateway.store.get_request(second.request_id)  # type: ignore[union-attr]
        assert row is not None and row.escalation_of == first.request_id
        routing = dash.query_one(RoutingPane)
        assert f"escalated from {first.model}" in routing.decision_text
        # The first answer is not sent again as history with the re-asked prompt.
        assert [m.role for m in dash.turns] == ["user", "assistant"]
        # The escalation was prepared once: looked at (somewhere stronger to go), then sent.
        assert [r.stronger_than for r in prepared] == [None, first.model]


async def test_f12_again_goes_one_tier_higher_each_time(sim: SimServer, fake_key: str) -> None:
    """QA: "What's 17*23?", f12 three times: low -> medium -> medium -> medium. Each f12
    escalates one tier above the answer it escalates; f12 while the answer streams says so."""
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        sim.add_fault(Fault(kind="slow_first_token", delay_ms=30_000))
        await send(pilot, app, "What's 17*23?")
        await wait_for(lambda: dash.streaming, pilot)
        assert app.check_action("escalate", ()) is False  # F12 is off while it streams
        await dash.escalate()  # the moment around the stream: the turn is there, no answer yet
        await wait_for(lambda: bool(app._notifications), pilot)
        notices = " ".join(n.message for n in app._notifications)
        assert "The answer is still arriving" in notices
        assert "Nothing to escalate yet" not in notices
        await pilot.press("escape")
        await wait_for(lambda: not dash.streaming, pilot)
        app.clear_notifications()
        await dash.escalate()  # the cancelled prompt has no answer to escalate
        await wait_for(lambda: bool(app._notifications), pilot)
        assert "ctrl+r sends it again" in " ".join(n.message for n in app._notifications)
        assert len(chat_requests(sim)) == 1
        sim.clear_faults()
        await send(pilot, app, "What's 17*23?")
        await wait_for(lambda: dash.last_outcome is not None, pilot)
        outcomes = [dash.last_outcome]
        for _ in range(2):
            await pilot.press("f12")
            await wait_for(lambda: dash.last_outcome is not outcomes[-1], pilot)
            outcomes.append(dash.last_outcome)
        assert [o.complexity for o in outcomes if o is not None] == ["low", "medium", "high"]
        models = [o.model for o in outcomes if o is not None]
        assert len(set(models)) == 3


async def test_f12_with_nothing_stronger_allowed_is_a_notice(
    sim: SimServer, fake_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA: with only Llama allowed, f12 showed FAILED, a "Request failed (provider)" toast
    and recorded a failed row; now a notice, no request, no row, the history untouched."""
    monkeypatch.setenv("OPENROUTER_ONLY_MODELS", "meta-llama/llama-3.3-70b-instruct")
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        await send(pilot, app, "hi there")
        await wait_for(lambda: dash.last_outcome is not None, pilot)
        conversation = dash.query_one(Conversation)
        answers = len(conversation.answers)
        await pilot.press("f12")
        await wait_for(lambda: bool(app._notifications), pilot)
        notices = [n for n in app._notifications]
        assert any(n.message.startswith("Nothing stronger to escalate to") for n in notices)
        assert not any("failed" in (n.title or "").lower() for n in notices)
        assert len(conversation.answers) == answers and not dash.streaming
        assert [m.role for m in dash.turns] == ["user", "assistant"]
        assert len(chat_requests(sim)) == 1
        assert len(app.gateway.store.recent_requests(5)) == 1  # type: ignore[union-attr]
