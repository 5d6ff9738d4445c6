"""Fitting context into a model's window: what to send, what to trim, what to drop.

Priority, highest first: the system prompt and the user's prompt (never dropped; if they alone
do not fit, `ContextError`), pinned notes, CLAUDE.md files, the dashboard conversation history
(newest messages kept), the Claude Code session (newest turns kept: the largest tool outputs are
shortened first, then the oldest turns dropped), then files. A source that does not fit whole is
trimmed (a file or CLAUDE.md keeps its head, a session its newest turns) or dropped.

Layout of the request: one system message (system prompt, notes, CLAUDE.md), the history, then
one user message holding the session and file blocks followed by the prompt. Every block is
scrubbed of secrets before it is counted, so counts describe what is actually sent.

Invariant: `message_tokens(messages) + max_output_tokens + reserve <= context_length`, using the
same estimator as everywhere else. It holds by construction because the estimator is additive up
to rounding (a text never costs more than the sum of its pieces), and it is checked again on the
finished messages, shrinking the budget and refitting if rounding ever broke it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from devflow_tui.context.errors import ContextWindowError
from devflow_tui.context.scrub import ScrubReport, scrub
from devflow_tui.context.sources import PART_SEPARATOR, ContextPart, ContextSource
from devflow_tui.context.tokens import (
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    estimate_tokens,
    message_tokens,
)
from devflow_tui.openrouter.wire import ChatMessage

Status = Literal["included", "trimmed", "dropped"]
SYSTEM_KINDS = frozenset({"system", "note", "claude-md"})
HISTORY_PRIORITY = 25  # between CLAUDE.md (20) and the Claude Code session (30)
MIN_TRIMMED_TOKENS = 48  # below this a trimmed block says too little to be worth sending
BLOCK_SEPARATOR = "\n\n"
_SEPARATOR_TOKENS = estimate_tokens(BLOCK_SEPARATOR)
_MARKER = re.compile(r"\[REDACTED:([a-z-]+)\]")


class ContextView(BaseModel):
    """One context source as the request outcome and the dashboard show it. Built on first
    use (as ContextItemReport): a request without context never needs either."""

    model_config = ConfigDict(defer_build=True)

    source: (
        str  # e.g. "claude-session:3f2a…", "file:src/app.py", "note:12", "claude-md:/p/CLAUDE.md"
    )
    kind: str
    tokens: int
    status: Status = "included"


class ContextItemReport(BaseModel):
    """What happened to one source: included whole, trimmed, or dropped, with token counts."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    name: str
    kind: str
    ref: str
    tokens_before: int
    tokens_after: int
    status: Status
    note: str = ""

    def to_view(self) -> ContextView:
        """The outcome's view of this item (for `RequestOutcome.context`)."""
        return ContextView(
            source=self.ref, kind=self.kind, tokens=self.tokens_after, status=self.status
        )


@dataclass
class AssembledContext:
    """Messages ready to send, and an exact account of how they were put together."""

    messages: list[ChatMessage]
    report: list[ContextItemReport]
    total_tokens: int  # estimated prompt tokens of `messages`, framing included
    scrubbed: ScrubReport = field(default_factory=ScrubReport)
    context_length: int = 0
    max_output_tokens: int = 0
    budget: int = 0  # prompt tokens that were available

    def views(self) -> list[ContextView]:
        """The report as `ContextView`s."""
        return [item.to_view() for item in self.report]

    @property
    def context_tokens(self) -> int:
        """Tokens of injected context that made it into the request."""
        return sum(item.tokens_after for item in self.report)

    def describe(self) -> list[str]:
        """Plain-text lines saying what is sent, for `devflow context show`."""
        lines = [
            f"{item.status:<8} {item.tokens_after:>7,} / {item.tokens_before:>7,} tokens  "
            f"{item.name}" + (f"  ({item.note})" if item.note else "")
            for item in self.report
        ]
        lines.append(
            f"total    {self.total_tokens:>7,} prompt tokens of {self.budget:,} available "
            f"(window {self.context_length:,}, {self.max_output_tokens:,} kept for the answer)"
        )
        if self.scrubbed.total:
            lines.append(f"secrets  {self.scrubbed.summary()}")
        return lines


def default_reserve(context_length: int) -> int:
    """The margin kept free by default: 5 % of the window (at least 32 tokens).

    It absorbs the estimator's error against a model's real tokenizer (see `tokens`): about
    5 % on whole requests of English text and code, more for other scripts.
    """
    return max(32, context_length // 20)


def _wrapper(source: ContextSource) -> tuple[str, str]:
    name = source.name.replace('"', "'")
    return f'<context kind="{source.kind}" name="{name}">\n', "\n</context>"


def _wrapper_tokens(source: ContextSource) -> int:
    head, tail = _wrapper(source)
    return estimate_tokens(head) + estimate_tokens(tail) + _SEPARATOR_TOKENS


def context_tokens(
    sources: Sequence[ContextSource], prompt: str = "", system_prompt: str | None = None
) -> int:
    """Prompt tokens of the whole request if nothing were trimmed (an upper bound).

    The router compares this plus the wanted output with each model's window: a model whose
    window holds it gets everything, a smaller one gets a trimmed context.
    """
    total = REPLY_PRIMING_TOKENS + MESSAGE_OVERHEAD_TOKENS + estimate_tokens(prompt)
    if system_prompt or any(s.kind in SYSTEM_KINDS for s in sources):
        total += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(system_prompt or "")
    for source in sources:
        if source.refused is None:
            total += source.tokens + _wrapper_tokens(source)
    return total


@dataclass
class _Block:
    source: ContextSource
    text: str  # the body, scrubbed and trimmed
    tokens: int
    status: Status
    note: str
    scrubbed: ScrubReport


def _truncate_head(text: str, budget: int) -> str | None:
    """The longest head of `text` (plus a note) that costs at most `budget` tokens."""
    total = estimate_tokens(text)
    cut = int(len(text) * budget / total)
    while cut > 0:
        candidate = f"{text[:cut]}\n[… truncated: about {total - budget} tokens left out …]"
        if estimate_tokens(candidate) <= budget:
            return candidate
        cut = int(cut * 0.9) - 1
    return None


def _truncate_tail(text: str, budget: int) -> str | None:
    """The longest tail of `text` (after a note) that costs at most `budget` tokens."""
    total = estimate_tokens(text)
    if total <= budget:
        return text
    keep = int(len(text) * budget / total)
    while keep > 0:
        candidate = f"[… the start of this turn was cut …]\n{text[-keep:]}"
        if estimate_tokens(candidate) <= budget:
            return candidate
        keep = int(keep * 0.9) - 1
    return None


def _fit_text(source: ContextSource, budget: int) -> _Block | None:
    clean, report = scrub(source.content)
    tokens = estimate_tokens(clean)
    if tokens <= budget:
        return _Block(source, clean, tokens, "included", "", report)
    if source.kind == "note" or budget < MIN_TRIMMED_TOKENS:
        return None
    head = _truncate_head(clean, budget)
    if head is None:
        return None
    note = f"kept the first {len(head.splitlines()) - 1} of {len(clean.splitlines())} lines"
    sent = _sent_secrets(head, source.content)
    return _Block(source, head, estimate_tokens(head), "trimmed", note, sent)


def _sent_secrets(sent: str, raw: str) -> ScrubReport:
    """Secrets removed from the part of a text that is sent (markers the raw text had excluded)."""
    report = ScrubReport()
    for kind in _MARKER.findall(sent):
        report.counts[kind] += 1
    for kind in _MARKER.findall(raw):
        if report.counts[kind] > 0:
            report.counts[kind] -= 1
    report.counts = +report.counts
    return report


@dataclass
class _Piece:
    part: ContextPart
    text: str
    tokens: int
    report: ScrubReport
    shrunk: bool = False
    dropped: bool = False


def _fit_parts(source: ContextSource, budget: int) -> _Block | None:
    pieces: list[_Piece] = []
    for part in source.parts:
        clean, report = scrub(part.text)
        pieces.append(_Piece(part, clean, estimate_tokens(clean), report))
    total = sum(p.tokens for p in pieces) + _SEPARATOR_TOKENS * max(0, len(pieces) - 1)
    shrunk = 0
    start_cut = False
    if total > budget:
        # 1. Shorten the largest tool outputs to a one-line stub.
        outputs = sorted(
            (p for p in pieces if p.part.kind == "tool-result" and p.part.stub),
            key=lambda p: p.tokens,
            reverse=True,
        )
        for piece in outputs:
            if total <= budget:
                break
            stub = piece.part.stub or ""
            stub_tokens = estimate_tokens(stub)
            if stub_tokens < piece.tokens:
                total -= piece.tokens - stub_tokens
                piece.text, piece.tokens, piece.shrunk = stub, stub_tokens, True
                piece.report = ScrubReport()
                shrunk += 1
    if total > budget:
        # 2. Drop whole turns, oldest first; the compaction summary and the header go last,
        # and the newest turn is never dropped here.
        turns = sorted({p.part.turn for p in pieces if p.part.turn >= 0})
        newest = turns[-1] if turns else None
        summary_turns = {p.part.turn for p in pieces if p.part.kind == "summary"}
        order = [t for t in turns if t not in summary_turns and t != newest]
        order += [*sorted(summary_turns - {newest}), -1]
        by_turn: dict[int, list[_Piece]] = {}
        for piece in pieces:
            by_turn.setdefault(piece.part.turn, []).append(piece)
        for turn in order:
            if total <= budget:
                break
            for piece in by_turn.get(turn, []):
                piece.dropped = True
                total -= piece.tokens + _SEPARATOR_TOKENS
    kept = [p for p in pieces if not p.dropped]
    if total > budget and kept:
        # 3. Only the newest turn (and its outputs) is left and it is still too long: keep its end.
        joined = PART_SEPARATOR.join(p.text for p in kept)
        cut = _truncate_tail(joined, budget) if budget >= MIN_TRIMMED_TOKENS else None
        if cut is None:
            return None
        raw = PART_SEPARATOR.join(p.part.text for p in kept)
        newest_part = max((p.part for p in kept), key=lambda part: part.turn)
        kept = [_Piece(newest_part, cut, estimate_tokens(cut), _sent_secrets(cut, raw))]
        start_cut = True
    if not any(p.part.turn >= 0 for p in kept):
        return None
    text = PART_SEPARATOR.join(p.text for p in kept)
    report = ScrubReport()
    for piece in kept:
        report.merge(piece.report)
    turn_total = len({p.part.turn for p in pieces if p.part.turn >= 0})
    turn_kept = len({p.part.turn for p in kept if p.part.turn >= 0})
    notes: list[str] = []
    if turn_kept < turn_total:
        notes.append(f"kept the newest {turn_kept} of {turn_total} turns")
    if shrunk:
        notes.append(f"shortened {shrunk} tool outputs")
    if start_cut:
        notes.append("cut the start of the newest turn")
    status: Status = "trimmed" if notes else "included"
    tokens = sum(p.tokens for p in kept) + _SEPARATOR_TOKENS * max(0, len(kept) - 1)
    return _Block(source, text, tokens, status, "; ".join(notes), report)


def _history_tokens(message: ChatMessage) -> int:
    return message_tokens([message]) - REPLY_PRIMING_TOKENS


def _fit(
    ordered: list[ContextSource],
    history: Sequence[ChatMessage],
    budget: int,
    fixed: int,
    system_prompt: str | None,
    prompt: str,
) -> AssembledContext:
    remaining = budget - fixed
    blocks: list[_Block] = []
    report: list[ContextItemReport] = []
    kept_history: list[ChatMessage] = []
    history_done = False

    def place_history() -> None:
        nonlocal remaining
        kept: list[ChatMessage] = []
        for message in reversed(history):
            cost = _history_tokens(message)
            if cost > remaining:
                break
            remaining -= cost
            kept.append(message)
        kept_history.extend(reversed(kept))

    for source in ordered:
        if not history_done and source.priority > HISTORY_PRIORITY:
            place_history()
            history_done = True
        if source.refused is not None:
            report.append(_item(source, 0, "dropped", source.refused))
            continue
        room = remaining - _wrapper_tokens(source)
        block = None
        if room > 0:
            block = _fit_parts(source, room) if source.parts else _fit_text(source, room)
        if block is None:
            report.append(_item(source, 0, "dropped", "did not fit the model's context window"))
            continue
        remaining -= block.tokens + _wrapper_tokens(source)
        blocks.append(block)
        report.append(_item(source, block.tokens, block.status, block.note))
    if not history_done:
        place_history()

    scrubbed = ScrubReport()
    system_parts = [system_prompt] if system_prompt else []
    user_parts: list[str] = []
    for block in blocks:
        scrubbed.merge(block.scrubbed)
        head, tail = _wrapper(block.source)
        target = system_parts if block.source.kind in SYSTEM_KINDS else user_parts
        target.append(f"{head}{block.text}{tail}")
    user_parts.append(prompt)
    messages: list[ChatMessage] = []
    if system_parts:
        messages.append(ChatMessage(role="system", content=BLOCK_SEPARATOR.join(system_parts)))
    messages.extend(kept_history)
    messages.append(ChatMessage(role="user", content=BLOCK_SEPARATOR.join(user_parts)))
    return AssembledContext(
        messages=messages,
        report=report,
        total_tokens=message_tokens(messages),
        scrubbed=scrubbed,
    )


def _item(source: ContextSource, tokens: int, status: Status, note: str) -> ContextItemReport:
    return ContextItemReport(
        name=source.name,
        kind=source.kind,
        ref=source.ref,
        tokens_before=source.tokens,
        tokens_after=tokens,
        status=status,
        note=note,
    )


def assemble(
    sources: Sequence[ContextSource],
    *,
    context_length: int,
    max_output_tokens: int,
    system_prompt: str | None,
    prompt: str,
    history: Sequence[ChatMessage] = (),
    reserve_tokens: int | None = None,
) -> AssembledContext:
    """Build the messages for one request so that they and the answer fit the model's window.

    `reserve_tokens` (default `default_reserve(context_length)`) is kept free to absorb the
    estimator's error against the model's real tokenizer.
    """
    reserve = default_reserve(context_length) if reserve_tokens is None else reserve_tokens
    budget = context_length - max_output_tokens - reserve
    ordered = sorted(sources, key=lambda s: s.priority)  # stable: equal priorities keep order
    has_system = bool(system_prompt) or any(
        s.kind in SYSTEM_KINDS and s.refused is None for s in sources
    )
    fixed = REPLY_PRIMING_TOKENS + MESSAGE_OVERHEAD_TOKENS + estimate_tokens(prompt)
    fixed += _SEPARATOR_TOKENS  # between the context blocks and the prompt
    if has_system:
        fixed += MESSAGE_OVERHEAD_TOKENS + estimate_tokens(system_prompt or "")
    if fixed > budget:
        raise ContextWindowError(
            f"the prompt alone needs about {fixed} tokens, but the model's window of "
            f"{context_length} tokens leaves {max(budget, 0)} after reserving "
            f"{max_output_tokens} for the answer and {reserve} as a margin",
            hint="Shorten the prompt, lower the requested output size, "
            "or choose a model with a larger context window.",
        )
    assembled = _fit(ordered, history, budget, fixed, system_prompt, prompt)
    shrink = 0
    while assembled.total_tokens > budget:  # the estimator is additive, so this is a guard
        shrink += assembled.total_tokens - budget
        assembled = _fit(ordered, history, budget - shrink, fixed, system_prompt, prompt)
    assembled.context_length = context_length
    assembled.max_output_tokens = max_output_tokens
    assembled.budget = budget
    return assembled
