"""Proxy tokens, client names, the model map, and spend per client in reports."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devflow_tui.data.snapshot import load_snapshot
from devflow_tui.errors import ConfigError
from devflow_tui.serve.clients import client_name
from devflow_tui.serve.model_map import ModelMap
from devflow_tui.serve.tokens import ENV_VAR, FILE_NAME, ProxyTokens

IDS = [str(m["id"]) for m in load_snapshot()]


def test_token_is_generated_once_and_private(tmp_path: Path) -> None:
    first = ProxyTokens.load(tmp_path, env={})
    path = tmp_path / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.default.startswith("dfp-") and len(first.default) > 30
    assert ProxyTokens.load(tmp_path, env={}).default == first.default
    assert first.label_of(first.default) == "default" and first.label_of("dfp-x") is None


def test_env_token_wins_and_labels_name_clients(tmp_path: Path) -> None:
    assert ProxyTokens.load(tmp_path, env={ENV_VAR: "from-env"}).default == "from-env"
    with pytest.raises(ConfigError):
        ProxyTokens.load(tmp_path, env={ENV_VAR: "x"}).add(tmp_path, "claude")
    tokens = ProxyTokens.load(tmp_path, env={})
    added = tokens.add(tmp_path, "my-laptop")
    again = ProxyTokens.load(tmp_path, env={})
    assert again.label_of(added) == "my-laptop"
    assert client_name("OpenAI/Python 2.0", again.label_of(added)) == "my-laptop"
    with pytest.raises(ConfigError, match="label"):
        tokens.add(tmp_path, "Bad Label")


def test_broken_token_file_says_how_to_fix(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("just-a-token-without-label\n")
    with pytest.raises(ConfigError, match="label token"):
        ProxyTokens.load(tmp_path, env={})
    (tmp_path / FILE_NAME).write_text("# only a comment\n")
    with pytest.raises(ConfigError, match="no token"):
        ProxyTokens.load(tmp_path, env={})


def test_rotate_and_revoke_take_effect_in_a_running_proxy_at_once(tmp_path: Path) -> None:
    running = ProxyTokens.load(tmp_path, env={})  # what a proxy holds
    old = running.default
    cli = ProxyTokens.load(tmp_path, env={})  # another process: `devflow serve --rotate-token`
    laptop = cli.add(tmp_path, "laptop")
    assert running.label_of(laptop) == "laptop"
    fresh = cli.rotate(tmp_path, "default")
    assert fresh != old and running.label_of(old) is None
    assert running.label_of(fresh) == "default"
    assert stat.S_IMODE((tmp_path / FILE_NAME).stat().st_mode) == 0o600
    cli.revoke(tmp_path, "laptop")
    assert running.label_of(laptop) is None and running.label_of(fresh) == "default"
    with pytest.raises(ConfigError, match="only proxy token") as only:
        cli.revoke(tmp_path, "default")
    assert "--rotate-token default" in (only.value.hint or "")
    with pytest.raises(ConfigError, match="no proxy token labelled 'nope'"):
        cli.rotate(tmp_path, "nope")
    with pytest.raises(ConfigError, match=ENV_VAR):
        ProxyTokens.load(tmp_path, env={ENV_VAR: "from-env"}).revoke(tmp_path, "default")


def test_a_token_file_broken_while_running_refuses_every_client(tmp_path: Path) -> None:
    running = ProxyTokens.load(tmp_path, env={})
    token = running.default
    (tmp_path / FILE_NAME).unlink()
    assert running.label_of(token) is None
    (tmp_path / FILE_NAME).write_text(f"default {token}\n")
    assert running.label_of(token) == "default"


@pytest.mark.parametrize(
    ("agent", "name"),
    [
        ("claude-cli/2.1.197 (external, sdk-cli)", "claude-code"),
        ("Anthropic/Python 0.72.0", "anthropic-sdk"),
        ("AsyncAnthropic/Python 0.72.0", "anthropic-sdk"),
        ("AsyncOpenAI/Python 1.99.0", "openai-sdk"),
        ("OpenAI/Python 1.99.0", "openai-sdk"),
        ("devflow-tui/0.1.0", "devflow"),
        ("curl/8.5.0", "curl"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_client_from_user_agent(agent: str | None, name: str) -> None:
    assert client_name(agent, "default") == name


def test_model_map_exact_glob_passthrough_and_default() -> None:
    mapping = ModelMap(
        {"*haiku*": "passthrough", "claude-opus-4-8": "openai/gpt-4o-mini", "*sonnet*": "auto"},
        IDS,
    )
    assert mapping.choose("claude-opus-4-8").model == "openai/gpt-4o-mini"
    assert mapping.choose("claude-haiku-4-5-20251001").model == "anthropic/claude-haiku-4.5"
    assert mapping.choose("claude-sonnet-4-5").model is None
    assert mapping.choose("claude-opus-4-1").model is None  # unmapped Claude names route
    assert mapping.choose("openai/gpt-4o-mini").model == "openai/gpt-4o-mini"
    assert mapping.choose(None).model is None
    plain = ModelMap({}, IDS)
    assert plain.anthropic_id("claude-sonnet-4-5-20250929") == "anthropic/claude-sonnet-4.5"
    assert plain.anthropic_id("claude-opus-4-8").startswith("anthropic/claude-opus")


def test_model_map_rejects_bad_targets() -> None:
    with pytest.raises(ConfigError, match="not a model id"):
        ModelMap({"*opus*": "gpt4"}, IDS)
    with pytest.raises(ConfigError, match="not in the catalog"):
        ModelMap({"*opus*": "nobody/nothing"}, IDS)
    with pytest.raises(ConfigError, match="passthrough"):
        ModelMap({}, ["openai/gpt-4o-mini"]).anthropic_id("claude-opus-4-8")
