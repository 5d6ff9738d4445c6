"""What the dashboard remembers between runs (the theme), kept apart from the user's config.

A small JSON file in DEVFLOW_HOME; a missing, unreadable or odd file is simply ignored (the
dashboard starts with its defaults), and a write that fails is reported, never raised.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import BaseModel, ValidationError

FILE_NAME = "dashboard.json"


class UiState(BaseModel):
    """The remembered choices."""

    theme: str | None = None


def load_ui_state(home: Path) -> UiState:
    """The saved state, or the defaults when there is none (or it cannot be read)."""
    try:
        return UiState.model_validate_json((home / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError):
        return UiState()


def save_ui_state(home: Path, state: UiState) -> str | None:
    """Write the state atomically; returns why it failed, or None."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".dashboard-", suffix=".json", dir=home)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state.model_dump(), handle)
        Path(tmp).replace(home / FILE_NAME)
    except OSError as exc:
        return f"Cannot save the dashboard's settings in {home}: {exc.strerror}."
    return None
