"""`devflow handoff`: the dashboard opens with the session attached and a summary screen."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from textual.widgets import Markdown

from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.screens.handoff import HandoffScreen, summary_markdown
from devflow_tui.tui.widgets.context_list import ContextList

FIXTURE = Path(__file__).parents[1] / "context" / "fixtures" / "claude-code-viewer-v1.0.98.jsonl"
MakeApp = Callable[..., DevflowApp]


async def _wait(pilot: object, predicate: Callable[[], bool]) -> None:
    # Generous: on a loaded 2-core machine the gateway can take seconds to open.
    for _ in range(3000):
        if predicate():
            return
        await pilot.pause(0.01)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


async def test_handoff_shows_summary_and_attaches_session(
    make_app: MakeApp, tmp_path: Path
) -> None:
    session = tmp_path / "session.jsonl"
    shutil.copy(FIXTURE, session)
    app = make_app(claude_session=str(session), project_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, HandoffScreen))
        screen = app.screen
        assert isinstance(screen, HandoffScreen)
        text = summary_markdown(screen.summary)
        assert "## Task" in text and "## Last request" in text
        assert screen.summary.turns > 0
        assert screen.query_one(Markdown)
        await pilot.press("escape")
        await _wait(pilot, lambda: not isinstance(app.screen, HandoffScreen))
        specs = app.dashboard.query_one(ContextList).specs
        assert any(str(session) in spec for spec in specs)


async def test_handoff_with_missing_session_notifies(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(claude_session="latest", project_dir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: bool(app._notifications))
        assert not isinstance(app.screen, HandoffScreen)
        messages = " ".join(n.message for n in app._notifications)
        assert "Claude" in messages or "CLAUDE_CONFIG_DIR" in messages


def test_summary_words_a_missing_branch_and_counts_of_one() -> None:
    """Outside a git repository it said "on branch `HEAD`", and "1 tool calls"."""
    from devflow_tui.context.claude_sessions import parse_session

    summary = parse_session(FIXTURE).summary()
    one = summary.model_copy(update={"git_branch": "HEAD", "turns": 1, "tool_calls": 1})
    text = summary_markdown(one)
    assert "(no git branch)" in text and "HEAD" not in text
    assert "1 turn · 1 tool call · " in text
    named = summary_markdown(summary.model_copy(update={"git_branch": "main", "turns": 2}))
    assert "on branch `main`" in named and "2 turns · " in named
