"""Proxy tokens, client names, the model map, and spend per client in reports."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devflow_tui.errors import ConfigError
from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.names import ModelNames, UnknownModelError
from devflow_tui.serve.clients import client_name
from devflow_tui.serve.model_map import ModelMap
from devflow_tui.serve.tokens import ENV_VAR, FILE_NAME, ProxyTokens

NAMES = ModelNames(ModelCatalog.bundled())


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
        {
            "*haiku*": "passthrough",
            "claude-opus-4-8": "gpt-4o-mini",  # a slug: resolved as --model resolves it
            "*sonnet*": "auto",
            "fast": "grok",  # a family
        },
        NAMES,
    )
    assert mapping.choose("claude-opus-4-8").model == "openai/gpt-4o-mini"
    assert mapping.choose("CLAUDE-OPUS-4-8").model == "openai/gpt-4o-mini"
    assert mapping.choose("fast").model == "x-ai/grok-code-fast-1"
    assert mapping.choose("claude-haiku-4-5-20251001").model == "anthropic/claude-haiku-4.5"
    assert mapping.choose("claude-sonnet-4-5").model is None
    assert mapping.choose("claude-opus-4-1").model is None  # unmapped Claude names route
    assert mapping.choose("auto").model is None and mapping.choose(None).model is None
    # OpenRouter's router id is devflow's routing (it is no catalog model: it was refused).
    assert mapping.choose("openrouter/auto").model is None
    assert mapping.choose("openai/gpt-4o-mini").model == "openai/gpt-4o-mini"
    assert [line for line in mapping.lines if "fast" in line] == [
        '[serve.models] "fast": grok -> x-ai/grok-code-fast-1 (family)'
    ]


@pytest.mark.parametrize(
    ("name", "model", "how"),
    [
        ("gpt-4", "openai/gpt-5", "closest version"),  # the closest version, as -m
        ("GPT-5-mini", "openai/gpt-5-mini", "slug"),
        ("Anthropic: Claude Haiku 4.5", "anthropic/claude-haiku-4.5", "slug"),  # display name
        ("gemini-pro", "google/gemini-2.5-pro", "family"),
        ("llama-3.3-70b-instruct:free", "meta-llama/llama-3.3-70b-instruct:free", "slug"),
    ],
)
def test_an_unmapped_name_resolves_as_model_does(name: str, model: str, how: str) -> None:
    choice = ModelMap({}, NAMES).choose(name)
    assert choice.model == model
    assert choice.resolution is not None and f"({how})" in choice.describe()
    assert choice.rule == "default: the name resolves as --model does"


def test_an_unknown_name_is_refused_with_the_closest_ids() -> None:
    mapping = ModelMap({}, NAMES)
    with pytest.raises(UnknownModelError) as unknown:
        mapping.choose("gemni-flash")
    text = str(unknown.value)
    assert "'gemni-flash' matches nothing" in text and "google/gemini-2.5-flash" in text
    assert "`auto` to route" in text and "[serve.models]" in text
    with pytest.raises(UnknownModelError, match="no :free variant of openai/gpt-5"):
        mapping.choose("gpt-5:free")  # never the paid model for a :free name
    with pytest.raises(UnknownModelError, match="devflow models --refresh"):
        mapping.choose("x-ai/grok-9")  # an id the catalog lacks is not sent as written


def test_a_target_that_is_no_model_names_its_key_and_the_fix() -> None:
    with pytest.raises(UnknownModelError) as unknown:
        ModelMap({"*opus*": "auto", "*sonnet*": "claude-sonet-4.5"}, NAMES)
    text = str(unknown.value)
    assert '[serve.models] "*sonnet*"' in text and "'claude-sonet-4.5'" in text
    assert "anthropic/claude-sonnet-4.5" in text and "Correct it in" in text
    with pytest.raises(UnknownModelError, match=r"from gpt in /x/config\.toml"):
        ModelMap({"gpt": "nobody/nothing"}, NAMES, where=lambda key: f"{key} in /x/config.toml")
