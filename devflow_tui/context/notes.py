"""Pinned notes ("memory"): short facts injected into every request of a project, or globally.

Notes live in the analytics store (`AnalyticsStore.add_note/list_notes/remove_note`); this module
only needs the three methods, described by `NotesStore`, so it does not depend on the store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from devflow_tui.context.errors import ContextError
from devflow_tui.context.sources import ContextSource

MAX_NOTE_CHARS = 2_000


class NoteLike(Protocol):
    """What a stored note looks like (accounting's `Note` record)."""

    @property
    def id(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def project(self) -> str | None: ...

    @property
    def created(self) -> float: ...  # epoch seconds


class NotesStore(Protocol):
    """The part of the analytics store that keeps notes."""

    def add_note(self, text: str, project: str | None, /) -> int: ...

    def list_notes(
        self, project: str | None, include_global: bool = True
    ) -> Sequence[NoteLike]: ...

    def remove_note(self, note_id: int, /) -> bool: ...


def project_key(project_dir: Path) -> str:
    """How notes name a project: its absolute path (the same for the CLI and the dashboard)."""
    return os.path.abspath(project_dir)


def note_source(note: NoteLike) -> ContextSource:
    """One note as a context source."""
    scope = "global" if note.project is None else "project"
    return ContextSource.from_text(
        f"note #{note.id} ({scope})",
        "note",
        note.text,
        ref=f"note:{note.id}",
        read_at=datetime.fromtimestamp(note.created, UTC),
        meta={"scope": scope},
    )


class NoteSource:
    """Builds context sources from the notes of a project (and the global ones)."""

    def __init__(self, store: NotesStore, project: str | None) -> None:
        self.store = store
        self.project = project

    def add(self, text: str, *, global_: bool = False) -> int:
        """Pin a note to this project (or globally); returns its id."""
        text = text.strip()
        if not text:
            raise ContextError("a note cannot be empty", hint="Write the fact to remember.")
        if len(text) > MAX_NOTE_CHARS:
            raise ContextError(
                f"a note is limited to {MAX_NOTE_CHARS} characters ({len(text)} given)",
                hint="Keep notes short; pass long material with --context FILE instead.",
            )
        return self.store.add_note(text, None if global_ else self.project)

    def remove(self, note_id: int) -> None:
        """Delete a note; a missing id is an error the user should see."""
        if not self.store.remove_note(note_id):
            raise ContextError(f"no note #{note_id}", hint="List notes with `devflow note list`.")

    def sources(self) -> list[ContextSource]:
        """Every note that applies here, oldest first, one source each."""
        notes = sorted(
            self.store.list_notes(self.project, include_global=True),
            key=lambda note: (note.created, note.id),
        )
        return [note_source(note) for note in notes]
