"""The history and analytics screen on a real AnalyticsStore (SQLite under tmp_path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from textual.widgets import DataTable, Static

from devflow_tui.accounting.records import RequestStart
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import Settings
from devflow_tui.gateway.events import RequestOutcome
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.screens.history import HistoryScreen, ReportChart
from devflow_tui.tui.widgets.conversation import Conversation
from devflow_tui.tui.widgets.latency_charts import LatencyChart
from tests.tui.scripted_gateway import ScriptedGateway


@pytest.fixture
def store(settings: Settings) -> Iterator[AnalyticsStore]:
    settings.home.mkdir(parents=True, exist_ok=True)
    db = AnalyticsStore(settings.db_path)
    try:
        yield db
    finally:
        db.close()


def record(store: AnalyticsStore, model: str, cost: str, prompt: str, answer: str) -> str:
    request_id = store.begin_request(RequestStart(task_type="coding", model=model))
    store.finish_request(
        request_id,
        RequestOutcome(
            request_id=request_id,
            text=answer,
            model=model,
            task_type="coding",
            complexity="low",
            prompt_tokens=100,
            completion_tokens=50,
            cost_usd=Decimal(cost),
            cost_source="reported",
            latency_ms=800.0,
            ttft_ms=200.0,
            tokens_per_s=60.0,
            complete=True,
        ),
    )
    conversation = store.save_message(None, "user", prompt, request_id=request_id)
    store.save_message(conversation, "assistant", answer, request_id=request_id)
    return conversation


async def wait_for(predicate: Callable[[], bool], pilot: object) -> None:
    for _ in range(500):
        if predicate():
            return
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


async def test_report_and_reopen_from_the_database(
    settings: Settings,
    scripted: ScriptedGateway,
    store: AnalyticsStore,
    make_app: Callable[..., DevflowApp],
) -> None:
    record(store, "openai/gpt-4o-mini", "0.002", "sort a list", "use sorted()")
    wanted = record(store, "anthropic/claude-sonnet-4.5", "0.03", "what is rust", "a language")
    scripted.store = store  # type: ignore[assignment]
    app = make_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(lambda: app.dashboard.query_one(LatencyChart).points == 2, pilot)
        await pilot.press("f4")
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        await wait_for(
            lambda: screen.report is not None and len(screen.conversation_ids) == 2, pilot
        )
        assert screen.report.totals.requests == 2
        assert screen.query_one("#report-by-model", DataTable).row_count == 2
        totals = str(screen.query_one("#report-totals", Static).content)
        assert "requests: 2" in totals
        assert str(screen.query_one("#report-savings", Static).content).startswith("Savings")
        assert screen.query_one(ReportChart).plt is not None
        screen.query_one("#history-search").value = "rust"  # type: ignore[attr-defined]
        await wait_for(lambda: screen.conversation_ids == [wanted], pilot)
        await pilot.press("ctrl+o")
        await wait_for(lambda: app.screen is app.dashboard, pilot)
        answers = app.dashboard.query_one(Conversation)
        await wait_for(lambda: len(answers.answers) == 1, pilot)
        await pilot.pause()
        assert answers.answers[0].label == "anthropic/claude-sonnet-4.5"
        assert app.dashboard.conversation_id == wanted
