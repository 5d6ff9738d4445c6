"""The conversation: user turns and streamed Markdown answers with a footer per answer."""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence

from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.geometry import NULL_SIZE
from textual.widget import _RenderCache
from textual.widgets import Markdown, Static

from devflow_tui.gateway.events import AttemptRecord, RequestOutcome
from devflow_tui.tui.money import ms, usd
from devflow_tui.tui.stream_segments import SegmentSplitter, ThrottledStream

_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks in `markdown`, in order."""
    return [match.group(2) for match in _FENCE.finditer(markdown)]


def answer_footer(outcome: RequestOutcome) -> str:
    """`model · $cost · tokens · latency · ttft` for one finished answer."""
    tokens = f"{outcome.prompt_tokens:,}→{outcome.completion_tokens:,} tok"
    parts = [
        outcome.model or "no model",
        usd(outcome.cost_usd),
        tokens,
        f"latency {ms(outcome.latency_ms)}",
        f"ttft {ms(outcome.ttft_ms)}",
    ]
    if outcome.tokens_per_s:
        parts.append(f"{outcome.tokens_per_s:.0f} tok/s")
    if outcome.cache_hit:
        parts.append("cache hit")
    failures = failed_attempts(outcome.attempts)
    if failures:
        parts.append("after " + ", ".join(failures))
    return " · ".join(parts)


def failed_attempts(attempts: Sequence[AttemptRecord]) -> list[str]:
    """`503 on model` for each failed attempt, in order; repeats counted (`503×2 on model`).

    Only attempts that were really made are named: the routing's fallback list is a plan,
    and showing it would read as if those models had been tried.
    """
    counts: dict[tuple[str, str], int] = {}
    for attempt in attempts:
        if attempt.error is None and (attempt.status is None or attempt.status < 400):
            continue
        why = str(attempt.status) if attempt.status else (attempt.error or "error")
        key = (why, attempt.model)
        counts[key] = counts.get(key, 0) + 1
    return [
        f"{why}{f'×{count}' if count > 1 else ''} on {model}"
        for (why, model), count in counts.items()
    ]


class UserTurn(Static):
    """One prompt as the user sent it."""


# Whether the heap that was there before the first long answer has been frozen (see below).
_startup_heap_frozen = False


class FinishedPart(Static):
    """A finished part of a long answer, drawn by one widget.

    Textual's Markdown makes a widget per paragraph; a long answer holds hundreds of them, and
    the garbage collector's full passes over all those objects stall the screen. A part the
    stream has moved past never changes again, so one Static rendering the same Markdown with
    Rich takes its place.
    """

    def __init__(self, source: str, *, dark: bool = True, classes: str = "") -> None:
        theme = "monokai" if dark else "default"
        super().__init__(RichMarkdown(source, code_theme=theme), classes=classes)
        self.source = source  # what the Markdown widget held, reopened fences included
        # Textual's Markdown ends with its last block's bottom margin; Rich's output does not.
        self.styles.margin = (0, 0, 1, 0)

    def release(self) -> None:
        """Drop the rendered lines (drawn again if the part comes back into view)."""
        # Every rendered line is a Strip with seven small caches; kept for a part scrolled
        # away, they are most of the objects the garbage collector walks.
        self.refresh()
        self._render_cache = _RenderCache(NULL_SIZE, [])


class AnswerBlock(Vertical):
    """One answer: label, streamed Markdown body and a footer with model, cost and timings."""

    def __init__(self, request_id: str, prompt: str, *, text: str = "") -> None:
        super().__init__(classes="answer")
        self.request_id = request_id
        self.prompt = prompt
        self.text = text
        self.state = "streaming" if not text else "done"
        self._stream: ThrottledStream | None = None
        self._splitter = SegmentSplitter()
        self._segment: Markdown | None = None  # the Markdown widget being streamed into
        self._finished_chars = 0  # characters in the parts the stream has moved past

    def compose(self) -> ComposeResult:
        yield Static("waiting for a model…", classes="answer-label")
        yield Markdown(self.text or None, classes="answer-body")
        yield Static("", classes="answer-footer")

    @property
    def label(self) -> str:
        return str(self.query_one(".answer-label", Static).content)

    @property
    def footer(self) -> str:
        return str(self.query_one(".answer-footer", Static).content)

    def set_label(self, text: str) -> None:
        self.query_one(".answer-label", Static).update(text)

    def set_footer(self, text: str) -> None:
        self.query_one(".answer-footer", Static).update(text)

    @property
    def body(self) -> Markdown:
        """The first Markdown widget of the answer (the only one unless it was streamed long)."""
        # Not query_one(".answer-body", Markdown): a FinishedPart may come first.
        return next(iter(self.query(".answer-body").results(Markdown)))

    @property
    def bodies(self) -> list[Markdown | FinishedPart]:
        """The answer's body widgets, one per streamed segment, in order."""
        return [
            body for body in self.query(".answer-body") if isinstance(body, Markdown | FinishedPart)
        ]

    @property
    def shown_chars(self) -> int:
        """How many characters of the answer the body widgets hold so far."""
        current = self._segment or self.body
        shown = self._finished_chars + len(current.source)
        return shown - self._splitter.synthetic_chars

    async def append(self, fragment: str) -> None:
        """Add streamed text; the stream appends it to the screen at most ~30 times a second.

        A long answer continues in a new Markdown widget at a safe boundary (see
        `stream_segments`), because Markdown re-parses its whole last block on every append.
        `self.text` always keeps the whole answer, for copying and for the conversation.
        """
        if not fragment:
            return
        self.text += fragment
        for index, piece in enumerate(self._splitter.feed(fragment)):
            if index:
                await self._next_segment()
            if piece:
                if self._stream is None:
                    self._stream = ThrottledStream(self._segment or self.body)
                self._stream.write(piece)

    async def _next_segment(self) -> None:
        # The new widget must be mounted before its stream appends to it (Markdown mounts its
        # blocks into itself); the old stream is flushed so the segments stay in order.
        await self._end_stream()
        finished = self._segment or self.body
        self._finished_chars += len(finished.source)
        segment = Markdown(classes="answer-body -continued")
        await self.mount(segment, before=self.query_one(".answer-footer", Static))
        self._segment = segment
        # Off the hot path: the swap runs once this append has returned.
        self.call_later(self._replace_finished, finished)

    async def _replace_finished(self, finished: Markdown) -> None:
        """Put one `FinishedPart` in place of a finished part's Markdown widget."""
        if not finished.is_attached:
            return  # the answer left the screen meanwhile
        part = FinishedPart(
            finished.source,
            dark=self.app.current_theme.dark,
            classes=" ".join(finished.classes),
        )
        with self.app.batch_update():
            mounted = self.mount(part, after=finished)
            removed = finished.remove()
        await mounted
        await removed
        for older in list(self.query(FinishedPart))[:-2]:
            older.release()
        global _startup_heap_frozen
        if not _startup_heap_frozen:
            # Once per process: the full collector's passes over the objects that were already
            # there (app, history, charts: ~150k) take 30-70 ms each; frozen, they are skipped.
            # Collected first so that no garbage is frozen with them.
            _startup_heap_frozen = True
            gc.collect()
            gc.freeze()

    async def _end_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    async def finish(self, outcome: RequestOutcome) -> None:
        """The answer is complete (or ended early): show its footer and any incomplete mark."""
        await self._end_stream()
        if outcome.text and not self.text:
            # A cache hit or a non-streamed answer arrives whole.
            self.text = outcome.text
            await self.body.update(outcome.text)
        self.set_label(f"{outcome.model or 'no model'}")
        footer = answer_footer(outcome)
        if outcome.status == "cancelled":
            self.state = "cancelled"
            self.add_class("-cancelled")
            footer = "CANCELLED · " + footer
        elif outcome.status in {"refused", "error"} and not self.text:
            self.state = "failed"
            self.add_class("-incomplete")
            word = "REFUSED" if outcome.status == "refused" else "FAILED"
            footer = f"{word} · {outcome.error_message or outcome.error_category or 'error'}"
            self.set_label(word.lower())
            self.set_footer(footer)
            return
        elif outcome.status != "ok" or not outcome.complete:
            self.state = "incomplete"
            self.add_class("-incomplete")
            why = outcome.error_message or outcome.finish_reason or "cut off"
            footer = f"INCOMPLETE ({why}) · ctrl+r retry · " + footer
        else:
            self.state = "done"
        self.set_footer(footer)

    async def mark_cancelled(self) -> None:
        """The user cancelled the stream; the partial answer stays."""
        await self._end_stream()
        if self.state == "streaming":
            self.state = "cancelled"
            self.add_class("-cancelled")
            self.set_footer("CANCELLED · partial answer kept · ctrl+r retry")

    async def mark_failed(self, message: str) -> None:
        """The request failed; keep any partial text and offer a retry."""
        await self._end_stream()
        if self.state in {"streaming", "done"}:
            self.state = "incomplete" if self.text else "failed"
            self.add_class("-incomplete")
            self.set_footer(f"INCOMPLETE · {message} · ctrl+r retry")


class Conversation(VerticalScroll):
    """The scrolling list of turns; anchored so streamed text stays in view."""

    def on_mount(self) -> None:
        self.anchor()

    @property
    def answers(self) -> list[AnswerBlock]:
        return list(self.query(AnswerBlock))

    @property
    def last_answer(self) -> AnswerBlock | None:
        answers = self.answers
        return answers[-1] if answers else None

    async def add_turn(self, request_id: str, prompt: str) -> AnswerBlock:
        """Show the prompt and an empty answer waiting for the stream."""
        answer = AnswerBlock(request_id, prompt)
        await self.mount_all([UserTurn(prompt, classes="user-turn", markup=False), answer])
        self.anchor()
        return answer

    async def load(self, turns: Sequence[tuple[str, str, str | None]]) -> None:
        """Replace the view with a saved conversation: (role, content, model) per message."""
        await self.remove_children()
        widgets: list[Static | AnswerBlock] = []
        prompt = ""
        for index, (role, content, model) in enumerate(turns):
            if role == "user":
                prompt = content
                widgets.append(UserTurn(content, classes="user-turn", markup=False))
            else:
                answer = AnswerBlock(f"saved-{index}", prompt, text=content)
                widgets.append(answer)
                answer.call_after_refresh(answer.set_label, model or "assistant")
        if widgets:
            await self.mount_all(widgets)
        self.scroll_end(animate=False)

    async def clear_turns(self) -> None:
        await self.remove_children()
