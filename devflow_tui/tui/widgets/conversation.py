"""The conversation: user turns and streamed Markdown answers with a footer per answer."""

from __future__ import annotations

import re
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar, Protocol

from rich.padding import Padding
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from devflow_tui.tui.money import ms, usd
from devflow_tui.tui.stream_segments import SegmentSplitter

if TYPE_CHECKING:
    # Types only: the first frame does not wait for the gateway's modules or Markdown's parser.
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore
    from markdown_it.token import Token
    from rich.markdown import Markdown as RichMarkdown

    from devflow_tui.accounting.records import RequestRow
    from devflow_tui.gateway.events import RequestOutcome

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


def _harden(tokens: Sequence[Token]) -> None:
    """Turn every soft line break into a hard one."""
    for token in tokens:
        for child in token.children or ():
            if child.type == "softbreak":
                child.type = "hardbreak"


def _hard_breaks(state: StateCore) -> None:
    _harden(state.tokens)


def answer_parser() -> MarkdownIt:
    """Markdown as models write it: a single newline is a line break (poems, addresses).

    markdown-it's `breaks` option only changes its HTML renderer; Textual reads the tokens, so
    a core rule turns every soft break into a hard one.
    """
    from markdown_it import MarkdownIt

    parser = MarkdownIt("gfm-like")
    parser.core.ruler.push("hard_breaks", _hard_breaks)
    return parser


def answer_markdown(source: str, *, dark: bool = True) -> RichMarkdown:
    """Rich's Markdown for an answer: single newlines kept as line breaks, code highlighted."""
    from rich.markdown import Markdown as RichMarkdown

    markdown = RichMarkdown(source, code_theme="monokai" if dark else "default")
    _harden(markdown.parsed)
    return markdown


# A part of an answer ends at a blank line after this many characters, or at a newline after
# the hard limit: the stream redraws only the last part, so small parts keep each frame cheap
# (finished parts are drawn once and cost nothing more).
PART_SOFT_LIMIT = 800
PART_HARD_LIMIT = 3_000


class Piece:
    """A run of lines in the conversation (a prompt, an answer's label, a part of its body, its
    footer): drawn once per width and per change, then served from its lines."""

    __slots__ = ("entry", "height", "kind", "lines", "rendered_chars", "source", "width")

    def __init__(self, entry: UserTurn | AnswerBlock, kind: str, source: str = "") -> None:
        self.entry = entry
        self.kind = kind  # "gap", "prompt", "label", "body" or "footer"
        self.source = source
        self.width = -1  # the width `height` (and `lines`, when kept) were drawn at
        self.height = 0
        self.lines: list[Strip] | None = None  # dropped when far from the view; height stays
        self.rendered_chars = 0  # how much of `source` the last drawing held


class UserTurn:
    """One prompt as the user sent it, shown literally (no markup, no emoji codes)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.view: Conversation | None = None
        self.pieces = [Piece(self, "gap"), Piece(self, "prompt", text)]


class AnswerBlock:
    """One answer: label, streamed Markdown body and a footer with model, cost and timings.

    The body is kept in parts (see `stream_segments`): the stream only ever changes the last
    part, so every part before it is drawn once and its lines are reused from then on.
    """

    def __init__(self, request_id: str, prompt: str, *, text: str = "") -> None:
        self.request_id = request_id
        self.prompt = prompt
        self.view: Conversation | None = None
        self._parts: list[str] = [text] if text else []  # the answer, appended in pieces
        self.state = "streaming" if not text else "done"
        self._splitter = SegmentSplitter(PART_SOFT_LIMIT, PART_HARD_LIMIT)
        self.model: str | None = None  # the model streaming (or that served) this answer
        self.marks: set[str] = set()  # "-cancelled", "-incomplete": how the footer is drawn
        self._label = Piece(self, "label", "waiting for a model…")
        self._footer = Piece(self, "footer")
        self._bodies = [Piece(self, "body", text)]
        self.pieces: list[Piece] = [Piece(self, "gap"), self._label, *self._bodies, self._footer]

    @property
    def text(self) -> str:
        """The whole answer so far (kept as pieces: appending stays cheap on a 10 MB answer)."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    @property
    def label(self) -> str:
        return self._label.source

    @property
    def footer(self) -> str:
        return self._footer.source

    def has_class(self, mark: str) -> bool:
        """Whether the answer carries a mark ("-cancelled", "-incomplete")."""
        return mark in self.marks

    def set_label(self, text: str) -> None:
        self._changed(self._label, text)

    def set_footer(self, text: str) -> None:
        self._changed(self._footer, text)

    def _changed(self, piece: Piece, source: str) -> None:
        piece.source = source
        if self.view is not None:
            self.view.piece_changed(piece)

    @property
    def bodies(self) -> list[Piece]:
        """The answer's body parts, one per streamed segment, in order."""
        return list(self._bodies)

    @property
    def shown_chars(self) -> int:
        """How many characters of the answer have been drawn so far."""
        shown = sum(body.rendered_chars for body in self._bodies)
        return shown - self._splitter.synthetic_chars

    async def append(self, fragment: str) -> None:
        """Add streamed text; the view draws it at most ~30 times a second.

        Only the last body part changes: a long answer continues in a new part at a safe
        boundary (see `stream_segments`), so a redraw never re-parses more than one part.
        `self.text` always keeps the whole answer, for copying and for the conversation.
        """
        if not fragment:
            return
        self._parts.append(fragment)
        for index, piece in enumerate(self._splitter.feed(fragment)):
            tail = self._bodies[-1]
            if index:
                tail = Piece(self, "body")
                self._bodies.append(tail)
                self.pieces.insert(len(self.pieces) - 1, tail)
                if self.view is not None:
                    self.view.pieces_added()
            if piece:
                tail.source += piece
                if self.view is not None:
                    self.view.piece_changed(tail, streamed=True)

    async def _end_stream(self) -> None:
        """Draw whatever the stream has not drawn yet."""
        if self.view is not None:
            self.view.flush()

    async def finish(self, outcome: RequestOutcome) -> None:
        """The answer is complete (or ended early): show its footer and any incomplete mark."""
        if outcome.text and not self.text:
            # A cache hit or a non-streamed answer arrives whole.
            await self.append(outcome.text)
        await self._end_stream()
        self.show_end(AnswerFacts.of_outcome(outcome))

    def show_end(self, facts: AnswerFacts) -> None:
        """Label, footer and mark (cancelled, cut off, failed) of an answer that has ended."""
        self.model = facts.model
        self.set_label(f"{facts.model or 'no model'}")
        footer = answer_footer(facts)
        if facts.status in {"cancelled", "interrupted"}:
            self.state = "cancelled"
            self.marks.add("-cancelled")
            self.set_label(f"{facts.model or 'no model'} · {facts.status}")
            footer = f"{facts.status.upper()} · " + footer
        elif facts.status in {"refused", "error"} and not self.text:
            self.state = "failed"
            self.marks.add("-incomplete")
            word = "REFUSED" if facts.status == "refused" else "FAILED"
            footer = f"{word} · {facts.error_message or facts.error_category or 'error'}"
            self.set_label(word.lower())
        elif facts.status != "ok" or not facts.complete:
            self.state = "incomplete"
            self.marks.add("-incomplete")
            if facts.finish_reason == "length" and not facts.error_message:
                # A retry would stop at the same limit: say what does help.
                footer = "INCOMPLETE (output token limit) · raise max tokens (ctrl+o) · " + footer
            else:
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
            self.marks.add("-cancelled")
            self.set_label(f"{self.model or 'no model'} · cancelled")
            self.set_footer("CANCELLED · partial answer kept · ctrl+r retry")

    async def mark_failed(self, message: str) -> None:
        """The request failed; keep any partial text and offer a retry."""
        await self._end_stream()
        if self.state in {"streaming", "done"}:
            self.state = "incomplete" if self.text else "failed"
            self.marks.add("-incomplete")
            self.set_footer(f"INCOMPLETE · {message} · ctrl+r retry")


Entry = UserTurn | AnswerBlock


class Conversation(ScrollView, can_focus=True):
    """The scrolling list of turns: one widget whatever the length of the conversation.

    Every prompt, label, footer and part of an answer is drawn once (per width) into lines that
    the view serves as it scrolls; the stream redraws only the last part of the last answer, at
    most ~30 times a second. Lines far from the view are dropped (their heights are kept) and
    drawn again when scrolled back to, so neither the time per frame nor the memory grows with
    the length of the conversation. Anchored, so streamed text stays in view.

    With the focus in the conversation, up/down select the previous/next message and `c`
    copies the selected one (prompt or answer), as in Elia; a click selects one too.
    """

    DEFAULT_CSS = """
    Conversation { overflow-x: hidden; scrollbar-gutter: stable; }
    Conversation > .conversation--prompt { background: $primary-muted; color: $text; }
    Conversation > .conversation--label { color: $text-accent; text-style: bold; }
    Conversation > .conversation--footer { color: $text-muted; }
    Conversation > .conversation--cancelled { color: $warning; text-style: bold; }
    Conversation > .conversation--incomplete { color: $error; text-style: bold; }
    Conversation > .conversation--selected { background: $primary 40%; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conversation--prompt",
        "conversation--label",
        "conversation--footer",
        "conversation--cancelled",
        "conversation--incomplete",
        "conversation--selected",
    }
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

    STREAM_INTERVAL = 1 / 30  # seconds between redraws of a streaming part
    KEEP_SCREENS = 6  # lines kept drawn: about this many screens' worth

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._entries: list[Entry] = []
        self._pieces: list[Piece] = []  # every entry's pieces, in order
        self._tops: list[int] = []  # the first line of each piece
        self._layout_stale = False  # pieces were added or removed
        self._dirty: dict[Piece, None] = {}  # pieces to draw again, in order
        self._kept: OrderedDict[Piece, None] = OrderedDict()  # pieces holding lines, by use
        self._kept_lines = 0
        self._flush_timer: Timer | None = None
        self._flush_pending = False
        self._last_flush = 0.0
        self._selected: Entry | None = None
        self._width = 0  # the width everything is drawn at

    def on_mount(self) -> None:
        self.anchor()
        self.app.theme_changed_signal.subscribe(self, self._redraw_all)

    # ------------------------------------------------------------ entries

    @property
    def messages(self) -> list[Entry]:
        return list(self._entries)

    @property
    def answers(self) -> list[AnswerBlock]:
        return [entry for entry in self._entries if isinstance(entry, AnswerBlock)]

    @property
    def last_answer(self) -> AnswerBlock | None:
        answers = self.answers
        return answers[-1] if answers else None

    def _add(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            entry.view = self
            self._entries.append(entry)
            for piece in entry.pieces:
                self._dirty[piece] = None
        self.pieces_added()

    async def add_turn(self, request_id: str, prompt: str) -> AnswerBlock:
        """Show the prompt and an empty answer waiting for the stream."""
        answer = AnswerBlock(request_id, prompt)
        self._add([UserTurn(prompt), answer])
        self.flush()
        self.anchor()
        return answer

    async def load(self, turns: Sequence[SavedTurn]) -> None:
        """Replace the view with a saved conversation, each answer with its footer and marks."""
        await self.clear_turns()
        entries: list[Entry] = []
        ended: list[tuple[AnswerBlock, AnswerFacts]] = []
        prompt = ""
        for index, turn in enumerate(turns):
            if turn.role == "user":
                prompt = turn.content
                entries.append(UserTurn(turn.content))
                continue
            answer = AnswerBlock(f"saved-{index}", prompt)
            entries.append(answer)
            await answer.append(turn.content)
            answer.state = "done"
            facts = turn.facts or AnswerFacts(model=None, status="ok", complete=True)
            ended.append((answer, facts))
        self._add(entries)
        for answer, facts in ended:
            if turn_facts_known(facts):
                answer.show_end(facts)
            else:
                answer.set_label("assistant")
        self.flush()
        self.anchor()
        self.scroll_end(animate=False, immediate=True)

    async def clear_turns(self) -> None:
        for entry in self._entries:
            entry.view = None
        self._entries.clear()
        self._dirty.clear()
        self._kept.clear()
        self._kept_lines = 0
        self._selected = None
        self.pieces_added()
        self.flush()

    # ------------------------------------------------------------ drawing

    def pieces_added(self) -> None:
        """Entries or parts were added or removed: the piece list is rebuilt on the next flush."""
        self._layout_stale = True
        self._schedule(0.0)

    def piece_changed(self, piece: Piece, *, streamed: bool = False) -> None:
        """`piece` changed: draw it again, soon (a stream's redraws are spaced out)."""
        self._dirty[piece] = None
        delay = 0.0
        if streamed:
            delay = max(0.0, self._last_flush + self.STREAM_INTERVAL - time.monotonic())
        self._schedule(delay)

    def _schedule(self, delay: float) -> None:
        if self._flush_pending or not self.is_attached:
            return
        self._flush_pending = True
        if delay > 0:
            self._flush_timer = self.set_timer(delay, self._scheduled_flush)
        else:
            self.call_later(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        if self._flush_pending:
            self.flush()

    def flush(self) -> None:
        """Draw the changed pieces now and lay the view out again."""
        self._flush_pending = False
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        self._last_flush = time.monotonic()
        width = self._content_width()
        if width <= 0:
            return  # not laid out yet: on_resize draws everything
        if width != self._width:
            self._redraw_all()
            return
        grew = self._layout_stale
        dirty, self._dirty = list(self._dirty), {}
        first_changed = None
        for piece in dirty:
            if piece.entry.view is not self:
                continue  # removed meanwhile
            old = piece.height
            self._draw(piece, width)
            grew = grew or piece.height != old
        if grew:
            self._relayout()
            self.refresh()
        elif dirty:
            index = {id(p): i for i, p in enumerate(self._pieces)}
            for piece in dirty:
                position = index.get(id(piece))
                if position is not None and piece.height:
                    first_changed = self._tops[position]
                    self.refresh_lines(first_changed, piece.height)

    def _content_width(self) -> int:
        return self.scrollable_content_region.width

    def _redraw_all(self, _theme: object = None) -> None:
        """Draw every piece again (a new width or theme); lines far from the view are dropped
        again as soon as the view has been drawn."""
        width = self._content_width()
        if width <= 0:
            return
        self._width = width
        self._dirty.clear()
        self._kept.clear()
        self._kept_lines = 0
        for entry in self._entries:
            for piece in entry.pieces:
                piece.lines = None
                self._draw(piece, width)
        self._relayout()
        self.refresh()

    def on_resize(self) -> None:
        if self._content_width() != self._width:
            self._redraw_all()

    def _relayout(self) -> None:
        self._layout_stale = False
        self._pieces = [piece for entry in self._entries for piece in entry.pieces]
        tops: list[int] = []
        y = 0
        for piece in self._pieces:
            tops.append(y)
            y += piece.height
        self._tops = tops
        self.virtual_size = Size(self._width, y)

    def _draw(self, piece: Piece, width: int) -> None:
        """Render `piece` at `width` into lines and remember its height."""
        lines = self._lines_of(piece, width)
        piece.width = width
        piece.height = len(lines)
        piece.rendered_chars = len(piece.source)
        if piece.lines is not None:
            self._kept_lines -= len(piece.lines)
            self._kept.pop(piece, None)
        piece.lines = lines
        self._keep(piece)

    @property
    def kept_lines(self) -> int:
        """How many drawn lines the view holds now (bounded, however long the conversation)."""
        return self._kept_lines

    @property
    def kept_limit(self) -> int:
        """The most drawn lines the view keeps: a few screens' worth."""
        return max(200, self.KEEP_SCREENS * self.size.height)

    def _keep(self, piece: Piece) -> None:
        assert piece.lines is not None
        self._kept[piece] = None
        self._kept.move_to_end(piece)
        self._kept_lines += len(piece.lines)
        limit = self.kept_limit
        while self._kept_lines > limit and len(self._kept) > 1:
            oldest, _ = self._kept.popitem(last=False)
            if oldest.lines is not None:
                self._kept_lines -= len(oldest.lines)
                oldest.lines = None

    def _lines_of(self, piece: Piece, width: int) -> list[Strip]:
        kind, source = piece.kind, piece.source
        base = self.rich_style
        if kind == "gap":
            return [Strip.blank(width, base)]
        if not source:
            return []
        console = self.app.console
        options = console.options.update_width(width)
        if kind == "body":
            dark = self.app.current_theme.dark
            lines = console.render_lines(answer_markdown(source, dark=dark), options, style=base)
            lines.append([Segment(" " * width, base)])  # a blank line after each part
        elif kind == "prompt":
            indent = 6 if width >= 60 else 2
            style = self.get_component_rich_style("conversation--prompt")
            prompt = Padding(Text(source, style=style), (0, 1), style=style)
            inner = console.render_lines(prompt, options.update_width(width - indent), style=base)
            margin = Segment(" " * indent, base)
            lines = [[margin, *line] for line in inner]
        else:
            name = "conversation--label" if kind == "label" else "conversation--footer"
            if kind == "footer" and isinstance(piece.entry, AnswerBlock):
                for mark in ("-cancelled", "-incomplete"):
                    if piece.entry.has_class(mark):
                        name = f"conversation--{mark[1:]}"
            style = self.get_component_rich_style(name)
            lines = console.render_lines(Text(source, style=style), options, style=base)
        return [Strip(line, width) for line in lines]

    def render_line(self, y: int) -> Strip:
        width = self._content_width()
        line = y + round(self.scroll_y)
        index = bisect_right(self._tops, line) - 1
        if index < 0 or index >= len(self._pieces) or width != self._width:
            return Strip.blank(width, self.rich_style)
        piece = self._pieces[index]
        offset = line - self._tops[index]
        if piece.lines is None or piece.width != width:
            # Scrolled back to a piece whose lines were dropped: draw it again (same height).
            piece.lines = self._lines_of(piece, width)
            piece.width = width
            self._keep(piece)
        else:
            self._kept.move_to_end(piece)
        if offset >= len(piece.lines):
            return Strip.blank(width, self.rich_style)
        strip = piece.lines[offset]
        if piece.entry is self._selected and self.has_focus and piece.kind != "gap":
            highlight = self.get_component_rich_style("conversation--selected", partial=True)
            strip = Strip(Segment.apply_style(strip, post_style=highlight), strip.cell_length)
        return strip

    # ------------------------------------------------------------ selection and copy

    @property
    def selected(self) -> Entry | None:
        """The selected message, while the conversation has the focus."""
        return self._selected if self.has_focus else None

    def select(self, entry: Entry | None) -> None:
        """Select `entry` and scroll it into view."""
        self._selected = entry
        if entry is not None and entry.view is self and not self._layout_stale:
            first = self._pieces.index(entry.pieces[0])
            top = self._tops[first]
            bottom = top + sum(piece.height for piece in entry.pieces)
            if (
                top < self.scroll_y
                or bottom > self.scroll_y + self.scrollable_content_region.height
            ):
                self.release_anchor()
                self.scroll_to(y=top, animate=False, immediate=True)
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_select(self, step: int) -> None:
        messages = self._entries
        if not messages:
            return
        current = self._selected
        if current is None or current not in messages:
            index = len(messages) - 1 if step < 0 else 0
        else:
            index = max(0, min(len(messages) - 1, messages.index(current) + step))
        self.select(messages[index])

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self._layout_stale:
            return
        line = offset.y + round(self.scroll_y)
        index = bisect_right(self._tops, line) - 1
        if 0 <= index < len(self._pieces):
            self._selected = self._pieces[index].entry
            self.refresh()

    def action_copy_selected(self) -> None:
        message = self.selected
        if message is None:
            return
        what = "prompt" if isinstance(message, UserTurn) else "answer"
        self.post_message(self.CopyRequested(message.text, what))
