"""Model names as users write them: id, slug, display name, family, closest version; variants;
exclusions covering a family; errors naming the setting and the closest ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from devflow_tui.config import RoutingSettings, Settings, TaskDefaults
from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.names import (
    ModelNames,
    NameSetting,
    UnknownModelError,
    describe_all,
    name_settings,
    restriction,
)


@pytest.fixture(scope="module")
def names() -> ModelNames:
    return ModelNames(ModelCatalog.bundled())


@pytest.mark.parametrize(
    ("name", "model_id", "how"),
    [
        ("anthropic/claude-sonnet-4.5", "anthropic/claude-sonnet-4.5", "id"),
        ("Anthropic/Claude-Sonnet-4.5", "anthropic/claude-sonnet-4.5", "id"),
        ("anthropic/claude-haiku-4-5", "anthropic/claude-haiku-4.5", "slug"),  # same id, spelt
        ("claude-haiku-4.5", "anthropic/claude-haiku-4.5", "slug"),
        ("Claude Sonnet 4.5", "anthropic/claude-sonnet-4.5", "slug"),
        ("llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct", "slug"),
        ("llama-3.3-70b-instruct:free", "meta-llama/llama-3.3-70b-instruct:free", "slug"),
        # The original design's own example, OPENROUTER_PREFERRED_MODELS=claude-3-sonnet,...
        ("claude-3-sonnet", "anthropic/claude-sonnet-4.5", "version"),
        ("gpt-4", "openai/gpt-5", "version"),  # gpt-5-mini is another line
        ("gemini-pro", "google/gemini-2.5-pro", "family"),
        ("gpt-3.5", "openai/gpt-3.5-turbo", "family"),
        ("gpt-4o", "openai/gpt-4o-mini", "family"),  # its own generation before another one
        ("qwen-coder", "qwen/qwen3-coder", "family"),
        ("codestral", "mistralai/codestral-2508", "family"),
        ("llama", "meta-llama/llama-3.3-70b-instruct", "family"),  # the model before :free
        ("llama:free", "meta-llama/llama-3.3-70b-instruct:free", "family"),
        ("deepseek-v3.2", "deepseek/deepseek-v3.2-exp", "family"),
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
        "claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version), "
        "gpt-4 -> openai/gpt-5 (closest version)"
    )
    assert names.resolve("openai/gpt-5").describe() == "openai/gpt-5"


def test_an_exclusion_covers_the_whole_family_and_a_models_variants(names: ModelNames) -> None:
    paid, free = "meta-llama/llama-3.3-70b-instruct", "meta-llama/llama-3.3-70b-instruct:free"
    assert names.cover("llama").model_ids == (paid, free)
    assert names.cover("llama-3.3-70b-instruct").model_ids == (paid, free)
    assert names.cover("llama:free").model_ids == (free,)
    assert names.cover(paid).model_ids == (paid,)  # an exact id is that entry alone
    assert set(names.cover("gemini").model_ids) == {
        "google/gemini-2.5-flash",
        "google/gemini-2.5-pro",
        "google/gemini-2.5-flash-lite-preview-09-2025",
    }
    # A version that names one model line excludes that line, not every GPT.
    assert names.cover("gpt-4").model_ids == ("openai/gpt-5",)
    assert names.cover("deepseek-v3.2").model_ids == ("deepseek/deepseek-v3.2-exp",)


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


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        # A variant is a different model (price, limits): never the paid one for :free.
        ("anthropic/claude-haiku-4.5:free", "anthropic/claude-haiku-4.5"),
        ("claude-haiku-4.5:free", "anthropic/claude-haiku-4.5"),
        # A full id not in the catalog never silently becomes another model.
        ("x-ai/grok-4", "x-ai/grok-code-fast-1"),
        ("openai/gpt-4", "openai/gpt-5"),
        # No model of the same line: grok-code-fast-1 is a coding line, not grok-4.
        ("grok-4", "x-ai/grok-code-fast-1"),
    ],
)
def test_no_silent_substitution(names: ModelNames, name: str, closest: str) -> None:
    with pytest.raises(UnknownModelError) as caught:
        names.resolve(name)
    assert f"Closest catalog models: {closest}" in str(caught.value)
    if name.endswith(":free"):
        assert f"no :free variant of {closest}" in str(caught.value)
    if "/" in name:
        assert "devflow models --refresh" in str(caught.value)


def test_check_names_every_setting_and_errors_naming_the_setting(names: ModelNames) -> None:
    lines = names.check(
        [
            NameSetting("preferred", "P", ("claude-3-sonnet", "gemini-pro")),
            NameSetting("excluded", "E", ("llama",), every=True),
        ]
    )
    assert lines == [
        "preferred: claude-3-sonnet -> anthropic/claude-sonnet-4.5 (closest version)",
        "preferred: gemini-pro -> google/gemini-2.5-pro (family)",
        "excluded: llama -> meta-llama/llama-3.3-70b-instruct, "
        "meta-llama/llama-3.3-70b-instruct:free (family)",
    ]
    with pytest.raises(UnknownModelError) as caught:
        names.check([NameSetting("only", "OPENROUTER_ONLY_MODELS", ("clade-sonet",))])
    message = str(caught.value)
    assert message.startswith(
        "model 'clade-sonet' matches nothing in the model catalog (from OPENROUTER_ONLY_MODELS). "
        "Closest catalog models: anthropic/claude-sonnet-4.5"
    )
    assert message.endswith(". Correct it in OPENROUTER_ONLY_MODELS.")


def test_name_settings_name_the_variable_or_the_file_and_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENROUTER_PREFERRED_MODELS", "gpt-4")
    config = tmp_path / "config.toml"
    settings = Settings(
        preferred_models=["gpt-4"],
        only_models=["deepseek-r1"],
        routing=RoutingSettings(
            excluded_models=["llama"],
            pinned_model="claude-haiku-4.5",
            tasks={"coding": TaskDefaults(models=["qwen-coder"])},
        ),
        config_path=config,
    )
    found = {s.label: s for s in name_settings(settings)}
    assert found["preferred"].where == "OPENROUTER_PREFERRED_MODELS"
    assert found["only"].where == f"only_models in the config file {config}"
    assert found["excluded"].where == f"[routing] excluded_models in the config file {config}"
    assert found["excluded"].every and not found["pinned"].every
    assert found["pinned"].names == ("claude-haiku-4.5",)
    assert found["coding models"].where.startswith("[routing.tasks.coding] models in")
    monkeypatch.delenv("OPENROUTER_PREFERRED_MODELS")
    assert name_settings(Settings(config_path=None)) == []  # nothing named, nothing checked
    # What restricts a task's models is named the same way, for the errors that say so.
    assert restriction(settings, "coding") == (["qwen-coder"], found["coding models"].where)
    assert restriction(settings, "chat") == (["deepseek-r1"], found["only"].where)
    assert restriction(Settings(config_path=None), "chat") == ([], None)
    monkeypatch.setenv("OPENROUTER_ONLY_MODELS", "deepseek-r1")
    assert restriction(settings, "chat")[1] == "OPENROUTER_ONLY_MODELS"


def test_the_settings_names_are_resolved_once_per_state_of_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every request read them (`Gateway.model_names`, the restriction): now one result per
    catalog and state of the name settings, which the dashboard edits in place; the setting
    an error names is still read from the environment as it is when the error is raised."""
    monkeypatch.delenv("OPENROUTER_ONLY_MODELS", raising=False)
    names = ModelNames(ModelCatalog.bundled())
    config = tmp_path / "config.toml"
    settings = Settings(
        preferred_models=["claude-3-sonnet"],
        routing=RoutingSettings(tasks={"coding": TaskDefaults(models=["qwen-coder"])}),
        config_path=config,
    )
    first = names.in_settings(settings)
    assert names.in_settings(settings) is first
    assert first.check() == names.check(name_settings(settings))
    assert first.ids["preferred"] == {"anthropic/claude-sonnet-4.5"}
    settings.preferred_models = ["gpt-4"]  # as the models screen's "prefer" key does
    settings.routing.excluded_models = ["llama"]
    second = names.in_settings(settings)
    assert second is not first
    assert second.check()[0] == "preferred: gpt-4 -> openai/gpt-5 (closest version)"
    assert second.ids["excluded"] == {
        "meta-llama/llama-3.3-70b-instruct",
        "meta-llama/llama-3.3-70b-instruct:free",
    }
    assert second.restricted_to("coding") == ["qwen-coder"] and second.restricted_to("chat") == []
    for task in ("coding", "chat"):
        assert second.restriction(task) == restriction(settings, task)
    settings.only_models = ["clade-sonet"]
    third = names.in_settings(settings)
    assert third.ids["only"] == {"clade-sonet"}  # as written: it matches nothing
    with pytest.raises(UnknownModelError, match=r"\(from only_models in the config file"):
        third.check()
    monkeypatch.setenv("OPENROUTER_ONLY_MODELS", "clade-sonet")
    assert names.in_settings(settings) is third
    with pytest.raises(UnknownModelError, match=r"Correct it in OPENROUTER_ONLY_MODELS\.$"):
        third.check()
    assert third.restriction("chat") == (["clade-sonet"], "OPENROUTER_ONLY_MODELS")
