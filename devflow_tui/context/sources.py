"""One shape for every piece of context: a Claude Code session, a CLAUDE.md, a file, a note.

A source is immutable. Trimmable sources (a session) also carry `parts` in chronological order so
that assembly can shrink the largest tool outputs and drop the oldest turns without re-reading
anything; `content` is then the parts joined by blank lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from devflow_tui.context.tokens import estimate_tokens

SourceKind = Literal["claude-session", "claude-md", "file", "note", "system"]
PartKind = Literal["header", "summary", "message", "tool-result"]

# Lower number = more important; assembly fills the window in this order.
PRIORITY: dict[SourceKind, int] = {
    "system": 0,
    "note": 10,
    "claude-md": 20,
    "claude-session": 30,
    "file": 40,
}
PART_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class ContextPart:
    """A trimmable slice of a source: a conversation turn, a tool output, a header."""

    text: str
    tokens: int
    kind: PartKind = "message"
    turn: int = 0  # parts of one turn are dropped together
    stub: str | None = None  # what a tool output shrinks to when it has to go

    @classmethod
    def of(
        cls, text: str, *, kind: PartKind = "message", turn: int = 0, stub: str | None = None
    ) -> ContextPart:
        """Build a part and estimate its tokens."""
        return cls(text=text, tokens=estimate_tokens(text), kind=kind, turn=turn, stub=stub)


@dataclass(frozen=True)
class ContextSource:
    """A piece of context with what it is, where it came from, its text and its size."""

    name: str  # shown to the user, e.g. "claude-session 3f2a1b9c (12 turns)"
    kind: SourceKind
    content: str
    tokens: int
    read_at: datetime
    priority: int
    ref: str = ""  # stable identifier, e.g. "file:src/app.py", "note:12"
    parts: tuple[ContextPart, ...] = ()
    path: Path | None = None
    refused: str | None = None  # why a source found by a glob or walk was not read
    meta: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_text(
        cls,
        name: str,
        kind: SourceKind,
        content: str,
        *,
        ref: str = "",
        path: Path | None = None,
        priority: int | None = None,
        read_at: datetime | None = None,
        meta: dict[str, str] | None = None,
    ) -> ContextSource:
        """A source that is one block of text."""
        return cls(
            name=name,
            kind=kind,
            content=content,
            tokens=estimate_tokens(content),
            read_at=read_at or datetime.now(UTC),
            priority=PRIORITY[kind] if priority is None else priority,
            ref=ref or f"{kind}:{name}",
            path=path,
            meta=dict(meta or {}),
        )

    @classmethod
    def from_parts(
        cls,
        name: str,
        kind: SourceKind,
        parts: Sequence[ContextPart],
        *,
        ref: str = "",
        path: Path | None = None,
        priority: int | None = None,
        read_at: datetime | None = None,
        meta: dict[str, str] | None = None,
    ) -> ContextSource:
        """A trimmable source; its tokens are the parts' sum (an upper bound of the joined text)."""
        parts = tuple(parts)
        content = PART_SEPARATOR.join(part.text for part in parts)
        separators = estimate_tokens(PART_SEPARATOR) * max(0, len(parts) - 1)
        return cls(
            name=name,
            kind=kind,
            content=content,
            tokens=sum(part.tokens for part in parts) + separators,
            read_at=read_at or datetime.now(UTC),
            priority=PRIORITY[kind] if priority is None else priority,
            ref=ref or f"{kind}:{name}",
            parts=parts,
            path=path,
            meta=dict(meta or {}),
        )

    @classmethod
    def refusal(
        cls, name: str, kind: SourceKind, reason: str, *, path: Path | None = None, ref: str = ""
    ) -> ContextSource:
        """A source that was found but not read (binary, too large); shown as dropped."""
        return cls(
            name=name,
            kind=kind,
            content="",
            tokens=0,
            read_at=datetime.now(UTC),
            priority=PRIORITY[kind],
            ref=ref or f"{kind}:{name}",
            path=path,
            refused=reason,
        )
