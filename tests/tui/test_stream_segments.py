"""Long streamed answers are cut into segments at safe boundaries, each drawn on its own."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.await_complete import AwaitComplete
from textual.widgets import Markdown

from devflow_tui.gateway.events import RequestOutcome
from devflow_tui.tui.stream_segments import HARD_LIMIT, SegmentSplitter, ThrottledStream
from devflow_tui.tui.widgets.conversation import Conversation, code_blocks
from tests.tui.test_conversation import OneConversation, screen_lines
from tests.tui.test_dashboard import wait_for


def feed_all(splitter: SegmentSplitter, fragments: list[str]) -> list[str]:
    """Feed fragments in order; the list of segment texts that results."""
    segments = [""]
    for fragment in fragments:
        pieces = splitter.feed(fragment)
        segments[-1] += pieces[0]
        segments.extend(pieces[1:])
    return segments


def pieces_of(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_paragraphs_roll_over_at_a_blank_line_after_the_soft_limit() -> None:
    paragraphs = [f"paragraph {i} " + "word " * 12 for i in range(12)]
    text = "\n\n".join(paragraphs) + "\n"
    splitter = SegmentSplitter(soft_limit=150, hard_limit=10_000)
    segments = feed_all(splitter, pieces_of(text, 4))
    assert "".join(segments) == text
    assert len(segments) > 3
    for segment in segments[:-1]:
        assert segment.endswith("\n\n") and len(segment) >= 150
    assert splitter.synthetic_chars == 0


def test_no_split_inside_a_fence_before_the_hard_limit() -> None:
    code = "".join(f"x{i} = {i}\n" for i in range(40)) + "\n" + "y = 1\n"
    text = f"an intro long enough to end a segment\n\n```python\n{code}```\n\nafter\n"
    splitter = SegmentSplitter(soft_limit=20, hard_limit=100_000)
    segments = feed_all(splitter, pieces_of(text, 3))
    assert "".join(segments) == text
    # The blank line inside the fence is not a boundary; the first one after it is.
    assert segments[1] == f"```python\n{code}```\n\n"
    assert not splitter.in_fence


def test_an_over_long_code_block_is_closed_and_reopened() -> None:
    code = "".join(f"line_{i:03d} = {i}\n" for i in range(60))
    text = f"~~~~ text\n{code}~~~~\n"
    splitter = SegmentSplitter(soft_limit=50, hard_limit=200)
    segments = feed_all(splitter, [text[:5], text[5:500], text[500:]])
    assert len(segments) > 3
    for segment in segments[:-1]:
        assert segment.startswith("~~~~ text\n") and segment.endswith("~~~~\n")
    # Every segment renders as code and together they hold exactly the original lines.
    assert "".join("".join(code_blocks(s)) for s in segments) == code
    synthetic = sum(len(s) for s in segments) - len(text)
    assert splitter.synthetic_chars == synthetic > 0


def test_an_over_long_paragraph_is_cut_at_a_newline_a_long_line_anywhere() -> None:
    text = "".join(f"sentence {i} goes on\n" for i in range(50))
    splitter = SegmentSplitter(soft_limit=100, hard_limit=250)
    segments = feed_all(splitter, pieces_of(text, 7))
    assert "".join(segments) == text
    assert len(segments) > 2 and all(s.endswith("\n") for s in segments[:-1])
    # A line longer than the hard limit is cut where it stands (see the 10 MB test below).
    one_line = SegmentSplitter(soft_limit=10, hard_limit=20).feed("z" * 100)
    assert one_line == ["z" * 20] * 5


def test_closing_fence_needs_the_same_character_and_length() -> None:
    splitter = SegmentSplitter()
    splitter.feed("````md\n```\n~~~~\n")
    assert splitter.in_fence
    splitter.feed("`````  \n")
    assert not splitter.in_fence
    splitter.feed("```a`b\n")  # a backtick in the info string: not a fence
    assert not splitter.in_fence


async def test_long_answer_streams_into_several_parts_drawn_once() -> None:
    paragraphs = [f"Paragraph {i}: " + "some words here " * 20 for i in range(30)]
    code = "".join(f"value_{i} = {i}\n" for i in range(700))
    answer = (
        "[simulated answer from deepseek/deepseek-v3.2-exp]\n\n"
        + "\n\n".join(paragraphs)
        + f"\n\n```python\n{code}```\n\nDone.\n"
    )
    app = OneConversation()
    async with app.run_test(size=(120, 40)) as pilot:
        conversation = app.query_one(Conversation)
        current = await conversation.add_turn("r", "a long answer")
        for piece in pieces_of(answer, 16):
            await current.append(piece)
        await current.finish(RequestOutcome(request_id="r", text=answer, model="m", complete=True))
        assert current.state == "done"
        await wait_for(lambda: current.shown_chars == len(answer), pilot)
        await pilot.pause()
        bodies = current.bodies
        assert len(bodies) > 4
        # In order, the parts hold the answer plus only the reopened fences.
        shown = "".join(body.source for body in bodies)
        assert len(shown) == len(answer) + current._splitter.synthetic_chars
        assert "".join(code_blocks(shown)) == code
        assert shown.startswith(answer[:200]) and shown.endswith(answer[-200:])
        assert max(len(body.source) for body in bodies) <= 2 * HARD_LIMIT
        # The view follows the end; the first part, screens above it, holds no lines any more
        # but keeps its height; scrolled back into view it is drawn again, the same height.
        first = bodies[0]
        assert first.lines is None and first.height > 1
        assert "Done." in screen_lines(conversation)
        height = first.height
        conversation.release_anchor()  # as scrolling up by hand does
        conversation.scroll_home(animate=False, immediate=True)
        await pilot.pause()
        assert any("simulated answer" in line for line in screen_lines(conversation))
        assert first.lines is not None and len(first.lines) == height
        assert current.text == answer
        assert code_blocks(current.text) == [code]


class CountingMarkdown(Markdown):
    """Counts how often the stream appended to it."""

    appends = 0

    def append(self, markdown: str) -> AwaitComplete:
        self.appends += 1
        return super().append(markdown)


async def test_throttled_stream_coalesces_writes_and_flushes_on_stop() -> None:
    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield CountingMarkdown()

    app = One()
    async with app.run_test() as pilot:
        markdown = app.query_one(CountingMarkdown)
        stream = ThrottledStream(markdown, interval=60.0)
        stream.write("first ")
        await pilot.pause()
        for word in ("a ", "b ", "", "c\n"):
            stream.write(word)  # all inside one interval: appended together on stop
        await stream.stop()
        assert markdown.source == "first a b c\n"
        assert markdown.appends == 2
        with pytest.raises(RuntimeError):
            stream.write("late")
        detached = ThrottledStream(CountingMarkdown(), interval=0.0)
        detached.write("nowhere to go")
        await detached.stop()  # a widget no longer on screen: the stream just ends
        assert detached.markdown.source == ""


def test_a_10_mb_single_line_is_cut_into_bounded_segments() -> None:
    """Issue 10: a 10 MB answer on one line must not freeze the dashboard. Segments used to end
    only at a newline, so one widget re-parsed the whole line on every append."""
    line = ("word " * 2_000_000)[:10_000_000]
    splitter = SegmentSplitter()
    segments = feed_all(splitter, pieces_of(line, 4096))
    assert "".join(segments) == line and splitter.synthetic_chars == 0
    # A segment holds at most the lines before the long one plus one cut of it.
    assert max(len(s) for s in segments) <= 2 * HARD_LIMIT
    assert len(segments) >= len(line) // HARD_LIMIT


def test_a_long_line_inside_code_is_cut_with_the_fence_reopened() -> None:
    text = "```\n" + "x" * 20_000 + "\n```\n"
    splitter = SegmentSplitter(soft_limit=100, hard_limit=1_000)
    segments = feed_all(splitter, pieces_of(text, 300))
    assert all(len(s) <= 2 * 1_000 + 10 for s in segments)
    assert all(s.startswith("```") for s in segments[1:-1])
    shown = "".join(segments)
    assert len(shown) == len(text) + splitter.synthetic_chars
    assert shown.count("x") == 20_000 and not splitter.in_fence
    # Every segment is a whole code block: opened, and closed by the cut or by the answer.
    assert all(s.startswith("```") and s.rstrip("\n").endswith("```") for s in segments[:-1])


async def test_a_long_single_line_streams_into_bounded_parts() -> None:
    line = ("word " * 40_000)[:200_000]
    app = OneConversation()
    async with app.run_test(size=(100, 30)) as pilot:
        current = await app.query_one(Conversation).add_turn("r", "one long line")
        for piece in pieces_of(line, 2048):
            await current.append(piece)
        await current.finish(RequestOutcome(request_id="r", text=line, model="m", complete=True))
        await wait_for(lambda: current.shown_chars == len(line), pilot)
        assert current.text == line
        bodies = current.bodies
        assert len(bodies) >= len(line) // HARD_LIMIT
        assert max(len(body.source) for body in bodies) <= 2 * HARD_LIMIT
