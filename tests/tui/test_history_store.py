"""The history and analytics screen on a real AnalyticsStore (SQLite under tmp_path)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import DataTable, Input, Markdown, Static, TabbedContent
from textual.widgets._toast import Toast

from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.screens.history import HistoryScreen, ReportChart
from devflow_tui.tui.widgets.conversation import Conversation
from devflow_tui.tui.widgets.latency_view import LatencyView
from tests.tui.recorded_gateway import ReplayGateway
from tests.tui.store_rows import seed_request


async def wait_for(predicate: Callable[[], bool], pilot: object) -> None:
    for _ in range(500):
        if predicate():
            return
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


async def test_report_and_reopen_from_the_database(
    replay: ReplayGateway, make_app: Callable[..., DevflowApp]
) -> None:
    store = replay.store
    seed_request(store, "openai/gpt-4o-mini", "0.002", prompt="sort a list", answer="sorted()")
    _, wanted = seed_request(
        store,
        "anthropic/claude-sonnet-4.5",
        "0.03",
        prompt="what is rust",
        answer="a language",
        status="cancelled",
    )
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.dashboard.query_one(LatencyView).points == 2, pilot)
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        # Issue 12, bug 11: the search box has the focus; ctrl+r reaches the report.
        assert app.focused is screen.query_one("#history-search", Input)
        await wait_for(
            lambda: screen.report is not None and len(screen.conversation_ids) == 2, pilot
        )
        assert screen.report is not None and screen.report.totals.requests == 2
        await pilot.press("ctrl+r")
        assert screen.query_one("#history-tabs", TabbedContent).active == "tab-report"
        by_model = screen.query_one("#report-by-model", DataTable)
        assert by_model.row_count == 2
        assert [str(c.label) for c in by_model.columns.values()][:4] == [
            "model",
            "requests",
            "ok",
            "cost",
        ]
        totals = str(screen.query_one("#report-totals", Static).content)
        assert totals.startswith("2 requests · 100% succeeded · spent $0.032\n")
        assert "latency p50 800 ms" in totals and "success_rate" not in totals
        assert str(screen.query_one("#report-savings", Static).content).startswith("Savings")
        assert screen.query_one(ReportChart).plt is not None
        await pilot.press("ctrl+r")
        assert app.focused is screen.query_one("#history-search", Input)
        await pilot.press(*"rust")
        await wait_for(lambda: screen.conversation_ids == [wanted], pilot)
        # The preview follows the filter.
        preview = screen.query_one("#history-preview", Markdown)
        await wait_for(lambda: "what is rust" in preview.source, pilot)
        await pilot.press("ctrl+e")
        assert screen.exported is not None and screen.exported.is_relative_to(replay.settings.home)
        assert "what is rust" in screen.exported.read_text(encoding="utf-8")
        await pilot.press("ctrl+o")
        await wait_for(lambda: app.screen is app.dashboard, pilot)
        answers = app.dashboard.query_one(Conversation)
        await wait_for(lambda: len(answers.answers) == 1, pilot)
        await pilot.pause()
        # Issue 12, bug 6: the footer and the cancelled mark come back with the answer.
        answer = answers.answers[0]
        assert answer.label == "anthropic/claude-sonnet-4.5 · cancelled"
        assert answer.footer.startswith("CANCELLED · anthropic/claude-sonnet-4.5 · $0.03 · ")
        assert "100→50 tok" in answer.footer and "latency 800 ms" in answer.footer
        assert app.dashboard.conversation_id == wanted


@pytest.mark.parametrize("size", [(200, 50), (80, 24)])
async def test_the_export_message_shows_the_whole_path(
    replay: ReplayGateway, make_app: Callable[..., DevflowApp], size: tuple[int, int]
) -> None:
    """QA2 #12c: the toast folded the path, a word longer than its width, and lost a character
    at the fold (`…/exports/conversation-` / `e916014-831.md` for `conversation-8e916014…`).
    The path is broken after a separator for the toast's width, every character kept."""
    seed_request(replay.store, "openai/gpt-4o-mini", "0.002", prompt="sort a list")
    app = make_app()
    async with app.run_test(size=size, notifications=True) as pilot:
        await wait_for(lambda: app.gateway is not None, pilot)
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(lambda: len(screen.conversation_ids) == 1, pilot)
        await pilot.press("ctrl+e")
        assert screen.exported is not None
        await wait_for(lambda: bool(app.screen.query(Toast)), pilot)
        await pilot.pause()
        toast = app.screen.query(Toast).last()
        strips = app.screen._compositor.render_strips()
        box = toast.content_region
        lines = [s.text[box.x : box.right].strip() for s in strips[box.y : box.bottom]]
        lines = [line for line in lines if line]
        # The path whole, broken only after a separator (or at the space before it).
        whole = "".join(lines).replace("Exported to ", "Exported to")
        assert whole == f"Exported to{screen.exported}", lines
        assert all(line[-1] in "/-_.:" or line == "Exported to" for line in lines[:-1]), lines
