"""`devflow route`: ruled-out models, resolved model names, and clear errors for unknown ones."""

from __future__ import annotations

import json

import pytest

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
