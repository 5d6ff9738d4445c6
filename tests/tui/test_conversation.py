"""The conversation widget on its own: how answers are drawn."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Markdown, Static

from devflow_tui.tui.widgets.conversation import Conversation, SavedTurn

POEM = "Roses are red,\nviolets are blue,\nthis poem has lines\nand so should you.\n"


class OneConversation(App[None]):
    """Just the conversation widget, fed the way the dashboard feeds it."""

    CSS = "Conversation { height: 1fr; } .answer { height: auto; }"

    def compose(self) -> ComposeResult:
        yield Conversation()


async def test_poem_keeps_its_line_breaks_streamed_and_reopened() -> None:
    """Issue 12, bug 8: single newlines were joined into one line on screen."""
    app = OneConversation()
    async with app.run_test(size=(80, 24)) as pilot:
        conversation = app.query_one(Conversation)
        answer = await conversation.add_turn("r", "write a poem")
        for line in POEM.splitlines(keepends=True):
            await answer.append(line)
        await answer._end_stream()
        await pilot.pause()
        paragraph = answer.query_one("MarkdownParagraph", Static)
        assert str(paragraph.content).splitlines() == POEM.splitlines()
        await conversation.load([SavedTurn("user", "poem"), SavedTurn("assistant", POEM)])
        await pilot.pause()
        reopened = (
            conversation.answers[0].query_one(Markdown).query_one("MarkdownParagraph", Static)
        )
        assert str(reopened.content).splitlines() == POEM.splitlines()
