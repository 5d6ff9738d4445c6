"""Shared fixtures. Every test runs with its own home, config and Claude directory under
tmp_path, no API key from the real environment, and no real OS keyring."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FAKE_KEY = "sk-or-v1-" + "fa1e" * 16  # obviously fake: "fa1e" repeated

_CLEARED = (
    "OPENROUTER_API_KEY",
    "OPEN_ROUTER_API_KEY",
    "OPENROUTER_BASE_URL",
    "OPENROUTER_MAX_RETRIES",
    "OPENROUTER_TIMEOUT_MS",
    "OPENROUTER_COST_BUDGET_USD",
    "OPENROUTER_PREFERRED_MODELS",
    "DEVFLOW_LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every user directory at tmp_path so no test reads or writes the real ones."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "devflow-home"
    monkeypatch.setenv("DEVFLOW_HOME", str(home))
    monkeypatch.setenv("DEVFLOW_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    yield home


@pytest.fixture
def fake_key() -> str:
    return FAKE_KEY


# Lines a test wants shown at the end of the run (e.g. Claude Code's answer through the
# proxy). Workers of pytest-xdist do not show their output, so they write files into a folder
# the controlling process created and prints in the terminal summary.
NOTES_ENV = "DEVFLOW_TEST_NOTES_DIR"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and NOTES_ENV not in os.environ:
        os.environ[NOTES_ENV] = tempfile.mkdtemp(prefix="devflow-test-notes-")


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = os.environ.get(NOTES_ENV)
    if not hasattr(config, "workerinput") and folder:
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ[NOTES_ENV]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    folder = os.environ.get(NOTES_ENV)
    if not folder or not os.path.isdir(folder):
        return
    for note in sorted(Path(folder).glob("*.txt")):
        terminalreporter.write_sep("-", note.stem)
        terminalreporter.write_line(note.read_text(encoding="utf-8").rstrip())


def show_at_end(title: str, text: str) -> None:
    """Show `text` under `title` in the summary at the end of the test run."""
    folder = os.environ.get(NOTES_ENV)
    if folder:
        (Path(folder) / f"{title}.txt").write_text(text, encoding="utf-8")
