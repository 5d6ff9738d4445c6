"""Every dashboard action with its key and description: one table for the bindings, the
footer, the help screen and the command palette, so they cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    """One user action of the app."""

    name: str  # the App action name, without `action_`
    key: str
    title: str  # shown in the footer and the command palette
    description: str
    show: bool = True


# The footer shows the actions marked `show`, in this order, as far as the width allows: the
# ones a new user needs first, so at 80 columns F1, F4, F5 and F8 are never the ones left out.
# On the dashboard the app shows esc (cancel) only while an answer streams and F12 (stronger)
# only when none does (`DevflowApp.check_action`), so F12 fits at 80 columns too; F10 (team)
# shows only when the database has team members, so a single user's footer is unchanged.
ACTIONS: tuple[Action, ...] = (
    Action("help", "f1", "Help", "Show this help"),
    Action("history", "f4", "History", "Past conversations, search, export, analytics report"),
    Action("models", "f5", "Models", "Model catalog: prices, context, health; pin/exclude/prefer"),
    Action("compare", "f8", "Compare", "Send one prompt to 2-4 models side by side"),
    Action("cancel", "escape", "Cancel", "Cancel the streaming answer (the partial text is kept)"),
    Action("retry", "ctrl+r", "Retry", "Send the last prompt again (after a cut-off or cancel)"),
    Action(
        "escalate",
        "f12",
        "Better",
        "Re-ask the last prompt with a stronger model (one tier up), recorded as an escalation",
    ),
    Action("copy_answer", "f2", "Copy", "Copy the selected message, or the last answer"),
    Action("add_note", "f9", "Note", "Add a note, sent as context with this project's prompts"),
    Action(
        "team",
        "f10",
        "Team",
        "Team spend today, this month and per member (when the database has members)",
    ),
    Action(
        "proxy", "f7", "Proxy", "Proxy traffic (Claude Code, SDKs, MCP); start the proxy", False
    ),
    Action("copy_code", "f3", "Copy code", "Copy the last code block of the last answer", False),
    Action(
        "toggle_compact", "f6", "Compact", "Toggle compact mode (auto below 110 columns)", False
    ),
    Action("new_conversation", "ctrl+n", "New", "Start a new conversation", show=False),
    Action("focus_prompt", "ctrl+l", "Prompt", "Focus the prompt editor", show=False),
    Action(
        "focus_overrides",
        "ctrl+o",
        "Overrides",
        "Focus the overrides (model pin, priorities)",
        False,
    ),
    Action("focus_context", "ctrl+g", "Context", "Add context (file, glob, claude:latest)", False),
    Action("next_theme", "ctrl+t", "Theme", "Switch to the next theme (remembered)", show=False),
)


def bindings() -> list[Binding]:
    """App bindings built from the action table (plus `?` for help)."""
    # Function keys win over the focused widget (TextArea binds F5-F7 to selections).
    result = [
        Binding(a.key, a.name, a.title, show=a.show, priority=a.key.startswith("f"))
        for a in ACTIONS
    ]
    result.append(Binding("question_mark", "help", "Help", show=False))
    return result
