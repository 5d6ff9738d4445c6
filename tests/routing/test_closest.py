"""Suggestions for misspelled model names: the close models of the same family first, and
nothing unrelated (`clade-sonet` once suggested x-ai/grok-code-fast-1)."""

from __future__ import annotations

import pytest

from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.closest import ClosestModels
from devflow_tui.routing.names import ModelNames, UnknownModelError


@pytest.fixture(scope="module")
def closest() -> ClosestModels:
    return ClosestModels(ModelCatalog.bundled())


@pytest.mark.parametrize(
    ("name", "first", "family"),
    [
        ("clade-sonet", "anthropic/claude-sonnet-4.5", "anthropic/claude-"),
        ("anthropic/clade-opus", "anthropic/claude-opus-4.1", "anthropic/claude-"),
        ("gtp-4o", "openai/gpt-4o-mini", "openai/gpt-"),  # two letters swapped
        ("gpt-4o-maxi", "openai/gpt-4o-mini", "openai/gpt-"),  # the same version first
        ("openai/gpt-4", "openai/gpt-5", "openai/gpt-"),  # fewest extra words first
        ("gemni-flash", "google/gemini-2.5-flash", "google/gemini-"),
        ("lama-3.3", "meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-"),
        ("gork-code", "x-ai/grok-code-fast-1", "x-ai/grok-"),
        ("qwen3-codr", "qwen/qwen3-coder", "qwen/qwen"),
        ("deepsek", "deepseek/deepseek-", "deepseek/deepseek-"),
        ("codestral-latest", "mistralai/codestral-2508", "mistralai/"),
    ],
)
def test_a_typo_suggests_its_model_then_its_family_only(
    closest: ClosestModels, name: str, first: str, family: str
) -> None:
    picks = closest.to(name)
    assert picks and picks[0].startswith(first), picks
    assert all(p.startswith(family) for p in picks), picks


@pytest.mark.parametrize("name", ["nobody/nothing", "kimi-k2", "o3", "dipsik"])
def test_a_name_like_no_model_gets_no_suggestion(closest: ClosestModels, name: str) -> None:
    assert closest.to(name) == []


def test_the_error_names_only_relevant_models_and_says_where_to_look() -> None:
    names = ModelNames(ModelCatalog.bundled())
    with pytest.raises(UnknownModelError) as typo:
        names.resolve("clade-sonet")
    message = str(typo.value)
    assert "Closest catalog models: anthropic/claude-sonnet-4.5" in message
    assert "grok" not in message and "gpt" not in message
    with pytest.raises(UnknownModelError) as unrelated:
        names.resolve("kimi-k2")
    message = str(unrelated.value)
    assert "Closest" not in message and "Run `devflow models` to see the catalog's ids." in message
    # The same unknown name again (a proxy client retrying): the same hint.
    with pytest.raises(UnknownModelError) as again:
        names.resolve("kimi-k2")
    assert str(again.value) == message
