"""The look of every screen at 80x24 and 160x48, with fixed data (recorded events, no clocks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.screens.help import HelpScreen
from devflow_tui.tui.screens.history import HistoryScreen
from devflow_tui.tui.widgets.budget_gauges import BudgetGauge
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from tests.tui.recorded_gateway import ReplayGateway
from tests.tui.store_rows import seed_request

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
def test_models_screen(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _open(pilot, "f5", lambda app: bool(getattr(app.screen, "model_ids", [])))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await _open(pilot, "f1", lambda app: isinstance(app.screen, HelpScreen))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)
