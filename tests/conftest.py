"""Shared fixtures. Every test runs with its own home, config and Claude directory under
tmp_path, no API key from the real environment, and no real OS keyring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
