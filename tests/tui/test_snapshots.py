"""The look of every screen at 80x24 and 160x48, with fixed data (scripted gateway, no clocks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from tests.tui.scripted_gateway import Conversation, ScriptedGateway

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
Snap = Callable[..., bool]


async def _settle(pilot: Pilot[None], predicate: Callable[[], bool]) -> None:
    for _ in range(300):
        if predicate():
            break
        await pilot.pause(0.01)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def _answered(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, DevflowApp)
    await _settle(pilot, lambda: app.gateway is not None)
    editor = app.dashboard.query_one(PromptEditor)
    editor.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    editor.text = "write a function that adds two ints"
    await pilot.press("enter")
    await _settle(
        pilot, lambda: app.dashboard.current is not None and app.dashboard.current.state == "done"
    )


def _with_history(scripted: ScriptedGateway) -> None:
    scripted.store.conversations["c1"] = Conversation(
        "c1",
        "Reverse a list in Python",
        1_700_000_000.0,
        [
            {"role": "user", "content": "how do I reverse a list?"},
            {"role": "assistant", "content": "Use `items[::-1]` or `items.reverse()`."},
        ],
    )
    scripted.store.conversations["c2"] = Conversation("c2", "Haiku about autumn", 1_690_000_000.0)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    assert snap_compare(make_app(), terminal_size=size, run_before=_answered)


@pytest.mark.parametrize("size", SIZES)
def test_history_screen(
    snap_compare: Snap, make_app: Callable[..., DevflowApp], scripted: ScriptedGateway, size: Any
) -> None:
    _with_history(scripted)

    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, DevflowApp)
        await _settle(pilot, lambda: app.gateway is not None)
        await pilot.press("f4")
        await _settle(pilot, lambda: len(getattr(app.screen, "conversation_ids", [])) == 2)

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_models_screen(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, DevflowApp)
        await _settle(pilot, lambda: app.gateway is not None)
        await pilot.press("f5")
        await _settle(pilot, lambda: bool(getattr(app.screen, "model_ids", [])))

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare: Snap, make_app: Callable[..., DevflowApp], size: Any) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, DevflowApp)
        await _settle(pilot, lambda: app.gateway is not None)
        # The dashboard stays visible under the help: its cursor must not blink either.
        app.dashboard.query_one(PromptEditor).cursor_blink = False
        await pilot.press("f1")
        await _settle(pilot, lambda: app.screen.id != "dashboard")

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)
