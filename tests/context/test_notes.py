"""Pinned notes through the real analytics store (SQLite under tmp_path)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest

from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.context.errors import ContextError
from devflow_tui.context.notes import MAX_NOTE_CHARS, NoteSource, NotesStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AnalyticsStore]:
    ticks = count(1_700_000_000)
    with AnalyticsStore(tmp_path / "devflow.db", clock=lambda: float(next(ticks))) as opened:
        yield opened


def test_project_and_global_notes_become_sources(store: AnalyticsStore) -> None:
    typed: NotesStore = store  # the real store satisfies the protocol
    here = NoteSource(typed, "/work/proj")
    there = NoteSource(typed, "/work/other")
    first = here.add("Use ruff, not black.")
    everywhere = here.add("Answer in British English.", global_=True)
    there.add("Other project's fact")
    sources = here.sources()
    assert [s.content for s in sources] == ["Use ruff, not black.", "Answer in British English."]
    assert [s.name for s in sources] == [f"note #{first} (project)", f"note #{everywhere} (global)"]
    assert [s.ref for s in sources] == [f"note:{first}", f"note:{everywhere}"]
    assert all(s.kind == "note" and s.tokens > 0 for s in sources)
    assert sources[0].read_at.timestamp() == 1_700_000_000
    assert [s.content for s in NoteSource(typed, None).sources()] == ["Answer in British English."]


def test_remove_and_validation(store: AnalyticsStore) -> None:
    notes = NoteSource(store, "/p")
    note_id = notes.add("  temporary  ")
    assert [s.content for s in notes.sources()] == ["temporary"]
    notes.remove(note_id)
    assert notes.sources() == []
    with pytest.raises(ContextError, match=f"no note #{note_id}"):
        notes.remove(note_id)
    with pytest.raises(ContextError, match="cannot be empty"):
        notes.add("   ")
    with pytest.raises(ContextError, match=f"limited to {MAX_NOTE_CHARS} characters"):
        notes.add("x" * (MAX_NOTE_CHARS + 1))
