"""The look of every screen (dashboard, history, report, models, team, help, handoff, compare)
at 80x24 and 160x48, with fixed data (recorded gateway events, fixed dates, no blinking cursor)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widgets import Markdown, SelectionList

from devflow_tui.accounting.members import Members
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.screens.compare import CompareScreen
from devflow_tui.tui.screens.handoff import HandoffScreen
from devflow_tui.tui.screens.help import HelpScreen
from devflow_tui.tui.screens.history import HistoryScreen
from devflow_tui.tui.screens.team import TeamScreen
from devflow_tui.tui.widgets.budget_gauges import BudgetGauge
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from tests.tui.recorded_gateway import Play, ReplayGateway
from tests.tui.store_rows import seed_request

HANDOFF_FIXTURE = (
    Path(__file__).parents[1] / "context" / "fixtures" / "claude-code-viewer-v1.0.98.jsonl"
)
SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
Snap = Callable[..., bool]


async def _settle(pilot: Pilot[None], predicate: Callable[[], bool]) -> None:
    # Generous: on a loaded 2-core machine the gateway can take seconds to open.
    for _ in range(3000):
        if predicate():
            break
        await pilot.pause(0.01)
    else:
        raise AssertionError("the screen never settled")
    # A blinking cursor would make the picture depend on timing.
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False  # type: ignore[attr-defined]
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _ready(pilot: Pilot[None]) -> DevflowApp:
    """The dashboard with everything it loads at start shown (screens on top show it dimmed)."""
    app = pilot.app
    assert isinstance(app, DevflowApp)
    dash = app.dashboard
    await _settle(
        pilot,
        lambda: app.gateway is not None
        and dash.history_loaded
        and dash.credits_loaded
        and len(dash.query(BudgetGauge)) == 3,
    )
    return app


async def _answered(pilot: Pilot[None]) -> None:
    app = await _ready(pilot)
    app.dashboard.query_one(PromptEditor).text = "write a function that adds two ints"
    await pilot.press("enter")
    await _settle(
        pilot,
        lambda: app.dashboard.current is not None
        and app.dashboard.current.state == "done"
        and not app.dashboard.streaming,
    )


async def _open(pilot: Pilot[None], key: str, ready: Callable[[DevflowApp], bool]) -> None:
    app = await _ready(pilot)
    await pilot.press(key)
    await _settle(pilot, lambda: ready(app))


def _with_history(replay: ReplayGateway) -> None:
    for ts, prompt, answer in (
        (1_700_000_000.0, "how do I reverse a list?", "Use `items[::-1]` or `items.reverse()`."),
        (1_690_000_000.0, "a haiku about autumn", "Leaves let go\nof summer\nquietly"),
    ):
        seed_request(
            replay.store, "openai/gpt-4o-mini", "0.0000138", prompt=prompt, answer=answer, ts=ts
        )


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_answered)


@pytest.mark.parametrize("size", SIZES)
def test_history_screen(
    snap_compare: Snap, make_app: Callable[..., DevflowApp], replay: ReplayGateway, size: Any
) -> None:
    _with_history(replay)

    def ready(app: DevflowApp) -> bool:
        screen = app.screen
        return isinstance(screen, HistoryScreen) and (
            len(screen.conversation_ids) == 2 and screen.report is not None
        )

    async def run_before(pilot: Pilot[None]) -> None:
        await _open(pilot, "f4", ready)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_team_screen(
    snap_compare: Snap, make_app: Callable[..., DevflowApp], replay: ReplayGateway, size: Any
) -> None:
    """Members added as `devflow team add` does, with requests recorded now (this month)."""
    members = Members(replay.store)
    members.add("ada.lovelace-analytical-engine", Decimal("25"))
    members.add("grace")
    for member, cost in (
        ("ada.lovelace-analytical-engine", "0.0123"),
        ("grace", "0.5"),
        (None, "1"),
    ):
        seed_request(replay.store, "openai/gpt-4o-mini", cost, member=member)

    def ready(app: DevflowApp) -> bool:
        screen = app.screen
        return isinstance(screen, TeamScreen) and screen.spend is not None

    async def run_before(pilot: Pilot[None]) -> None:
        app = await _ready(pilot)
        await _settle(pilot, lambda: app.has_team)
        await pilot.press("f10")
        await _settle(pilot, lambda: ready(app))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_models_screen(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _open(pilot, "f5", lambda app: bool(getattr(app.screen, "model_ids", [])))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _open(pilot, "f1", lambda app: isinstance(app.screen, HelpScreen))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_report_tab(
    snap_compare: Snap, make_app: Callable[..., DevflowApp], replay: ReplayGateway, size: Any
) -> None:
    # Within the report's window whatever the day the test runs: only the dates move.
    recent = time.time() - 3600
    for model, cost, latency in (
        ("openai/gpt-4o-mini", "0.0000138", 900.0),
        ("deepseek/deepseek-v3.2-exp", "0.0000446", 1500.0),
        ("anthropic/claude-sonnet-4.5", "0.0123", 2400.0),
    ):
        seed_request(replay.store, model, cost, ts=recent, latency_ms=latency)

    async def run_before(pilot: Pilot[None]) -> None:
        def report_ready(app: DevflowApp) -> bool:
            screen = app.screen
            return isinstance(screen, HistoryScreen) and screen.report is not None

        await _open(pilot, "f4", report_ready)
        await pilot.press("ctrl+r")
        await _settle(pilot, lambda: True)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_handoff_screen(
    snap_compare: Snap, make_app: Callable[..., DevflowApp], tmp_path: Path, size: Any
) -> None:
    session = tmp_path / "session.jsonl"
    shutil.copy(HANDOFF_FIXTURE, session)

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        await _settle(pilot, lambda: isinstance(app.screen, HandoffScreen))
        await _ready(pilot)

    app = make_app(claude_session=str(session), project_dir=tmp_path)
    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_screen(
    snap_compare: Snap, make_app: Callable[..., DevflowApp], replay: ReplayGateway, size: Any
) -> None:
    replay.plays.extend([Play("coding"), Play("fallback")])

    async def run_before(pilot: Pilot[None]) -> None:
        app = await _ready(pilot)
        app.dashboard.query_one(PromptEditor).text = "write a function that adds two ints"
        await pilot.press("f8")
        await _settle(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        selection = screen.query_one("#compare-models", SelectionList)
        selection.deselect_all()
        selection.select("deepseek/deepseek-v3.2-exp")
        selection.select("deepseek/deepseek-r1")
        await pilot.press("enter")

        def shown() -> bool:
            # Both answers drawn in full and read from the top.
            return len(screen.columns) == 2 and all(
                c.state == "done"
                and c.query_one(Markdown).source == c.text
                and c.query_one(".compare-scroll", VerticalScroll).scroll_y == 0
                for c in screen.columns
            )

        await _settle(pilot, shown)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)
