"""`devflow route`: ruled-out models, resolved model names, and clear errors for unknown ones."""

from __future__ import annotations

import json

import pytest

from devflow_tui.config import resolve_config_path
from devflow_tui.sim import SimServer
from tests.cli.conftest import Invoke


def test_route_says_how_many_models_max_tokens_ruled_out(devflow: Invoke) -> None:
    result = devflow(
        "route", "--json", "--max-tokens", "5", "Prove that the square root of 2 is irrational"
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    summary = data["exclusion_summary"]
    assert summary is not None and "by max_tokens (they think first)" in summary
    assert summary in data["warnings"]
    ruled_out = {e["model"] for e in data["excluded"]}
    assert data["model"] not in ruled_out
    assert all("thinks before answering" in e["reason"] for e in data["excluded"])
    text = devflow("route", "--max-tokens", "5", "Prove that the square root of 2 is irrational")
    assert f"warning: {summary}" in text.stdout


@pytest.mark.parametrize("value", ["claude-3-sonnet,gpt-4", '["claude-3-sonnet", "gpt-4"]'])
def test_route_and_models_show_how_names_resolved(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", value)  # a comma or a JSON list
    data = json.loads(devflow("route", "--json", "hi there").stdout)
    assert data["resolved_names"] == [
        "claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version)",
        "gpt-4 -> openai/gpt-5 (closest version)",
    ]
    models = json.loads(devflow("models", "--json").stdout)
    assert "preferred: gpt-4 -> openai/gpt-5 (closest version)" in models["names"]
    assert models["names_error"] is None
    text = devflow("models").stdout
    assert (
        "name preferred: claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version)" in text
    )


def test_a_model_pinned_with_m_resolves_like_the_settings(devflow: Invoke) -> None:
    data = json.loads(devflow("route", "--json", "-m", "claude-haiku-4.5", "hi").stdout)
    assert data["model"] == "anthropic/claude-haiku-4.5"
    assert data["resolved_names"] == ["claude-haiku-4.5 -> anthropic/claude-haiku-4.5 (slug)"]
    assert [c["model"] for c in data["candidates"]].count("anthropic/claude-haiku-4.5") == 1
    assert not any("not in the model catalog" in w for w in data["warnings"])
    assert data["excluded"] == [] and data["exclusion_summary"] is None  # nothing was routed
    # Sent to OpenRouter (the simulated server checks ids) as the catalog id.
    result = devflow("ask", "--json", "-m", "claude-haiku-4.5", "hi")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "ok" and answer["model"] == "anthropic/claude-haiku-4.5"
    assert [a["model"] for a in answer["attempts"]] == ["anthropic/claude-haiku-4.5"]


def test_a_model_pinned_with_m_that_matches_nothing_is_not_sent(devflow: Invoke) -> None:
    result = devflow("ask", "-m", "claude-hiaku-4.5", "hi")
    assert result.exit_code == 2
    assert "'claude-hiaku-4.5' matches nothing in the model catalog" in result.stderr
    assert "--model" in result.stderr
    assert "Closest catalog models: anthropic/claude-haiku-4.5" in result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(devflow("ask", "--json", "-m", "claude-hiaku-4.5", "hi").stdout)
    assert data["attempts"] == [] and data["error"]["category"] == "config"  # nothing sent


def test_a_misspelled_setting_names_the_setting_and_models_still_lists(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", "clod-sonet")
    result = devflow("ask", "hi")
    assert result.exit_code == 2
    assert "'clod-sonet' matches nothing in the model catalog" in result.stderr
    assert "(from OPENROUTER_PREFERRED_MODELS)" in result.stderr
    assert "Closest catalog models: anthropic/claude-sonnet-4.5" in result.stderr
    assert "Correct it in OPENROUTER_PREFERRED_MODELS" in result.stderr
    assert "Traceback" not in result.stderr
    # `devflow models` is where the right id is found: it lists, and repeats the error.
    listing = devflow("models")
    assert listing.exit_code == 0
    assert "anthropic/claude-haiku-4.5" in listing.stdout
    assert "error in the settings: model 'clod-sonet'" in listing.stderr
    data = json.loads(devflow("models", "--json").stdout)
    assert len(data["models"]) > 10 and "OPENROUTER_PREFERRED_MODELS" in data["names_error"]


def test_a_misspelled_excluded_model_names_the_config_file_and_key(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = resolve_config_path()
    with config.open("a", encoding="utf-8") as fh:
        fh.write('[routing]\nexcluded_models = ["bogus-x"]\n')
    result = devflow("route", "hi")
    assert result.exit_code == 2
    assert f"[routing] excluded_models in the config file {config}" in result.stderr


def test_a_list_that_is_neither_commas_nor_json_is_a_clear_error(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", '["gpt-4",')
    result = devflow("route", "hi")
    assert result.exit_code == 2
    assert "OPENROUTER_PREFERRED_MODELS" in result.stderr and "JSON list" in result.stderr


def test_the_start_up_log_shows_how_names_resolved(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", "claude-3-sonnet")
    result = devflow("--verbose", "route", "hi")
    assert result.exit_code == 0
    line = next(json.loads(x) for x in result.stderr.splitlines() if '"model names"' in x)
    assert line["names"] == [
        "preferred: claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version)"
    ]
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", "clade-sonet")
    result = devflow("--verbose", "models")
    line = next(json.loads(x) for x in result.stderr.splitlines() if '"model names"' in x)
    assert line["level"] == "ERROR" and "OPENROUTER_PREFERRED_MODELS" in line["error"]


def test_no_model_for_a_small_max_tokens_says_raise_it_and_names_the_only_setting(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch, sim: SimServer
) -> None:
    """The only allowed model thinks first and `--max-tokens 5` leaves it no room: the fix is
    to RAISE max_tokens (it said "Lower"), the setting is "only" (it said "preferred"), a
    usage exit code (it was the provider's 5), and `route` fails too (it printed `None`)."""
    monkeypatch.setenv("OPENROUTER_ONLY_MODELS", "deepseek-r1")
    for command in ("ask", "route"):
        result = devflow(command, "--max-tokens", "5", "What's 17*23?")
        assert result.exit_code == 2, (command, result.stderr)
        assert "No model can take this request" in result.stderr
        assert "Raise --max-tokens to 1,024 or more" in result.stderr
        assert "Lower --max-tokens" not in result.stderr
        assert "OPENROUTER_ONLY_MODELS" in result.stderr
        assert "preferred" not in result.stderr
        assert "))" not in result.stderr
    assert "model: None" not in result.stdout
    assert "no model can take this request" in result.stdout
    data = json.loads(devflow("route", "--json", "--max-tokens", "5", "What's 17*23?").stdout)
    assert data["model"] is None and "Raise --max-tokens" in data["error"]
    assert not [r for r in sim.requests if r.path == "/chat/completions"]


def test_no_model_for_a_large_context_says_trim_it(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_ONLY_MODELS", "meta-llama/llama-3.3-70b-instruct")
    result = devflow("route", "-", input="word " * 200_000)
    assert result.exit_code == 2, result.stderr
    assert "by the context size" not in result.stderr  # one model: its own reason instead
    assert "context" in result.stderr and "Trim the prompt" in result.stderr
    assert "Raise --max-tokens" not in result.stderr


def test_a_pinned_model_under_a_budget_gets_no_ruled_out_note(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA: with -m and a budget, "17 of 19 models ruled out: 17 by the budget" printed
    though nothing is routed (and --json said "12 of 0 models")."""
    monkeypatch.setenv("OPENROUTER_COST_BUDGET_USD", "0.001")
    routed = json.loads(devflow("route", "--json", "hi").stdout)
    assert routed["exclusion_summary"] is not None  # routing: the note belongs there
    result = devflow("route", "--json", "-m", "anthropic/claude-haiku-4.5", "hi")
    data = json.loads(result.stdout)
    assert data["model"] == "anthropic/claude-haiku-4.5"
    assert data["exclusion_summary"] is None
    assert not any("ruled out" in w for w in data["warnings"])
    text = devflow("route", "-m", "anthropic/claude-haiku-4.5", "hi").stdout
    assert "ruled out" not in text


def test_route_refuses_what_ask_would_refuse_near_the_window(devflow: Invoke) -> None:
    """One fit rule: a prompt that fits gpt-3.5-turbo's window only without the margin kept
    for the token estimate is refused by `route` as by `ask`: rejected (exit 6), not a
    provider failure, and nothing sent."""
    prompt = "Summarise: " + "The quick brown fox jumps over the lazy dog. " * 1720
    args = ("-m", "openai/gpt-3.5-turbo", "--max-tokens", "1000", "-")
    routed = devflow("route", *args, input=prompt)
    asked = devflow("ask", *args, input=prompt)
    # `context show` goes by the same rule (it showed the routed model's context, or "the
    # prompt alone does not fit" with its own wording), and reads the prompt from stdin.
    shown = devflow("context", "show", *args, input=prompt)
    assert routed.exit_code == asked.exit_code == shown.exit_code == 6, (
        routed.stderr,
        asked.stderr,
        shown.stderr,
    )
    for result in (routed, asked, shown):
        assert "does not fit openai/gpt-3.5-turbo's context window" in result.stderr
