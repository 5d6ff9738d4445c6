"""The conversation widget on its own: how answers are drawn, and what that costs."""

from __future__ import annotations

from textual.app import App, ComposeResult

from devflow_tui.gateway.events import RequestOutcome
from devflow_tui.tui.widgets.conversation import Conversation, SavedTurn

POEM = "Roses are red,\nviolets are blue,\nthis poem has lines\nand so should you.\n"


class OneConversation(App[None]):
    """Just the conversation widget, fed the way the dashboard feeds it."""

    CSS = "Conversation { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Conversation()


def screen_lines(conversation: Conversation) -> list[str]:
    """The conversation's lines as they are on screen now (trailing spaces dropped)."""
    height = conversation.scrollable_content_region.height
    return [conversation.render_line(y).text.rstrip() for y in range(height)]


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
        shown = screen_lines(conversation)
        start = shown.index("Roses are red,")
        assert shown[start : start + 4] == POEM.splitlines()
        await conversation.load([SavedTurn("user", "poem"), SavedTurn("assistant", POEM)])
        await pilot.pause()
        shown = screen_lines(conversation)
        start = shown.index("Roses are red,")
        assert shown[start : start + 4] == POEM.splitlines()


async def test_model_ids_and_prompts_are_shown_literally_and_code_wraps() -> None:
    """Bug 7 (":free" shown as an emoji) and, at 80 columns, code lines cut at the edge: a
    long code line wraps onto the next line instead."""
    code_line = "total = " + " + ".join(f"value_{i}" for i in range(20))
    text = f"Here:\n\n```python\n{code_line}\n```\n"
    app = OneConversation()
    async with app.run_test(size=(80, 24)) as pilot:
        conversation = app.query_one(Conversation)
        answer = await conversation.add_turn("r", "use [bold]x[/] and :free: literally")
        answer.set_label("meta-llama/llama-3.3-70b-instruct:free · streaming…")
        await answer.append(text)
        await answer.finish(RequestOutcome(request_id="r", text=text, model="m:free"))
        await pilot.pause()
        shown = "\n".join(screen_lines(conversation))
        assert "use [bold]x[/] and :free: literally" in shown
        assert "m:free" in shown and "🆓" not in shown
        # Every identifier of the long line is on screen, none cut at the right edge.
        assert len(code_line) > conversation.scrollable_content_region.width
        for i in range(20):
            assert f"value_{i}" in shown


async def test_the_view_holds_no_widget_per_message_and_a_bounded_number_of_lines() -> None:
    """The cost of the conversation does not grow with its length: no widget per message or
    paragraph, and only the lines near the view are kept drawn (each message keeps its
    height); scrolled back, a message is drawn again as it was."""
    paragraph = "A paragraph of an answer with enough words to wrap over a couple of lines. "
    app = OneConversation()
    async with app.run_test(size=(80, 24)) as pilot:
        conversation = app.query_one(Conversation)
        for i in range(80):
            answer = await conversation.add_turn(f"r{i}", f"question {i}")
            text = f"Answer {i}.\n\n" + (paragraph * 3 + "\n\n") * 3
            await answer.append(text)
            await answer.finish(RequestOutcome(request_id=f"r{i}", text=text, model="m"))
        await pilot.pause()
        assert len(conversation.answers) == 80
        assert not conversation.children  # one widget, whatever the length
        assert conversation.virtual_size.height > 4 * conversation.kept_limit
        assert conversation.kept_lines <= conversation.kept_limit
        assert "Answer 79." in screen_lines(conversation)
        conversation.release_anchor()  # as scrolling up by hand does
        conversation.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert "Answer 0." in screen_lines(conversation)
        assert "question 0" in "\n".join(screen_lines(conversation))


async def test_messages_are_selected_with_the_keys_or_a_click() -> None:
    app = OneConversation()
    async with app.run_test(size=(80, 24)) as pilot:
        conversation = app.query_one(Conversation)
        answer = await conversation.add_turn("r", "the prompt")
        await answer.append("the answer\n")
        await answer.finish(RequestOutcome(request_id="r", text="the answer\n", model="m"))
        await pilot.pause()
        assert conversation.selected is None
        conversation.focus()
        await pilot.press("up")
        assert conversation.selected is answer
        await pilot.press("up", "up")
        assert conversation.selected is conversation.messages[0]
        await pilot.press("down")
        assert conversation.selected is answer
        prompt_line = [line.strip() for line in screen_lines(conversation)].index("the prompt")
        await pilot.click(Conversation, offset=(10, prompt_line))
        assert conversation.selected is conversation.messages[0]
