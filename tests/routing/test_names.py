"""Model names as users write them: id, slug, display name, family; errors with the closest."""

from __future__ import annotations

import pytest

from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.names import ModelNames, UnknownModelError, describe_all


@pytest.fixture(scope="module")
def names() -> ModelNames:
    return ModelNames(ModelCatalog.bundled())


@pytest.mark.parametrize(
    ("name", "model_id", "how"),
    [
        ("anthropic/claude-sonnet-4.5", "anthropic/claude-sonnet-4.5", "id"),
        ("claude-haiku-4.5", "anthropic/claude-haiku-4.5", "slug"),
        ("Claude Sonnet 4.5", "anthropic/claude-sonnet-4.5", "slug"),
        ("llama-3.3-70b-instruct:free", "meta-llama/llama-3.3-70b-instruct:free", "slug"),
        # The original design's own example, OPENROUTER_PREFERRED_MODELS=claude-3-sonnet,...
        ("claude-3-sonnet", "anthropic/claude-sonnet-4.5", "family"),
        ("gpt-4", "openai/gpt-5", "family"),
        ("gemini-pro", "google/gemini-2.5-pro", "family"),
        ("gpt-3.5", "openai/gpt-3.5-turbo", "family"),  # the same version wins when there is one
        ("qwen-coder", "qwen/qwen3-coder", "family"),
        ("codestral", "mistralai/codestral-2508", "family"),
    ],
)
def test_names_resolve(names: ModelNames, name: str, model_id: str, how: str) -> None:
    found = names.resolve(name)
    assert (found.model_id, found.how) == (model_id, how)
    assert names.resolve(name) is found  # cached


def test_resolution_is_described_and_deduplicated(names: ModelNames) -> None:
    found = names.resolve_all(["claude-3-sonnet", "anthropic/claude-sonnet-4.5", "gpt-4"])
    assert [f.model_id for f in found] == ["anthropic/claude-sonnet-4.5", "openai/gpt-5"]
    assert describe_all(found) == (
        "claude-3-sonnet -> anthropic/claude-sonnet-4.5 (family), gpt-4 -> openai/gpt-5 (family)"
    )
    assert names.resolve("openai/gpt-5").describe() == "openai/gpt-5"


def test_unknown_names_are_errors_with_the_closest_matches(names: ModelNames) -> None:
    with pytest.raises(UnknownModelError) as caught:
        names.resolve("clod-sonet")
    message = str(caught.value)
    assert "'clod-sonet' matches nothing in the model catalog" in message
    assert "Closest catalog models: anthropic/claude-sonnet-4.5" in message
    with pytest.raises(UnknownModelError, match="devflow models"):
        names.resolve("zzzzzzzzzzzzzzzzzzzz")
    with pytest.raises(UnknownModelError):
        names.resolve("ghost/sonnet")  # a vendor that is not in the catalog
