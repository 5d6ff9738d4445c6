"""Per-model latency profiles."""

from __future__ import annotations

from devflow_tui.sim.profiles import ModelProfile, default_profile, provider_for, resolve_profile


def test_known_models_differ_and_small_ones_are_faster() -> None:
    nano = default_profile("google/gemini-2.5-flash-lite-preview-09-2025")
    opus = default_profile("anthropic/claude-opus-4.1")
    assert nano.ttft_ms < opus.ttft_ms
    assert nano.tokens_per_s > opus.tokens_per_s
    assert default_profile("deepseek/deepseek-r1").reasoning is True
    assert default_profile("openai/gpt-4o-mini").reasoning is False


def test_variants_and_unknown_models_get_derived_profiles() -> None:
    assert default_profile("openai/gpt-4o-mini:nitro").ttft_ms == 450
    cheap = default_profile("acme/tiny", {"pricing": {"completion": "0.0000001"}})
    pricey = default_profile("acme/huge", {"pricing": {"completion": "0.0001"}})
    assert cheap.ttft_ms < pricey.ttft_ms
    assert cheap.tokens_per_s > pricey.tokens_per_s
    assert pricey.ttft_ms == 4000 and pricey.tokens_per_s == 25
    assert default_profile("acme/x", {"pricing": {"completion": "n/a"}}).ttft_ms == 300
    assert default_profile("acme/thinker-r1").reasoning is True


def test_providers() -> None:
    assert provider_for("openai/gpt-5") == "OpenAI"
    assert provider_for("meta-llama/llama-3.3-70b-instruct:free") == "Venice"
    assert provider_for("acme/model") == "Simulated"


def test_overrides_keep_defaults_for_missing_parts() -> None:
    overrides = {"openai/gpt-5": ModelProfile(ttft_ms=10, tokens_per_s=1000)}
    resolved = resolve_profile("openai/gpt-5", None, overrides)
    assert (resolved.ttft_ms, resolved.tokens_per_s) == (10, 1000)
    assert resolved.provider == "OpenAI"
    assert resolved.reasoning is True
    explicit = {"openai/gpt-5": ModelProfile(1, 2, provider="Azure", reasoning=False)}
    assert resolve_profile("openai/gpt-5", None, explicit) == ModelProfile(1, 2, "Azure", False)
    assert resolve_profile("openai/gpt-4o-mini", None, overrides).ttft_ms == 450
