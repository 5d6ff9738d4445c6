"""The one-screen summary shown when a Claude Code session is handed over (`devflow handoff`)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from devflow_tui.context.claude_sessions import SessionSummary

MAX_FILES = 12


def _clip(text: str | None, limit: int = 600) -> str:
    if not text:
        return "_(none)_"
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_markdown(summary: SessionSummary) -> str:
    """The session as a short Markdown page: task, files touched, last request, numbers."""
    files = summary.files_edited or summary.files_touched
    listed = "\n".join(f"- `{f}`" for f in files[:MAX_FILES]) or "_(no files)_"
    if len(files) > MAX_FILES:
        listed += f"\n- … and {len(files) - MAX_FILES} more"
    when = summary.ended.strftime("%Y-%m-%d %H:%M") if summary.ended else "unknown"
    models = ", ".join(summary.models) or "unknown"
    # Claude Code records "HEAD" outside a git repository and on a detached HEAD.
    branch = summary.git_branch if summary.git_branch not in (None, "", "HEAD") else None
    where = f" on branch `{branch}`" if branch else " (no git branch)"
    turns = f"{summary.turns} turn{'s' if summary.turns != 1 else ''}"
    calls = f"{summary.tool_calls} tool call{'s' if summary.tool_calls != 1 else ''}"
    return (
        f"# Handoff: Claude Code session `{summary.session_id[:8]}`\n\n"
        f"{turns} · {calls} · last activity {when}"
        f"{' · compacted' if summary.compacted else ''}\n\n"
        f"Project `{summary.cwd or '?'}`{where}; "
        f"models used: {models}.\n\n"
        f"## Task\n\n{_clip(summary.task)}\n\n"
        f"## Files {'edited' if summary.files_edited else 'touched'}\n\n{listed}\n\n"
        f"## Last request\n\n{_clip(summary.last_request)}\n\n"
        "The session is attached as context (see the context list). Type what the next model "
        "should do, then enter. Press esc to close this summary."
    )


class HandoffScreen(ModalScreen[None]):
    """The session summary; escape or enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("enter", "dismiss", "Close", show=False),
    ]

    def __init__(self, summary: SessionSummary) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="handoff-body"):
            yield Markdown(summary_markdown(self.summary))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
