"""Pilot tests of the dashboard's behaviour on events recorded from the real gateway.

`ReplayGateway` plays what `open_gateway` emitted against the simulated server (see
recorded_gateway.py); the store, catalog and health tracker are the real ones. The same
behaviours end to end, on the live pipeline, are in test_against_sim.py.
"""

from __future__ import annotations

import asyncio
import io
import signal
import time
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from textual.color import Color
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, ProgressBar, Select, Static
from textual.widgets._footer import FooterKey

from devflow_tui.config import Settings
from devflow_tui.context.notes import project_key
from devflow_tui.gateway.events import BudgetAlert, BudgetView, ChunkReceived
from devflow_tui.routing.names import ModelNames, Resolution
from devflow_tui.stopping import TERMINATION_SIGNALS
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.money import usd
from devflow_tui.tui.screens.dialogs import ConfirmDialog, TextDialog
from devflow_tui.tui.screens.help import HelpScreen
from devflow_tui.tui.screens.models import ModelsScreen
from devflow_tui.tui.widgets.budget_gauges import BudgetGauges
from devflow_tui.tui.widgets.context_list import ContextList
from devflow_tui.tui.widgets.conversation import Conversation
from devflow_tui.tui.widgets.demo_indicator import DemoIndicator
from devflow_tui.tui.widgets.latency_charts import SpendChart, ThroughputChart
from devflow_tui.tui.widgets.latency_view import LatencyFigure, LatencyView, rows_text
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from devflow_tui.tui.widgets.routing_pane import RoutingPane, candidates_table
from tests.tui.recorded_gateway import FREE_MODEL, Play, Recording, ReplayGateway
from tests.tui.store_rows import seed_request

MakeApp = Callable[..., DevflowApp]
CODING = Recording.load("coding")


async def wait_for(predicate: Callable[[], bool], pilot: Pilot[None], limit: int = 3000) -> None:
    """Let the app run until `predicate` holds (bounded)."""
    for _ in range(limit):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition not reached")


async def send(pilot: Pilot[None], app: DevflowApp, text: str) -> None:
    editor = app.dashboard.query_one(PromptEditor)
    editor.focus()
    editor.text = text
    await pilot.press("enter")


async def answered(pilot: Pilot[None], app: DevflowApp) -> None:
    dash = app.dashboard
    await wait_for(lambda: dash.current is not None and dash.current.state != "streaming", pilot)
    await wait_for(lambda: not dash.streaming, pilot)


def log_text(routing: RoutingPane) -> str:
    """What the attempts log shows on screen, its wrapped lines joined with a space."""
    log = routing.query_one("#routing-attempts-text", Static)
    lines = log.render_lines(Region(0, 0, log.size.width, log.size.height))
    return " ".join(strip.text.strip() for strip in lines)


async def test_send_prompt_shows_routing_answer_cost_and_gauges(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        assert dash.query_one(DemoIndicator).mode == "demo"
        await send(pilot, app, "write add")
        await answered(pilot, app)
        answer = dash.query_one(Conversation).last_answer
        assert answer is not None and answer.state == "done"
        assert answer.text == CODING.outcome.text
        assert answer.label == "meta-llama/llama-3.3-70b-instruct"
        served = CODING.outcome
        assert f" · {usd(served.cost_usd)} · " in answer.footer
        assert f"{served.prompt_tokens}→{served.completion_tokens} tok" in answer.footer
        routing = dash.query_one(RoutingPane)
        assert "task coding · complexity low" in routing.decision_text
        assert "chosen: meta-llama/llama-3.3-70b-instruct" in routing.decision_text
        assert len(routing.candidates) == 8
        assert routing.lines[0] == "#1 → meta-llama/llama-3.3-70b-instruct"
        gauges = dash.query_one(BudgetGauges)
        daily = gauges.gauge("daily")
        assert daily is not None and daily.level == "-warning"  # 90% of $5
        session = gauges.gauge("session")
        assert session is not None and session.level == "-ok"
        credits = str(gauges.query_one("#budget-credits", Static).content)
        # Demo mode: the simulator's credits are labelled as simulated (issue 12, bug 13).
        # Issue 12: "balance $74.75 … ($74.50 left)" read as a contradiction; each figure is
        # named for what it is.
        assert credits.startswith("simulated credits: account balance $14.75 · this key: $")
        assert " left of its $20.00 limit" in credits
        request = replay.requests[0]
        assert request.prompt == "write add" and request.history == []
        assert dash.turns[-1].role == "assistant"
        # The conversation id comes back on the outcome, not by mutating the request.
        assert dash.conversation_id == "replayed-1" and request.conversation_id is None


async def test_second_turn_sends_history_overrides_and_conversation(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        await send(pilot, app, "first")
        await answered(pilot, app)
        dash.query_one("#override-model", Select).value = "openai/gpt-4o-mini"
        dash.query_one("#override-max-tokens", Input).value = "256"
        dash.query_one("#override-cost", Input).value = "0.9"
        dash.query_one(ContextList).add_spec("src/*.py")
        dash.query_one(ContextList).add_spec("claude:latest")
        await send(pilot, app, "second")
        await wait_for(lambda: len(replay.requests) == 2 and not dash.streaming, pilot)
        second = replay.requests[1]
        assert [m.role for m in second.history] == ["user", "assistant"]
        assert second.history[0].content == "first"
        assert second.model == "openai/gpt-4o-mini"
        assert second.max_tokens == 256 and second.cost_priority == 0.9
        assert second.performance_priority is None
        assert second.context_specs == ["src/*.py"] and second.claude_session == "latest"
        assert second.conversation_id == "replayed-1"


async def test_invalid_overrides_are_refused_with_a_message_and_the_prompt_kept(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """Issue 12, bug 12: "5" and "abc" for 0..1 priorities were accepted silently."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        dash.query_one("#override-cost", Input).value = "5"
        dash.query_one("#override-performance", Input).value = "abc"
        await send(pilot, app, "keep me")
        await wait_for(lambda: bool(app._notifications), pilot)
        messages = " ".join(n.message for n in app._notifications)
        assert "Cost priority must be a number from 0 to 1 (got '5')" in messages
        assert "Performance priority must be a number from 0 to 1 (got 'abc')" in messages
        assert replay.requests == []
        assert dash.query_one(PromptEditor).text == "keep me"
        dash.query_one("#override-cost", Input).value = "0.5"
        dash.query_one("#override-performance", Input).value = ""
        await send(pilot, app, "keep me")
        await wait_for(lambda: len(replay.requests) == 1, pilot)
        assert replay.requests[0].cost_priority == 0.5


async def test_prompt_sent_while_streaming_is_queued_not_lost(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """Issue 12, bug 2: the editor cleared before the send was refused."""
    hold = asyncio.Event()
    replay.plays.append(Play(hold=hold))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        await send(pilot, app, "first")
        await wait_for(lambda: dash.current is not None and dash.current.text != "", pilot)
        await send(pilot, app, "typed while streaming")
        assert dash.queued == ["typed while streaming"]
        assert "1 queued" in str(dash.query_one(PromptEditor).border_subtitle)
        assert len(replay.requests) == 1
        hold.set()
        await wait_for(lambda: len(replay.requests) == 2, pilot)
        await answered(pilot, app)
        second = replay.requests[1]
        assert second.prompt == "typed while streaming"
        assert [m.content for m in second.history] == ["first", CODING.outcome.text]
        assert dash.queued == [] and not dash.query_one(PromptEditor).border_subtitle


async def test_escape_cancels_keeps_partial_answer_and_marks_the_header(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    hold = asyncio.Event()  # never set: the stream would never end on its own
    replay.plays.append(Play(hold=hold))
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
        first_chunk = next(e.text for e in CODING.events if isinstance(e, ChunkReceived))
        assert answer.text == first_chunk  # the partial answer is kept
        assert "CANCELLED" in answer.footer and answer.has_class("-cancelled")
        # Issue 12, bug 5: the header no longer says "streaming…" forever.
        assert answer.label == "meta-llama/llama-3.3-70b-instruct · cancelled"
        assert "cancelled by user" in dash.query_one(RoutingPane).lines
        await pilot.press("ctrl+r")
        await wait_for(lambda: len(replay.requests) == 2 and not dash.streaming, pilot)
        assert replay.requests[1].prompt == "long one"
        await answered(pilot, app)
        assert dash.query_one(Conversation).last_answer.state == "done"  # type: ignore[union-attr]


async def test_fallback_attempts_are_listed(make_app: MakeApp, replay: ReplayGateway) -> None:
    replay.plays.append(Play("fallback"))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "hi")
        await answered(pilot, app)
        lines = app.dashboard.query_one(RoutingPane).lines
        assert lines[1].startswith("✗ meta-llama/llama-3.3-70b-instruct: provider (HTTP 503)")
        # The event carries the real next step (issue 10, item 4): not "giving up".
        assert lines[1].endswith("; falling back to meta-llama/llama-3.3-70b-instruct:free")
        assert lines[2] == "#2 → meta-llama/llama-3.3-70b-instruct:free"
        assert app.dashboard.current is not None
        assert "after 503 on meta-llama/llama-3.3-70b-instruct" in app.dashboard.current.footer


async def test_model_ids_are_shown_literally_not_as_emoji(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """Issue 12, bug 7: `…:free: provider` in the attempts log was drawn as "🆓"."""
    replay.plays.append(Play("free_retry"))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "hi")
        await answered(pilot, app)
        routing = app.dashboard.query_one(RoutingPane)
        shown = log_text(routing)
        assert f"✗ {FREE_MODEL}: provider (HTTP 503)" in shown and "🆓" not in shown
        table = rendered(candidates_table(routing.candidates), 100)
        assert FREE_MODEL in table and "🆓" not in table


async def test_refusal_is_shown_and_nothing_streams(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    replay.plays.append(Play("refused"))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "expensive")
        await answered(pilot, app)
        dash = app.dashboard
        assert dash.current is not None and dash.current.state == "failed"
        routing = dash.query_one(RoutingPane)
        assert routing.decision_text.startswith("Refused: Request refused by the session budget")
        assert "REFUSED" in dash.current.footer and dash.current.text == ""


async def test_incomplete_answer_is_marked_with_retry(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    replay.plays.append(Play("cut_off"))
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "hi")
        await answered(pilot, app)
        answer = app.dashboard.current
        assert answer is not None and answer.state == "incomplete"
        assert answer.footer.startswith("INCOMPLETE (The connection closed in the middle")
        assert "ctrl+r retry" in answer.footer


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


async def test_full_budget_bar_is_red_not_green(make_app: MakeApp, replay: ReplayGateway) -> None:
    """Issue 12, bug 1: at 100% the bar used Textual's `bar--complete` style (green)."""
    replay.budgets = [
        BudgetView(
            name="total",
            limit_usd=Decimal("0.0015"),
            spent_usd=Decimal("0.00198"),
            remaining_usd=Decimal(0),
        )
    ]
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        gauges = app.dashboard.query_one(BudgetGauges)
        await wait_for(lambda: gauges.gauge("total") is not None, pilot)
        gauge = gauges.gauge("total")
        assert gauge is not None
        await wait_for(lambda: bool(gauge.query("Bar")) and gauge.level == "-over", pilot)
        bar = gauge.query_one(ProgressBar).query_one("Bar")
        error = Color.parse(app.theme_variables["error"]).rich_color.triplet

        def full_bar_colour() -> object:
            colour = bar.get_component_rich_style("bar--complete").color
            return colour.triplet if colour is not None else None

        await wait_for(lambda: gauge.query_one(ProgressBar).percentage == 1.0, pilot)
        await pilot.pause()
        assert full_bar_colour() == error


async def test_budgets_reported_before_the_gauges_exist_are_kept(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """Issue 12, bug 9: `NoMatches("#budget-empty")` when budgets arrived before compose."""
    gauges = BudgetGauges(id="late")
    await gauges.show_budgets(replay.budget_status())  # not mounted: raised NoMatches before
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await app.dashboard.mount(gauges)
        await wait_for(lambda: gauges.gauge("daily") is not None, pilot)
        assert gauges.query_one("#budget-empty", Static).display is False


async def test_charts_have_data_after_requests(make_app: MakeApp, replay: ReplayGateway) -> None:
    seed_request(replay.store, "openai/gpt-4o-mini", "0.001", ts=1.0)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        dash = app.dashboard
        await wait_for(lambda: dash.report is not None and dash.report.totals.requests == 1, pilot)
        await send(pilot, app, "hi")
        await wait_for(lambda: dash.report is not None and dash.report.totals.requests == 2, pilot)
        await wait_for(lambda: dash.query_one(SpendChart).points == 2, pilot)  # 1970 and today
        assert dash.query_one(ThroughputChart).points == 2
        spent = Decimal("0.001") + Decimal(str(CODING.outcome.cost_usd))
        report = dash.report
        assert report is not None
        assert dash.query_one(SpendChart).series[-1] == spent == report.totals.cost_usd


async def test_copy_answer_and_code(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f3")  # nothing yet: a notification, no crash
        await send(pilot, app, "code")
        await answered(pilot, app)
        await pilot.press("f3")
        assert app.clipboard.startswith("def process(items: list[str]) -> dict[str, int]:")
        await pilot.press("f2")
        assert app.clipboard == CODING.outcome.text


async def models_screen(app: DevflowApp, pilot: Pilot[None]) -> ModelsScreen:
    """The models screen (f5), once the gateway is open."""
    await wait_for(lambda: app.gateway is not None, pilot)
    await pilot.press("f5")
    screen = app.screen
    assert isinstance(screen, ModelsScreen)
    return screen


async def test_models_screen_pins_excludes_prefers_and_saves(
    make_app: MakeApp, settings: Settings
) -> None:
    assert settings.config_path is not None
    settings.config_path.write_text('log_level = "DEBUG"\n[budget]\ndaily_usd = "2"\n')
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await models_screen(app, pilot)
        first, second = screen.model_ids[:2]
        await pilot.press("p", "down", "x", "f")
        assert settings.routing.pinned_model == first
        assert settings.routing.excluded_models == [second]
        assert settings.preferred_models == [second]
        saved = tomllib.loads(settings.config_path.read_text())
        assert saved["log_level"] == "DEBUG" and saved["budget"] == {"daily_usd": "2"}
        assert saved["routing"]["pinned_model"] == first
        assert saved["preferred_models"] == [second]
        await pilot.press("up", "p", "down", "x")  # unpin, allow again
        saved = tomllib.loads(settings.config_path.read_text())
        assert "pinned_model" not in saved["routing"] and saved["routing"]["excluded_models"] == []
        # Names as written in a config file resolve by the router's rule: an excluded family
        # flags every model it covers, and the header shows what each name resolved to.
        settings.routing.excluded_models = ["llama"]
        settings.preferred_models = ["claude-3-sonnet"]
        screen.refresh_table()
        flagged = {m.id for m in screen.catalog_rows() if "✗" in screen.row_texts(m)[0]}
        assert flagged == {
            "meta-llama/llama-3.3-70b-instruct",
            "meta-llama/llama-3.3-70b-instruct:free",
        }
        header = str(screen.query_one("#models-prefs", Static).content)
        assert (
            "preferred: claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version)" in header
        )
        assert "excluded: llama -> meta-llama/llama-3.3-70b-instruct, " in header
        # The table reads the gateway's names as resolved once, not three per row.
        resolved: list[str] = []
        real = ModelNames._match

        def counted(names: ModelNames, name: str) -> tuple[Resolution, Resolution]:
            resolved.append(name)
            return real(names, name)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ModelNames, "_match", counted)
            screen.refresh_table()
        assert resolved == []
        await pilot.press("escape")
        assert app.screen is app.dashboard


async def test_typing_on_the_models_screen_changes_nothing(
    make_app: MakeApp, settings: Settings
) -> None:
    """QA2 #12m: a prompt typed on the models screen by mistake pinned, excluded and preferred
    models letter by letter and rewrote the config file. A letter that is not one of its keys
    stops them (with a warning) until the cursor moves."""
    assert settings.config_path is not None
    settings.config_path.write_text('log_level = "DEBUG"\n')
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await models_screen(app, pilot)
        await pilot.press(*"Write a detailed essay on the fall of the empire, from pax to exile")
        assert settings.routing.pinned_model is None
        assert settings.routing.excluded_models == [] and settings.preferred_models == []
        assert settings.config_path.read_text() == 'log_level = "DEBUG"\n'
        assert any("models screen" in n.message for n in app._notifications)
        # Moving the cursor is choosing a model: the keys work again.
        await pilot.press("down", "p")
        assert settings.routing.pinned_model == screen.model_ids[1]


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

    async def broken(_settings: Settings, *, demo: bool | None = None) -> ReplayGateway:
        raise ConfigError("OPENROUTER_API_KEY is invalid.", hint="Run `devflow auth set`.")

    app = DevflowApp(settings, gateway_factory=broken)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.gateway_error is not None, pilot)
        assert app.dashboard.query_one(DemoIndicator).mode == "offline"
        await send(pilot, app, "hello")
        assert app.dashboard.current is None  # nothing sent without a gateway
        assert app.dashboard.query_one(PromptEditor).text == "hello"  # and nothing lost
        # It says why, and the fix; it said "Still connecting; try again" for ever.
        last = list(app._notifications)[-1]
        assert "OPENROUTER_API_KEY is invalid." in last.message
        assert "Run `devflow auth set`." in last.message
        assert "Still connecting" not in " ".join(n.message for n in app._notifications)


async def test_editor_newlines_and_context_entry(
    make_app: MakeApp, replay: ReplayGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In an empty project folder: the pattern below must match nothing (the repository's
    # own docs/ has Markdown files).
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        editor = app.dashboard.query_one(PromptEditor)
        editor.focus()
        await pilot.press("enter")  # blank: nothing is sent
        await pilot.press("a", "ctrl+j", "b", "shift+enter", "c")
        assert editor.text == "a\nb\nc"
        assert replay.requests == []
        await pilot.press("ctrl+g")
        await pilot.press(*"docs/*.md", "enter")
        context = app.dashboard.query_one(ContextList)
        # Counted before sending: a pattern that matches nothing is refused at once, saying so.
        await wait_for(
            lambda: any("no files match 'docs/*.md'" in n.message for n in app._notifications),
            pilot,
        )
        assert context.specs == []
        (tmp_path / "a.md").write_text("a\n")
        await pilot.press(*"a.md", "enter")
        assert context.specs == ["a.md"]
        context.query_one("#context-table", DataTable).focus()
        await pilot.press("delete")
        assert context.specs == []
        await pilot.press("ctrl+o")
        assert app.focused is app.dashboard.query_one("#override-model")
        await pilot.press("ctrl+l")
        assert app.focused is editor


async def test_a_context_source_that_cannot_be_used_is_refused_not_kept(
    make_app: MakeApp, replay: ReplayGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA2 #8: a device (or any source that cannot be read) stayed in the list as an "error"
    row, and every prompt then failed before it was sent. It is refused with a message and
    taken off; the sources that can be used stay and the next prompt is sent."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("# notes\nuse tabs\n")
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        context = app.dashboard.query_one(ContextList)
        context.add_spec("notes.md")
        await wait_for(lambda: bool(context.preview), pilot)
        await pilot.press("ctrl+g")
        await pilot.press(*"/dev/zero", "enter")
        await wait_for(lambda: any("device" in n.message for n in app._notifications), pilot)
        await wait_for(lambda: bool(context.preview), pilot)
        assert context.specs == ["notes.md"]
        assert [item.name for item in context.preview or []] == ["file notes.md (2 lines)"]
        await send(pilot, app, "hello")
        await answered(pilot, app)
        assert len(replay.requests) == 1
        assert app.dashboard.current is not None and "FAILED" not in app.dashboard.current.footer


async def test_python_m_entry_point(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m devflow_tui.tui` exits as `devflow` does: 0 after a quit, the app's status
    after a signal (with why on stderr) or a crash, 2 for bad settings."""
    import devflow_tui.tui.__main__ as entry

    # main() installs its signal handlers (see run_stoppable): the test process keeps its own.
    previous = {number: signal.getsignal(number) for number in TERMINATION_SIGNALS}
    ran: list[DevflowApp] = []
    endings: list[tuple[int | None, str | None]] = [
        (None, None),
        (143, "stopped by SIGTERM."),
        (1, None),
    ]

    def run(app: DevflowApp) -> None:
        app._return_code, app.stop_reason = endings[len(ran)]
        ran.append(app)

    monkeypatch.setattr(DevflowApp, "run", run)
    try:
        assert entry.main() == 0 and len(ran) == 1
        assert entry.main() == 143
        assert capsys.readouterr().err == "devflow: stopped by SIGTERM.\n"
        assert entry.main() == 1
        assert settings.config_path is not None
        settings.config_path.write_text("not toml = = =")
        assert entry.main() == 2
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


async def test_theme_is_remembered_across_runs(make_app: MakeApp) -> None:
    """Issue 12, bug 13: the theme was not saved."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("ctrl+t")
        chosen = app.theme
    again = make_app()
    async with again.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: again.gateway is not None, pilot)
        assert again.theme == chosen


async def test_quit_while_streaming_asks_first(make_app: MakeApp, replay: ReplayGateway) -> None:
    """Issue 12, bug 13: ctrl+q mid-stream quit without asking."""
    hold = asyncio.Event()
    replay.plays.append(Play(hold=hold))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await send(pilot, app, "long one")
        await wait_for(lambda: app.dashboard.streaming and app.dashboard.current is not None, pilot)
        await pilot.press("ctrl+q")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        await pilot.press("n")
        await wait_for(lambda: app.screen is app.dashboard, pilot)
        assert app.dashboard.streaming and app.return_code is None
        await pilot.press("ctrl+q")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), pilot)
        await pilot.press("y")
        await wait_for(lambda: app.return_code == 0, pilot)


async def test_screenshot_without_a_downloads_folder_says_where_it_went(
    make_app: MakeApp, settings: Settings
) -> None:
    """Issue 12, bug 13: the palette's Screenshot failed silently without ~/Downloads."""
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        saved = app.deliver_screenshot()
        assert saved is not None and Path(saved).parent == settings.home / "screenshots"
        assert Path(saved).read_text(encoding="utf-8").startswith("<svg")
        # (Broken after a separator for the toast's width: compared without the breaks.)
        await wait_for(
            lambda: any(saved in "".join(n.message.split()) for n in app._notifications), pilot
        )


async def test_any_message_can_be_selected_and_copied(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """Issue 12, bug 13: only the last answer could be copied."""
    replay.plays.extend([Play("coding"), Play("fallback")])
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard
        await send(pilot, app, "first prompt")
        await answered(pilot, app)
        await send(pilot, app, "second prompt")
        await wait_for(lambda: len(replay.requests) == 2, pilot)
        await answered(pilot, app)
        conversation = dash.query_one(Conversation)
        conversation.focus()
        await pilot.press("up", "up")  # the last answer, then the prompt before it
        await pilot.press("c")
        assert app.clipboard == "second prompt"
        await pilot.press("up")  # the first answer
        await pilot.press("f2")
        assert app.clipboard == CODING.outcome.text


async def test_notes_and_context_tokens_before_sending(
    make_app: MakeApp, replay: ReplayGateway, tmp_path: Path
) -> None:
    """Issue 12, bug 14: no notes from the dashboard; context showed "—" until a send."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("def main() -> None:\n    print('hello world')\n" * 20)
    app = make_app(project_dir=project)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        context = app.dashboard.query_one(ContextList)
        context.add_spec("app.py")
        await wait_for(lambda: context.preview is not None, pilot)
        assert context.preview is not None
        (item,) = context.preview
        assert item.name == "file app.py (40 lines)" and item.tokens > 100
        total = str(context.query_one("#context-total", Static).content)
        assert total == f"next request: 1 sources · {item.tokens:,} tokens"
        await pilot.press("f9")
        await wait_for(lambda: isinstance(app.screen, TextDialog), pilot)
        await pilot.press(*"use tabs, not spaces", "enter")
        await wait_for(lambda: app.screen is app.dashboard, pilot)
        notes = replay.store.list_notes(project_key(project.resolve()), include_global=False)
        assert [n.text for n in notes] == ["use tabs, not spaces"]
        await wait_for(lambda: context.preview is not None and len(context.preview) == 2, pilot)
        assert replay.requests == []  # all of this before anything was sent


async def test_latency_view_reads_for_four_models_and_filters_by_period(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """Issue 12, bug 4: with more than two models labels overlapped and went missing."""
    now = time.time()
    models = {
        "anthropic/claude-sonnet-4.5": (2400.0, 900.0, now - 30),
        "openai/gpt-4o-mini": (700.0, 200.0, now - 60),
        "deepseek/deepseek-v3.2-exp": (1500.0, 400.0, now - 90),
        "meta-llama/llama-3.3-70b-instruct:free": (3100.0, 1300.0, now - 7200),
    }
    for model, (latency, ttft, ts) in models.items():
        for _ in range(3):
            seed_request(replay.store, model, "0", ts=ts, latency_ms=latency, ttft_ms=ttft)
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        view = app.dashboard.query_one(LatencyView)
        await wait_for(lambda: view.points == 4, pilot)
        figure = view.query_one(LatencyFigure)
        heads = [r.key for r in sorted(figure.rows, key=lambda r: r.latency_p50_ms or 0)]
        assert heads == [
            "openai/gpt-4o-mini",
            "deepseek/deepseek-v3.2-exp",
            "anthropic/claude-sonnet-4.5",
            "meta-llama/llama-3.3-70b-instruct:free",
        ]
        rendered = [str(line) for line in rows_text(figure.rows, 60).renderables]
        assert [rendered[i].split()[0] for i in range(0, 12, 3)] == heads
        assert all("n=3" in rendered[i] for i in range(0, 12, 3))
        view.query_one("#latency-window", Select).value = "1h"
        await wait_for(lambda: view.points == 3, pilot)
        assert FREE_MODEL not in {r.key for r in figure.rows}


@pytest.mark.parametrize("size", [(200, 50), (80, 24)])
async def test_charts_show_the_reports_figures_for_their_window(
    make_app: MakeApp, replay: ReplayGateway, size: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA2 finding 14: with 2,000 requests over 5 days the latency view said n=25 and 632 tok/s
    for a model `devflow report` counted 81 times at 749 tok/s, and the spend curve ended at
    $2.83 of $11.03: the dashboard computed its own figures from the last 500 rows. Now it
    shows the report's, for the window its selector names (at 80x24 the charts are hidden,
    but they are loaded the same way)."""
    # The analytics benchmark's loader, imported as its sibling scripts import it.
    monkeypatch.syspath_prepend(str(Path(__file__).parents[2] / "benchmarks"))
    from analytics import bulk_load, synthetic_rows

    from devflow_tui.accounting.reports import build_report

    now = time.time()
    store = replay.store
    store.clock = lambda: now
    bulk_load(store, synthetic_rows(2000, 5, now - 60))
    app = make_app()
    async with app.run_test(size=size) as pilot:
        dash = app.dashboard
        view = dash.query_one(LatencyView)
        await wait_for(lambda: dash.history_loaded and bool(dash.query(SpendChart)), pilot)
        spend = dash.query_one(SpendChart)

        def loaded(window: str) -> bool:
            report = dash.report
            return report is not None and report.since == window and spend.report is report

        for window in ("all", "24h", "1h"):
            if view.window != window:
                view.query_one("#latency-window", Select).value = window
            await wait_for(lambda: loaded(window), pilot)  # noqa: B023 (awaited here)
            expected = build_report(store, since=window)
            assert (
                expected.totals.requests == 2000
                if window == "all"
                else expected.totals.requests > 0
            )
            wanted = {g.key: g for g in expected.by_model if g.key != "(none)"}
            figure = view.query_one(LatencyFigure)
            shown = {r.key: (r.requests, r.tokens_per_s) for r in figure.rows}
            assert shown == {k: (g.requests, g.tokens_per_s) for k, g in wanted.items()}
            # ... as the user reads them: "vendor1/model-19   749 tok/s · n=81"
            heads = [str(line) for line in rows_text(figure.rows, 80).renderables][::3]
            for key, g in wanted.items():
                rate = f"{g.tokens_per_s:,.0f} tok/s" if g.tokens_per_s else "— tok/s"
                meta = f"{rate} · n={g.requests}"
                assert any(h.startswith(key) and h.endswith(meta) for h in heads)
            assert spend.series and spend.series[-1] == expected.totals.cost_usd
            throughput = dash.query_one(ThroughputChart)
            assert throughput.points == sum(1 for g in wanted.values() if g.tokens_per_s)


async def test_gateway_opening_before_the_dashboard_composes_fills_it_on_mount(
    settings: Settings, replay: ReplayGateway
) -> None:
    # Under load the gateway can open before the dashboard has composed its widgets; the panes
    # must still be filled once it has (they stayed "connecting…").
    never = asyncio.Event()

    async def opens_only_once(_settings: Settings, *, demo: bool | None = None) -> ReplayGateway:
        await never.wait()  # the one opening is the early one below
        return replay

    app = DevflowApp(settings, gateway_factory=opens_only_once)
    app.dashboard.gateway_ready(replay)
    async with app.run_test(size=(120, 40)) as pilot:
        indicator = app.dashboard.query_one(DemoIndicator)
        await wait_for(lambda: indicator.mode != "connecting", pilot)
        assert indicator.mode == ("demo" if replay.demo else "live")


def rendered(renderable: object, width: int) -> str:
    """What `renderable` looks like as plain text at `width` columns."""
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


async def test_nothing_is_cut_off_at_80_columns_or_in_the_routing_table(
    make_app: MakeApp,
) -> None:
    """Issue 12, bug 10: F4/F5 fell off the footer at 80 columns, and the routing table cut
    its cost and reason columns even at 220 columns."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        keys = {key.key: key for key in app.screen.query(FooterKey)}
        palette = keys.pop("ctrl+p")
        for key in ("f1", "f4", "f5", "f8"):
            assert keys[key].region.right <= palette.region.x, key
    wide = make_app()
    async with wide.run_test(size=(220, 60)) as pilot:
        await wait_for(lambda: wide.gateway is not None, pilot)
        await send(pilot, wide, "write add")
        await answered(pilot, wide)
        routing = wide.dashboard.query_one(RoutingPane)
        width = routing.query_one("#routing-candidates", Static).content_region.width
        assert width > 20
        shown = " ".join(rendered(candidates_table(routing.candidates), width).split())
        for candidate in routing.candidates:
            cost = usd(candidate.estimated_cost_usd)
            for word in [candidate.model, cost, *candidate.reason.split()]:
                assert word in shown, word


async def test_start_up_objects_are_frozen_only_when_the_app_owns_its_process(
    make_app: MakeApp,
) -> None:
    """Full garbage collections walked every object start-up built (100-300 ms stalls while an
    answer streamed); `devflow` (App.run) freezes them once start-up is done. A test run must
    not: it would pin other tests' objects."""
    import gc

    assert not make_app().freeze_after_start  # run_test leaves it off; only App.run sets it
    owned = make_app()
    owned.freeze_after_start = True  # what DevflowApp.run sets
    frozen_before = gc.get_freeze_count()
    try:
        async with owned.run_test(size=(120, 30)) as pilot:
            await wait_for(lambda: owned.memory_settled, pilot)
            assert owned.dashboard.history_loaded
            assert gc.get_freeze_count() > frozen_before
    finally:
        gc.unfreeze()


async def test_f12_stronger_is_in_the_footer_at_80_columns_and_esc_while_streaming(
    make_app: MakeApp, replay: ReplayGateway
) -> None:
    """Issue 9: the escalation key was only in the help screen; the footer now offers F12
    whenever nothing streams (esc to cancel takes its place while an answer streams)."""
    hold = asyncio.Event()
    replay.plays.append(Play(hold=hold))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        dash = app.dashboard

        def shown() -> dict[str, FooterKey]:
            keys = {key.key: key for key in app.screen.query(FooterKey)}
            palette = keys.pop("ctrl+p")
            return {
                k: v for k, v in keys.items() if v.display and v.region.right <= palette.region.x
            }

        await pilot.pause()
        assert "f12" in shown() and "escape" not in shown()
        await send(pilot, app, "long one")
        await wait_for(lambda: dash.current is not None and dash.current.text != "", pilot)
        await pilot.pause()
        assert "escape" in shown() and "f12" not in shown()
        await pilot.press("f12")  # disabled while streaming: no second request
        assert len(replay.requests) == 1
        await pilot.press("escape")
        await wait_for(lambda: not dash.streaming, pilot)
        await pilot.pause()
        keys = shown()
        assert "f12" in keys and "escape" not in keys
        assert {"f1", "f4", "f5", "f8"} <= set(keys)


async def test_charts_mounted_after_the_first_frame_survive_a_quick_quit(
    make_app: MakeApp,
) -> None:
    """The plotext charts mount after the first frame (first paint does not wait for plotext);
    when the app quits first, their panes are gone and mounting must not crash the exit."""
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: bool(app.dashboard.query(ThroughputChart)), pilot)
        dash = app.dashboard
        await dash.query_one("#tab-throughput").remove()
        await dash._mount_charts()  # as when the screen is torn down: no error
        assert not dash.query("#tab-throughput")
    assert not app.return_code  # no crash on the way out
