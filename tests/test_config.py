"""Settings: precedence, the legacy key name, secrets, and bad values named precisely."""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from devflow_tui.config import (
    DEFAULT_BASE_URL,
    MAX_CONFIG_BYTES,
    Settings,
    env_names,
    load_settings,
    read_config_file,
    write_config_file,
)
from devflow_tui.errors import ConfigError
from devflow_tui.redaction import mask_key, redact


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set environment variables for one test (conftest already isolates the rest)."""

    def setter(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return setter


def test_defaults(tmp_path: Path) -> None:
    s = load_settings()
    assert s.base_url == DEFAULT_BASE_URL
    assert s.max_retries == 3
    assert s.timeout_ms == 30_000
    assert s.api_key is None
    assert s.cost_budget_usd is None
    assert s.preferred_models == []


def test_env_values_and_legacy_key_name(
    tmp_path: Path, fake_key: str, env: Callable[..., None]
) -> None:
    env(
        OPEN_ROUTER_API_KEY=fake_key,
        OPENROUTER_PREFERRED_MODELS="openai/gpt-5-mini, anthropic/claude-haiku-4.5,",
        OPENROUTER_COST_BUDGET_USD="12.50",
        OPENROUTER_TIMEOUT_MS="1500",
        DEVFLOW_HOME=str(tmp_path / "h"),
    )
    s = load_settings()
    assert s.api_key is not None and s.api_key.get_secret_value() == fake_key
    assert s.preferred_models == ["openai/gpt-5-mini", "anthropic/claude-haiku-4.5"]
    assert s.cost_budget_usd == Decimal("12.50")
    assert s.timeout_ms == 1500
    assert s.db_path == tmp_path / "h" / "devflow.db"


def test_other_programs_variables_are_not_devflows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: Callable[..., None]
) -> None:
    """Only devflow's own names are read: the shell's HOME is not the data folder (it put
    devflow.db and the proxy token straight into the user's home), another app's
    DATABASE_URL is not the team database, a LOG_LEVEL for something else is ignored."""
    monkeypatch.delenv("DEVFLOW_HOME", raising=False)
    env(
        HOME=str(tmp_path / "user"),
        DATABASE_URL="postgresql://someone-else/app",
        LOG_LEVEL="nonsense",
        BASE_URL="http://example.invalid",
        MAX_RETRIES="99",
    )
    s = load_settings()
    assert s.home != tmp_path / "user"
    assert s.database_url is None
    assert s.log_level == "INFO"
    assert s.base_url == DEFAULT_BASE_URL
    assert s.max_retries == 3


def test_precedence_cli_over_env_over_file(tmp_path: Path, env: Callable[..., None]) -> None:
    (tmp_path / "config.toml").write_text("max_retries = 7\ntimeout_ms = 1000\n")
    env(OPENROUTER_MAX_RETRIES="5")
    s = load_settings()
    assert s.max_retries == 5  # env beats file
    assert s.timeout_ms == 1000  # file beats default
    s = load_settings(cli={"max_retries": 1})
    assert s.max_retries == 1  # flag beats env


def test_nested_sections_from_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[budget]\ndaily_usd = "2.5"\nthresholds = [0.5, 0.9]\n'
        "[routing.tasks.coding]\ncost_priority = 0.2\nmodels = ['qwen/qwen3-coder']\n"
    )
    s = load_settings()
    assert s.budget.daily_usd == Decimal("2.5")
    assert s.budget.thresholds == [0.5, 0.9]
    assert s.routing.tasks["coding"].models == ["qwen/qwen3-coder"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OPENROUTER_MAX_RETRIES", "abc", "OPENROUTER_MAX_RETRIES='abc'"),
        ("OPENROUTER_BASE_URL", "ftp://example", "http:// or https://"),
        ("OPENROUTER_TIMEOUT_MS", "-5", "OPENROUTER_TIMEOUT_MS"),
        ("OPENROUTER_COST_BUDGET_USD", "lots", "OPENROUTER_COST_BUDGET_USD"),
        ("DEVFLOW_LOG_LEVEL", "chatty", "DEVFLOW_LOG_LEVEL"),
    ],
)
def test_bad_env_value_names_the_variable(
    tmp_path: Path, name: str, value: str, expected: str, env: Callable[..., None]
) -> None:
    with pytest.raises(ConfigError) as info:
        env(**{name: value})
        load_settings()
    text = str(info.value)
    assert expected in text
    assert "\n" not in text


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_retries = 3\nbase_url = \n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "config.toml" in str(info.value)
    assert "line 2" in str(info.value)


def test_bad_file_value_names_key_and_line(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('# budgets\n[budget]\nlimit_usd = "-1"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "line 3" in str(info.value)
    assert "budget.limit_usd" in str(info.value)


def test_unknown_file_key_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_retrys = 3\n")
    with pytest.raises(ConfigError, match="max_retrys"):
        load_settings()


def test_key_in_config_file_is_refused(tmp_path: Path, fake_key: str) -> None:
    (tmp_path / "config.toml").write_text(f'api_key = "{fake_key}"\n')
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert fake_key not in str(info.value)
    assert "devflow auth set" in str(info.value)


def test_a_folder_as_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(ConfigError, match="is a directory, not a file"):
        load_settings()


def test_a_fifo_as_config_is_refused_without_blocking(
    tmp_path: Path, env: Callable[..., None]
) -> None:
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    env(DEVFLOW_CONFIG=str(fifo))
    with pytest.raises(ConfigError, match=r"named pipe \(FIFO\)"):
        load_settings()


def test_a_device_as_config_is_refused(env: Callable[..., None]) -> None:
    env(DEVFLOW_CONFIG="/dev/zero")
    with pytest.raises(ConfigError, match="is a device"):
        load_settings()


def test_a_huge_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match=f"larger than {MAX_CONFIG_BYTES:,} bytes"):
        load_settings()


def test_a_config_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    body = "max_retries = 7\n# "
    path = tmp_path / "config.toml"
    path.write_text(body + "x" * (MAX_CONFIG_BYTES - len(body) - 1) + "\n")
    assert path.stat().st_size == MAX_CONFIG_BYTES
    assert load_settings().max_retries == 7
    with path.open("a") as handle:
        handle.write("\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_settings()


def test_unreadable_config_is_a_clear_error(tmp_path: Path, env: Callable[..., None]) -> None:
    (tmp_path / "plain-file").write_text("")
    env(DEVFLOW_CONFIG=str(tmp_path / "plain-file" / "config.toml"))
    with pytest.raises(ConfigError, match="Cannot read config file"):
        load_settings()


def test_settings_read_the_file_through_their_own_source(
    tmp_path: Path, env: Callable[..., None]
) -> None:
    """No hand-over through globals: building `Settings` directly reads the file too, and
    loading never replaces the process environment."""
    (tmp_path / "config.toml").write_text("max_retries = 7\n")
    environ, before = os.environ, dict(os.environ)
    assert Settings().max_retries == 7
    assert load_settings().max_retries == 7
    assert os.environ is environ and dict(os.environ) == before
    other = tmp_path / "other.toml"
    other.write_text("max_retries = 2\n")
    env(DEVFLOW_CONFIG=str(other))
    assert load_settings().max_retries == 2


def test_env_names_come_from_the_aliases() -> None:
    assert env_names("api_key") == ("OPENROUTER_API_KEY", "OPEN_ROUTER_API_KEY")
    assert env_names("timeout_ms") == ("OPENROUTER_TIMEOUT_MS",)
    assert env_names("connect_timeout_ms") == ()


def test_written_config_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    write_config_file(path, {"max_retries": 4, "routing": {"pinned_model": "a/b"}})
    assert read_config_file(path) == {"max_retries": 4, "routing": {"pinned_model": "a/b"}}
    assert load_settings().max_retries == 3  # DEVFLOW_CONFIG points elsewhere
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left


def test_key_never_in_repr_or_dump(tmp_path: Path, fake_key: str, env: Callable[..., None]) -> None:
    env(OPENROUTER_API_KEY=fake_key)
    s = load_settings()
    assert fake_key not in repr(s)
    assert fake_key not in str(s)
    assert fake_key not in s.model_dump_json()
    assert s.key_hint == "sk-or-…" + fake_key[-4:]


def test_bad_cli_value_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--max-retries"):
        load_settings(cli={"max_retries": -2})


def test_mask_and_redact(fake_key: str) -> None:
    assert mask_key(None) == "(not set)"
    assert mask_key("short") == "…"
    assert mask_key(fake_key).endswith(fake_key[-4:])
    text = f"Authorization: Bearer {fake_key} and sk-proj-{'x' * 30}"
    cleaned = redact(text)
    assert fake_key not in cleaned
    assert "x" * 30 not in cleaned
    assert redact("key abcdEFGH", "abcdEFGH") == "key …"
