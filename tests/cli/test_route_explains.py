"""`devflow route`: ruled-out models, resolved model names, and clear errors for unknown ones."""

from __future__ import annotations

import json

import pytest

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


def test_route_and_models_show_how_names_resolved(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", "claude-3-sonnet,gpt-4")
    data = json.loads(devflow("route", "--json", "hi there").stdout)
    assert data["resolved_names"] == [
        "claude-3-sonnet -> anthropic/claude-sonnet-4.5 (family)",
        "gpt-4 -> openai/gpt-5 (family)",
    ]
    models = json.loads(devflow("models", "--json").stdout)
    assert "preferred: gpt-4 -> openai/gpt-5 (family)" in models["names"]
    text = devflow("models").stdout
    assert "name preferred: claude-3-sonnet -> anthropic/claude-sonnet-4.5 (family)" in text


def test_an_unknown_model_name_is_an_error_with_the_closest(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_ONLY_MODELS", "clod-sonet")
    result = devflow("route", "hi there")
    assert result.exit_code == 2
    assert "'clod-sonet' matches nothing in the model catalog" in result.stderr
    assert "anthropic/claude-sonnet-4.5" in result.stderr
    assert "Traceback" not in result.stderr


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
