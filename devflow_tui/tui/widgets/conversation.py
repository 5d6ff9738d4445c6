"""The conversation: user turns and streamed Markdown answers with a footer per answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Protocol

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from rich.markdown import Markdown as RichMarkdown
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Markdown, Static

from devflow_tui.accounting.records import RequestRow
from devflow_tui.gateway.events import RequestOutcome
from devflow_tui.tui.money import ms, usd
from devflow_tui.tui.stream_segments import SegmentSplitter, ThrottledStream

_FENCE = re.compile(r"^(`{3,}|~{3,})[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)


def code_blocks(markdown: str) -> list[str]:
    """The contents of the fenced code blocks in `markdown`, in order."""
    return [match.group(2) for match in _FENCE.finditer(markdown)]


class AttemptLike(Protocol):
    """An attempt as the gateway reports it (AttemptRecord) or the store keeps it (AttemptRow)."""

    @property
    def model(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True)
class AnswerFacts:
    """What an answer's footer and marks show, from a live outcome or a stored request row."""

    model: str | None
    status: str
    complete: bool
    cost_usd: Decimal | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    cache_hit: bool = False
    error_message: str | None = None
    error_category: str | None = None
    finish_reason: str | None = None
    failures: tuple[str, ...] = ()

    @classmethod
    def of_outcome(cls, outcome: RequestOutcome) -> AnswerFacts:
        return cls(
            model=outcome.model,
            status=outcome.status,
            complete=outcome.complete,
            cost_usd=outcome.cost_usd,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            latency_ms=outcome.latency_ms,
            ttft_ms=outcome.ttft_ms,
            tokens_per_s=outcome.tokens_per_s,
            cache_hit=outcome.cache_hit,
            error_message=outcome.error_message,
            error_category=outcome.error_category,
            finish_reason=outcome.finish_reason,
            failures=tuple(failed_attempts(outcome.attempts)),
        )

    @classmethod
    def of_row(cls, row: RequestRow, attempts: Sequence[AttemptLike] = ()) -> AnswerFacts:
        return cls(
            model=row.model,
            status=row.status,
            complete=row.complete,
            cost_usd=row.cost_usd,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            latency_ms=row.latency_ms,
            ttft_ms=row.ttft_ms,
            tokens_per_s=row.tokens_per_s,
            cache_hit=row.cache_hit,
            error_message=row.error_message,
            error_category=row.error_category,
            finish_reason=row.finish_reason,
            failures=tuple(failed_attempts(attempts)),
        )


def answer_footer(outcome: RequestOutcome | AnswerFacts) -> str:
    """`model · $cost · tokens · latency · ttft` for one finished answer."""
    facts = outcome if isinstance(outcome, AnswerFacts) else AnswerFacts.of_outcome(outcome)
    tokens = f"{facts.prompt_tokens:,}→{facts.completion_tokens:,} tok"
    parts = [
        facts.model or "no model",
        usd(facts.cost_usd),
        tokens,
        f"latency {ms(facts.latency_ms)}",
        f"ttft {ms(facts.ttft_ms)}",
    ]
    if facts.tokens_per_s:
        parts.append(f"{facts.tokens_per_s:.0f} tok/s")
    if facts.cache_hit:
        parts.append("cache hit")
    if facts.failures:
        parts.append("after " + ", ".join(facts.failures))
    return " · ".join(parts)


def failed_attempts(attempts: Sequence[AttemptLike]) -> list[str]:
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


@dataclass(frozen=True)
class SavedTurn:
    """One stored message of a conversation being reopened, with its request when known."""

    role: str
    content: str
    facts: AnswerFacts | None = None


def turn_facts_known(facts: AnswerFacts) -> bool:
    """Whether a stored answer has its request row (older rows may not)."""
    return facts.model is not None or facts.status != "ok"


def _hard_breaks(state: StateCore) -> None:
    for token in state.tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"


def answer_parser() -> MarkdownIt:
    """Markdown as models write it: a single newline is a line break (poems, addresses).

    markdown-it's `breaks` option only changes its HTML renderer; Textual reads the tokens, so
    a core rule turns every soft break into a hard one.
    """
    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("hard_breaks", _hard_breaks)
    return parser


class UserTurn(Static, can_focus=True):
    """One prompt as the user sent it; focusable, so it can be selected and copied."""

    @property
    def text(self) -> str:
        return str(self.content)


class FinishedPart(Static):
    """A finished part of a long answer, drawn by one widget.

    Textual's Markdown makes a widget per paragraph; a long answer holds hundreds of them, and
    the garbage collector's full passes over all those objects stall the screen. A part the
    stream has moved past never changes again, so one Static rendering the same Markdown with
    Rich takes its place. Far out of view it is *parked*: it keeps its height but shows nothing,
    so it holds no rendered lines; back near the view it draws its Markdown again. The cost of
    a conversation is then that of the parts near the screen, not of its length.
    """

    def __init__(self, source: str, *, dark: bool = True, classes: str = "") -> None:
        theme = "monokai" if dark else "default"
        self.markdown = RichMarkdown(source, code_theme=theme)
        super().__init__(self.markdown, classes=classes)
        self.source = source  # what the Markdown widget held, reopened fences included
        self.parked = False
        # Textual's Markdown ends with its last block's bottom margin; Rich's output does not.
        self.styles.margin = (0, 0, 1, 0)

    def park(self) -> None:
        """Keep the height, drop the drawing (the lines are rendered again on `unpark`)."""
        if self.parked or not self.size.height:
            return
        self.parked = True
        self.styles.height = self.size.height
        self.update("")

    def unpark(self) -> None:
        """Draw the Markdown again (the part is near the view)."""
        if not self.parked:
            return
        self.parked = False
        self.update(self.markdown)
        self.styles.height = "auto"


class AnswerBlock(Vertical, can_focus=True):
    """One answer: label, streamed Markdown body and a footer with model, cost and timings.

    Focusable, so any answer (not only the last) can be selected and copied.
    """

    def __init__(self, request_id: str, prompt: str, *, text: str = "") -> None:
        super().__init__(classes="answer")
        self.request_id = request_id
        self.prompt = prompt
        self._parts: list[str] = [text] if text else []  # the answer, appended in pieces
        self.state = "streaming" if not text else "done"
        self._stream: ThrottledStream | None = None
        self._splitter = SegmentSplitter()
        self._segment: Markdown | None = None  # the Markdown widget being streamed into
        self._finished_chars = 0  # characters in the parts the stream has moved past
        self.model: str | None = None  # the model streaming (or that served) this answer

    @property
    def text(self) -> str:
        """The whole answer so far (kept as pieces: appending stays cheap on a 10 MB answer)."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @text.setter
    def text(self, value: str) -> None:
        self._parts = [value] if value else []

    def compose(self) -> ComposeResult:
        # Model ids, file names and messages are shown literally (no markup, no emoji codes).
        yield Static("waiting for a model…", classes="answer-label", markup=False)
        yield Markdown(self.text or None, classes="answer-body", parser_factory=answer_parser)
        yield Static("", classes="answer-footer", markup=False)

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
        self._parts.append(fragment)
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
        segment = Markdown(classes="answer-body -continued", parser_factory=answer_parser)
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
        for ancestor in self.ancestors:
            if isinstance(ancestor, Conversation):
                ancestor.window_changed()
                break

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
        self.show_end(AnswerFacts.of_outcome(outcome))

    def show_end(self, facts: AnswerFacts) -> None:
        """Label, footer and mark (cancelled, cut off, failed) of an answer that has ended."""
        self.model = facts.model
        self.set_label(f"{facts.model or 'no model'}")
        footer = answer_footer(facts)
        if facts.status in {"cancelled", "interrupted"}:
            self.state = "cancelled"
            self.add_class("-cancelled")
            self.set_label(f"{facts.model or 'no model'} · {facts.status}")
            footer = f"{facts.status.upper()} · " + footer
        elif facts.status in {"refused", "error"} and not self.text:
            self.state = "failed"
            self.add_class("-incomplete")
            word = "REFUSED" if facts.status == "refused" else "FAILED"
            footer = f"{word} · {facts.error_message or facts.error_category or 'error'}"
            self.set_label(word.lower())
        elif facts.status != "ok" or not facts.complete:
            self.state = "incomplete"
            self.add_class("-incomplete")
            why = facts.error_message or facts.finish_reason or "cut off"
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
            self.set_label(f"{self.model or 'no model'} · cancelled")
            self.set_footer("CANCELLED · partial answer kept · ctrl+r retry")

    async def mark_failed(self, message: str) -> None:
        """The request failed; keep any partial text and offer a retry."""
        await self._end_stream()
        if self.state in {"streaming", "done"}:
            self.state = "incomplete" if self.text else "failed"
            self.add_class("-incomplete")
            self.set_footer(f"INCOMPLETE · {message} · ctrl+r retry")


class Conversation(VerticalScroll):
    """The scrolling list of turns; anchored so streamed text stays in view.

    With the focus in the conversation, up/down select the previous/next message and `c`
    copies the selected one (prompt or answer), as in Elia.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "select(-1)", "Previous message", show=False),
        Binding("down", "select(1)", "Next message", show=False),
        Binding("c", "copy_selected", "Copy message"),
    ]

    class CopyRequested(Message):
        """The user asked to copy one message's text."""

        def __init__(self, text: str, what: str) -> None:
            super().__init__()
            self.text = text
            self.what = what

    # Finished parts within this many screen heights of the view stay drawn.
    NEAR_SCREENS = 1

    def on_mount(self) -> None:
        self.anchor()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.window_changed()

    def window_changed(self) -> None:
        """Park the finished parts far from the view and draw those near it (after layout)."""
        if not self._window_pending:
            self._window_pending = True
            self.call_after_refresh(self._update_window)

    _window_pending = False

    def _update_window(self) -> None:
        self._window_pending = False
        # In the conversation's own (virtual) coordinates, which scrolling does not change:
        # a part's place is its answer's place plus its place in the answer.
        height = self.scrollable_content_region.height
        reach = height * self.NEAR_SCREENS
        top = self.scroll_y - reach
        bottom = self.scroll_y + height + reach
        for part in self.query(FinishedPart):
            answer = part.parent
            if not isinstance(answer, Widget):
                continue
            y = answer.virtual_region.y + part.virtual_region.y
            if y + part.virtual_region.height >= top and y <= bottom:
                part.unpark()
            else:
                part.park()

    @property
    def messages(self) -> list[UserTurn | AnswerBlock]:
        return [w for w in self.children if isinstance(w, UserTurn | AnswerBlock)]

    @property
    def selected(self) -> UserTurn | AnswerBlock | None:
        """The message that has the focus, if any."""
        focused = self.screen.focused
        while focused is not None and focused is not self:
            if isinstance(focused, UserTurn | AnswerBlock):
                return focused
            parent = focused.parent
            focused = parent if isinstance(parent, Widget) else None
        return None

    def action_select(self, step: int) -> None:
        messages = self.messages
        if not messages:
            return
        current = self.selected
        if current is None:
            index = len(messages) - 1 if step < 0 else 0
        else:
            index = max(0, min(len(messages) - 1, messages.index(current) + step))
        messages[index].focus()
        messages[index].scroll_visible(animate=False)

    def action_copy_selected(self) -> None:
        message = self.selected
        if message is None:
            return
        what = "prompt" if isinstance(message, UserTurn) else "answer"
        self.post_message(self.CopyRequested(message.text, what))

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

    async def load(self, turns: Sequence[SavedTurn]) -> None:
        """Replace the view with a saved conversation, each answer with its footer and marks."""
        await self.remove_children()
        widgets: list[Static | AnswerBlock] = []
        ended: list[tuple[AnswerBlock, AnswerFacts]] = []
        prompt = ""
        for index, turn in enumerate(turns):
            if turn.role == "user":
                prompt = turn.content
                widgets.append(UserTurn(turn.content, classes="user-turn", markup=False))
                continue
            answer = AnswerBlock(f"saved-{index}", prompt, text=turn.content)
            widgets.append(answer)
            facts = turn.facts or AnswerFacts(model=None, status="ok", complete=True)
            ended.append((answer, facts))
        if widgets:
            await self.mount_all(widgets)
        for answer, facts in ended:
            if turn_facts_known(facts):
                answer.show_end(facts)
            else:
                answer.set_label("assistant")
        self.scroll_end(animate=False)

    async def clear_turns(self) -> None:
        await self.remove_children()
