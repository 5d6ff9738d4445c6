"""Compare mode on the real gateway and the simulated server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import pytest
from textual.widgets import Input, SelectionList, Static

from devflow_tui.config import load_settings
from devflow_tui.gateway.pipeline import GatewayRequest
from devflow_tui.sim import Fault, SimServer
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.money import usd
from devflow_tui.tui.screens.compare import CompareScreen
from devflow_tui.tui.widgets.latency_view import LatencyView
from devflow_tui.tui.widgets.prompt_editor import PromptEditor
from tests.tui.test_against_sim import app_on, chat_requests, wait_for
from tests.tui.test_widths import ids_broken_mid_name, on_screen

pytestmark = pytest.mark.timeout(60)

FOUR = [
    "openai/gpt-4o-mini",
    "deepseek/deepseek-v3.2-exp",
    "anthropic/claude-haiku-4.5",
    "meta-llama/llama-3.3-70b-instruct:free",
]


async def open_compare(app: DevflowApp, pilot: object, prompt: str) -> CompareScreen:
    app.dashboard.query_one(PromptEditor).text = prompt
    await pilot.press("f8")  # type: ignore[attr-defined]
    await wait_for(lambda: isinstance(app.screen, CompareScreen), pilot)  # type: ignore[arg-type]
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    return screen


def choose(screen: CompareScreen, models: list[str]) -> None:
    selection = screen.query_one("#compare-models", SelectionList)
    selection.deselect_all()
    for model in models:
        selection.select(model)


async def compared(
    app: DevflowApp, pilot: object, prompt: str, models: list[str], key: str = "enter"
) -> CompareScreen:
    """Compare `prompt` on `models` (sent with `key`) and wait for every column to end."""
    await wait_for(lambda: app.gateway is not None, pilot)  # type: ignore[arg-type]
    screen = await open_compare(app, pilot, prompt)
    choose(screen, models)
    await pilot.press(key)  # type: ignore[attr-defined]
    await wait_for(
        lambda: len(screen.columns) == len(models) and not screen.has_class("-running"),
        pilot,  # type: ignore[arg-type]
    )
    return screen


async def test_compare_two_models_side_by_side_and_records_both(
    sim: SimServer, fake_key: str
) -> None:
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        prompt = "write a python function that reverses a list"
        screen = await open_compare(app, pilot, prompt)
        assert screen.query_one("#compare-prompt", Input).value == prompt
        # The router's top candidates are ticked before the user changes anything.
        assert app.gateway is not None
        decision = app.gateway.prepare(GatewayRequest(prompt=prompt)).decision
        top = [c.model.id for c in decision.candidates[:3]]
        selection = screen.query_one("#compare-models", SelectionList)
        await wait_for(lambda: sorted(selection.selected) == sorted(top), pilot)
        choose(screen, FOUR[:2])
        await pilot.press("enter")
        await wait_for(lambda: len(screen.columns) == 2 and not screen.has_class("-running"), pilot)
        columns = screen.columns
        assert [c.model for c in columns] == FOUR[:2]
        assert all(c.state == "done" and c.text.startswith("[simulated answer") for c in columns)
        for column in columns:
            figures = column.figures_text
            assert "ttft" in figures and "tok/s" in figures and "total" in figures
            assert "$" in figures and "~" not in figures  # the real counts replaced estimates
        marks = [column.marks for column in columns]
        assert sum("⚡ fastest" in m for m in marks) == 1
        assert sum("$ cheapest" in m for m in marks) == 1
        # Both answers are ordinary requests, tagged with the comparison, and on the charts.
        rows = app.gateway.store.recent_requests(5)
        tagged = [r for r in rows if r.comparison == screen.comparison]
        assert sorted(r.model or "" for r in tagged) == sorted(FOUR[:2])
        assert all(r.status == "ok" for r in tagged)
        await wait_for(lambda: app.dashboard.query_one(LatencyView).points == 2, pilot)
        assert len(chat_requests(sim)) == 2
        await pilot.press("escape")
        await wait_for(lambda: app.screen is app.dashboard, pilot)


async def test_compare_four_models_one_failing_mid_stream(sim: SimServer, fake_key: str) -> None:
    broken = FOUR[2]
    settings = load_settings()
    settings.max_retries = 0
    sim.add_fault(Fault(kind="mid_stream_error", model=broken, after_chunks=2, times=None))
    app = app_on(sim, settings, fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await compared(app, pilot, "explain what a hash map is", FOUR, "ctrl+s")
        states = {c.model: c.state for c in screen.columns}
        assert states == {m: ("failed" if m == broken else "done") for m in FOUR}
        failed = next(c for c in screen.columns if c.model == broken)
        assert failed.status_text.startswith("FAILED:") and not failed.marks
        winners = [c for c in screen.columns if c.marks]
        assert winners and all(c.state == "done" for c in winners)
        assert app.gateway is not None
        tagged = [
            r for r in app.gateway.store.recent_requests(10) if r.comparison == screen.comparison
        ]
        assert len(tagged) == 4
        assert {r.status for r in tagged if r.model == broken} == {"error"}


async def test_compare_refuses_fewer_than_two_models(sim: SimServer, fake_key: str) -> None:
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        screen = await open_compare(app, pilot, "hello")
        choose(screen, FOUR[:1])
        await pilot.press("enter")
        await wait_for(lambda: bool(app._notifications), pilot)
        assert any("Choose 2 to 4 models (now 1)" in n.message for n in app._notifications)
        assert screen.columns == [] and chat_requests(sim) == []


async def test_compare_cancelled_before_any_answer_ends_and_can_run_again(
    sim: SimServer, fake_key: str
) -> None:
    # Every model stalls before its first token: esc must end the comparison by itself, with
    # every column marked cancelled, not leave it "running" with columns waiting forever.
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=30_000, times=None))
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        screen = await open_compare(app, pilot, "explain what a hash map is")
        choose(screen, FOUR[:2])
        await pilot.press("ctrl+s")
        await wait_for(lambda: len(screen.columns) == 2 and screen.running, pilot)
        await pilot.press("escape")
        await wait_for(lambda: not screen.running, pilot)
        assert [c.state for c in screen.columns] == ["cancelled", "cancelled"]
        assert not screen.has_class("-running")
        sim.clear_faults()
        await pilot.press("ctrl+s")
        await wait_for(lambda: [c.state for c in screen.columns] == ["done", "done"], pilot)
        assert not screen.running


async def test_compare_cancelled_mid_answer_shows_what_each_answer_cost(fake_key: str) -> None:
    """Like QA2 finding 10 in the dashboard: a column cancelled mid-answer said "cost at the
    end" for ever, though the gateway had recorded its cost; it shows the recorded figures."""
    from devflow_tui.sim import SimConfig

    slow = SimServer(SimConfig(time_scale=1.0, answer_tokens=4000)).start()
    try:
        app = app_on(slow, load_settings(), fake_key)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(lambda: app.gateway is not None, pilot)
            screen = await open_compare(app, pilot, "tell me a long story")
            choose(screen, FOUR[:2])
            await pilot.press("ctrl+s")
            await wait_for(
                lambda: len(screen.columns) == 2 and all(len(c.text) > 20 for c in screen.columns),
                pilot,
            )
            await pilot.press("escape")
            await wait_for(lambda: not screen.running, pilot)
            assert app.gateway is not None
            rows = {
                r.model: r
                for r in app.gateway.store.recent_requests(5)
                if r.comparison == screen.comparison
            }
            for column in screen.columns:
                row = rows[column.model]
                assert column.state == "cancelled" and row.status == "cancelled"
                assert row.cost_usd and usd(row.cost_usd) in column.figures_text
                assert "cost at the end" not in column.figures_text
    finally:
        slow.stop()


async def test_compare_headers_break_model_ids_only_at_separators(
    sim: SimServer, fake_key: str
) -> None:
    """QA2 #12f: at 80x24 the columns' headers folded ids mid-name (`meta-llama/llama-3.3-70` /
    `b-instruct`); they break after a separator and show every id whole."""
    app = app_on(sim, load_settings(), fake_key)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await compared(app, pilot, "write a haiku", FOUR)
        await pilot.pause()
        for column in screen.columns:
            header = column.query_one(".compare-model", Static)
            lines = [line.strip() for line in on_screen(header)]
            assert "".join(lines) == column.model, lines
            assert not ids_broken_mid_name(lines, FOUR), lines
            assert all(line[-1] in "/-_.:" for line in lines[:-1]), lines
