"""Pilot tests of the dashboard's behaviour, driven by a scripted gateway (deterministic events).

The same behaviours against the real pipeline and the simulated server are in
test_against_sim.py; these cover the UI paths exhaustively and fast.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable
from decimal import Decimal

from textual.widgets import DataTable, Input, Select, Static

from devflow_tui.config import Settings
from devflow_tui.errors import BudgetExceededError
from devflow_tui.gateway.events import (
    AttemptFailed,
    AttemptRecord,
    BudgetAlert,
    RequestOutcome,
)
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.screens.help import HelpScreen
from devflow_tui.tui.screens.history import HistoryScreen
from devflow_tui.tui.screens.models import ModelsScreen
from devflow_tui.tui.widgets.budget_gauges import BudgetGauges
from devflow_tui.tui.widgets.context_list import ContextList
from devflow_tui.tui.widgets.conversation import Conversation
from devflow_tui.tui.widgets.demo_indicator import DemoIndicator
from devflow_tui.tui.widgets.latency_charts import LatencyChart, SpendChart, ThroughputChart
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from devflow_tui.tui.widgets.routing_pane import RoutingPane
from tests.tui.scripted_gateway import Conversation as StoredConversation
from tests.tui.scripted_gateway import Script, ScriptedGateway

MakeApp = Callable[..., DevflowApp]


async def wait_for(predicate: Callable[[], bool], pilot: object, limit: int = 200) -> None:
    """Let the app run until `predicate` holds (bounded)."""
    for _ in range(limit):
        if predicate():
            return
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


async def send(pilot: object, app: DevflowApp, text: str) -> None:
    editor = app.dashboard.query_one(PromptEditor)
    editor.focus()
    editor.text = text
    await pilot.press("enter")  # type: ignore[attr-defined]


async def test_send_prompt_shows_routing_answer_cost_and_gauges(
    make_app: MakeApp, scripted: ScriptedGateway
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        assert dash.query_one(DemoIndicator).mode == "demo"
        await send(pilot, app, "write add")
        conversation = dash.query_one(Conversation)
        await wait_for(lambda: dash.current is not None and dash.current.state == "done", pilot)
        answer = conversation.last_answer
        assert answer is not None
        assert answer.text.startswith("[simulated answer from deepseek/deepseek-v3.2-exp]")
        assert answer.label == "deepseek/deepseek-v3.2-exp"
        assert "$0.0000516" in answer.footer
        assert "120→48 tok" in answer.footer and "ttft 250 ms" in answer.footer
        routing = dash.query_one(RoutingPane)
        assert "task coding · complexity low" in routing.decision_text
        assert "chosen: deepseek/deepseek-v3.2-exp" in routing.decision_text
        assert routing.query_one("#routing-candidates", DataTable).row_count == 2
        assert routing.lines[0] == "#1 → deepseek/deepseek-v3.2-exp"
        gauges = dash.query_one(BudgetGauges)
        daily = gauges.gauge("daily")
        assert daily is not None and daily.level == "-warning"  # 90% of $5
        session = gauges.gauge("session")
        assert session is not None and session.level == "-ok"
        assert "balance $14.75" in str(gauges.query_one("#budget-credits", Static).content)
        # The request carried the overrides and the history (empty on the first turn).
        request = scripted.requests[0]
        assert request.prompt == "write add" and request.history == []
        assert dash.turns[-1].role == "assistant"
        assert dash.query_one(ContextList).views[0].source == "file:app.py"


async def test_second_turn_sends_history_and_overrides(
    make_app: MakeApp, scripted: ScriptedGateway
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        await send(pilot, app, "first")
        await wait_for(lambda: not dash.streaming and dash.current is not None, pilot)
        dash.query_one("#override-model", Select).value = "openai/gpt-4o-mini"
        dash.query_one("#override-max-tokens", Input).value = "256"
        dash.query_one("#override-cost", Input).value = "0.9"
        dash.query_one("#override-performance", Input).value = "not a number"
        dash.query_one(ContextList).add_spec("src/*.py")
        dash.query_one(ContextList).add_spec("claude:latest")
        await send(pilot, app, "second")
        await wait_for(lambda: len(scripted.requests) == 2 and not dash.streaming, pilot)
        second = scripted.requests[1]
        assert [m.role for m in second.history] == ["user", "assistant"]
        assert second.history[0].content == "first"
        assert second.model == "openai/gpt-4o-mini"
        assert second.max_tokens == 256
        assert second.cost_priority == 0.9
        assert second.performance_priority is None
        assert second.context_specs == ["src/*.py"]
        assert second.claude_session == "latest"


async def test_escape_cancels_and_keeps_partial_answer(
    make_app: MakeApp, scripted: ScriptedGateway
) -> None:
    hold = asyncio.Event()  # never set: the stream would never end on its own
    scripted.scripts.append(Script(hold=hold))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        await send(pilot, app, "long one")
        await wait_for(lambda: dash.current is not None and dash.current.text != "", pilot)
        assert dash.streaming
        await pilot.press("escape")
        await wait_for(
            lambda: dash.current is not None and dash.current.state == "cancelled", pilot
        )
        answer = dash.current
        assert answer is not None
        assert answer.text.startswith("[simulated answer")
        assert "CANCELLED" in answer.footer
        assert answer.has_class("-cancelled")
        assert "cancelled by user" in dash.query_one(RoutingPane).lines
        # Retry sends the same prompt again and completes.
        await pilot.press("ctrl+r")
        await wait_for(lambda: len(scripted.requests) == 2 and not dash.streaming, pilot)
        assert scripted.requests[1].prompt == "long one"
        assert dash.query_one(Conversation).last_answer.state == "done"  # type: ignore[union-attr]


async def test_fallback_attempts_are_listed(make_app: MakeApp, scripted: ScriptedGateway) -> None:
    failure = AttemptFailed(
        request_id="r",
        record=AttemptRecord(
            model="deepseek/deepseek-v3.2-exp", status=503, error="provider", message="busy"
        ),
        retryable=True,
        next_model="openai/gpt-4o-mini",
        cooldown=True,
    )
    scripted.scripts.append(Script(failures=[failure], model="openai/gpt-4o-mini"))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "hi")
        await wait_for(
            lambda: not app.dashboard.streaming and app.dashboard.current is not None, pilot
        )
        lines = app.dashboard.query_one(RoutingPane).lines
        assert lines[1] == (
            "✗ deepseek/deepseek-v3.2-exp: provider (HTTP 503) — busy; "
            "falling back to openai/gpt-4o-mini · model in cooldown"
        )
        assert lines[2] == "#2 → openai/gpt-4o-mini"


async def test_refusal_is_shown_and_nothing_streams(
    make_app: MakeApp, scripted: ScriptedGateway
) -> None:
    async def refuse(request: object, on_event: object = None) -> RequestOutcome:
        raise BudgetExceededError("Budget daily would be exceeded ($4.50 spent).", hint="Raise it.")

    scripted.run = refuse  # type: ignore[method-assign]
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "expensive")
        await wait_for(
            lambda: not app.dashboard.streaming and app.dashboard.current is not None, pilot
        )
        await wait_for(lambda: app.dashboard.current.state == "failed", pilot)  # type: ignore[union-attr]
        routing = app.dashboard.query_one(RoutingPane)
        assert routing.decision_text.startswith("Refused: Budget daily would be exceeded")
        assert "refused" in app.dashboard.current.footer  # type: ignore[union-attr]
        assert app.dashboard.current.text == ""  # type: ignore[union-attr]


async def test_incomplete_answer_is_marked_with_retry(
    make_app: MakeApp, scripted: ScriptedGateway
) -> None:
    scripted.scripts.append(
        Script(outcome_status="error", complete=False, error_message="stream cut off")
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "hi")
        await wait_for(
            lambda: app.dashboard.current is not None
            and app.dashboard.current.state == "incomplete",
            pilot,
        )
        footer = app.dashboard.current.footer  # type: ignore[union-attr]
        assert footer.startswith("INCOMPLETE (stream cut off) · ctrl+r retry")


async def test_budget_alert_notifies(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        from devflow_tui.tui.messages import GatewayEventPosted

        app.dashboard.post_message(
            GatewayEventPosted(BudgetAlert("daily", 0.8, Decimal(4), Decimal(5)))
        )
        await wait_for(lambda: bool(app._notifications), pilot)
        assert any("daily: 80% reached" in n.message for n in app._notifications)


async def test_charts_have_data_after_requests(
    make_app: MakeApp, scripted: ScriptedGateway
) -> None:
    scripted.store.rows.append(
        {
            "model": "openai/gpt-4o-mini",
            "ts": 1.0,
            "latency_ms": 500,
            "ttft_ms": 100,
            "tokens_per_s": 80,
            "completion_tokens": 32,  # a real row has its tokens: tokens/s is computed from them
            "cost_usd": "0.001",
        }
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: len(app.stats) == 1, pilot)
        assert app.dashboard.query_one(LatencyChart).points == 1  # history from the database
        await send(pilot, app, "hi")
        await wait_for(lambda: len(app.stats) == 2, pilot)
        assert app.dashboard.query_one(LatencyChart).points == 2
        assert app.dashboard.query_one(ThroughputChart).points == 2
        assert app.dashboard.query_one(SpendChart).points == 2
        assert app.stats.total_spend == Decimal("0.001") + Decimal("0.0000516")


async def test_copy_answer_and_code(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f3")  # nothing yet: a notification, no crash
        await send(pilot, app, "code")
        await wait_for(
            lambda: app.dashboard.current is not None and app.dashboard.current.state == "done",
            pilot,
        )
        await pilot.press("f3")
        assert app.clipboard == "def add(a: int, b: int) -> int:\n    return a + b\n"
        await pilot.press("f2")
        assert app.clipboard.startswith("[simulated answer from")


async def test_history_screen_reopens_and_exports(
    make_app: MakeApp, scripted: ScriptedGateway, settings: Settings
) -> None:
    scripted.store.conversations["c1"] = StoredConversation(
        "c1",
        "About Rust",
        1_700_000_000.0,
        [
            {"role": "user", "content": "what is rust"},
            {"role": "assistant", "content": "A language.", "model": "openai/gpt-4o-mini"},
        ],
    )
    scripted.store.conversations["c2"] = StoredConversation("c2", "Poem", 1_600_000_000.0, [])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(lambda: len(screen.conversation_ids) == 2, pilot)
        screen.query_one("#history-search", Input).value = "rust"
        await wait_for(lambda: screen.conversation_ids == ["c1"], pilot)
        await pilot.press("ctrl+e")
        assert screen.exported is not None
        assert screen.exported.read_text(encoding="utf-8").startswith("# About Rust")
        assert screen.exported.is_relative_to(settings.home)
        await pilot.press("ctrl+o")
        await wait_for(lambda: app.screen is app.dashboard, pilot)
        dash = app.dashboard
        await wait_for(lambda: len(dash.query_one(Conversation).answers) == 1, pilot)
        assert dash.conversation_id == "c1"
        assert [m.content for m in dash.turns] == ["what is rust", "A language."]
        await send(pilot, app, "and go?")
        await wait_for(lambda: len(scripted.requests) == 1 and not dash.streaming, pilot)
        assert scripted.requests[0].conversation_id == "c1"
        assert len(scripted.requests[0].history) == 2


async def test_models_screen_pins_excludes_prefers_and_saves(
    make_app: MakeApp, settings: Settings
) -> None:
    assert settings.config_path is not None
    settings.config_path.write_text('log_level = "DEBUG"\n[budget]\ndaily_usd = "2"\n')
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f5")
        screen = app.screen
        assert isinstance(screen, ModelsScreen)
        assert screen.model_ids[0] == "anthropic/claude-sonnet-4.5"
        await pilot.press("p", "down", "x", "f")
        assert settings.routing.pinned_model == "anthropic/claude-sonnet-4.5"
        assert settings.routing.excluded_models == ["deepseek/deepseek-v3.2-exp"]
        assert settings.preferred_models == ["deepseek/deepseek-v3.2-exp"]
        saved = tomllib.loads(settings.config_path.read_text())
        assert saved["log_level"] == "DEBUG" and saved["budget"] == {"daily_usd": "2"}
        assert saved["routing"]["pinned_model"] == "anthropic/claude-sonnet-4.5"
        assert saved["preferred_models"] == ["deepseek/deepseek-v3.2-exp"]
        await pilot.press("up", "p", "down", "x")  # unpin, allow again
        saved = tomllib.loads(settings.config_path.read_text())
        assert "pinned_model" not in saved["routing"] and saved["routing"]["excluded_models"] == []
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_help_palette_theme_and_compact(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        assert app.compact and app.dashboard.has_class("-compact")
        await pilot.press("f6")
        assert not app.compact
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is app.dashboard
        theme = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != theme
        # The command palette lists our actions and runs them.
        await pilot.press("ctrl+p")
        await pilot.press(*"Models")
        await wait_for(
            lambda: "Models"
            in str(app.screen.query("CommandList").first().get_option_at_index(0).prompt)
            if app.screen.query("CommandList")
            and app.screen.query("CommandList").first().option_count
            else False,
            pilot,
        )
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ModelsScreen), pilot)


async def test_gateway_failure_is_shown_not_raised(settings: Settings) -> None:
    from devflow_tui.errors import ConfigError

    async def broken(_settings: Settings, *, demo: bool | None = None) -> ScriptedGateway:
        raise ConfigError("OPENROUTER_API_KEY is invalid.", hint="Run `devflow auth set`.")

    app = DevflowApp(settings, gateway_factory=broken)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.gateway_error is not None, pilot)
        assert app.dashboard.query_one(DemoIndicator).mode == "offline"
        await send(pilot, app, "hello")
        assert app.dashboard.current is None  # nothing sent without a gateway


async def test_editor_newlines_and_context_entry(
    make_app: MakeApp, scripted: ScriptedGateway
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        editor = app.dashboard.query_one(PromptEditor)
        editor.focus()
        await pilot.press("enter")  # blank: nothing is sent
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c")
        assert editor.text == "a\nb\nc"
        assert scripted.requests == []
        await pilot.press("ctrl+g")
        await pilot.press(*"docs/*.md", "enter")
        context = app.dashboard.query_one(ContextList)
        assert context.specs == ["docs/*.md"]
        assert "1 attached" in str(context.query_one("#context-total", Static).content)
        context.query_one("#context-table", DataTable).focus()
        await pilot.press("delete")
        assert context.specs == []
        await pilot.press("ctrl+o")
        assert app.focused is app.dashboard.query_one("#override-model")
        await pilot.press("ctrl+l")
        assert app.focused is editor


async def test_python_m_entry_point(monkeypatch: object, settings: Settings) -> None:
    import devflow_tui.tui.__main__ as entry

    ran: list[DevflowApp] = []
    monkeypatch.setattr(DevflowApp, "run", lambda self: ran.append(self))  # type: ignore[attr-defined]
    assert entry.main() == 0 and len(ran) == 1
    assert settings.config_path is not None
    settings.config_path.write_text("not toml = = =")
    assert entry.main() == 2
