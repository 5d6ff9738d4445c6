"""Quality table and prior: known families refine, unknown models still get sensible numbers."""

from __future__ import annotations

from devflow_tui.routing.catalog import CatalogModel
from devflow_tui.routing.families import match_family, price_tier, prior_quality, quality_profile
from tests.routing.conftest import catalog_of, model_entry


def _model(model_id: str, **kw: object) -> CatalogModel:
    model = catalog_of(model_entry(model_id, **kw)).get(model_id)  # type: ignore[arg-type]
    assert model is not None
    return model


def test_known_families_match_most_specific_first() -> None:
    cases = {
        "openai/gpt-5-nano": "gpt-5-nano",
        "openai/gpt-5-mini": "gpt-5-mini",
        "openai/gpt-5": "gpt-5",
        "anthropic/claude-sonnet-4.5": "claude-sonnet",
        "anthropic/claude-3.5-sonnet": "claude-sonnet",
        "anthropic/claude-opus-4.1": "claude-opus",
        "openai/o3-mini": "o-series",
        "mistralai/codestral-2508": "codestral",
        "qwen/qwen3-coder": "qwen-coder",
        "deepseek/deepseek-r1": "deepseek-r1",
        "meta-llama/llama-3.3-70b-instruct:free": "llama-70b",
    }
    for model_id, family in cases.items():
        found = match_family(model_id)
        assert found is not None and found.name == family, model_id
    assert match_family("acme/never-heard-of-it") is None


def test_code_specialists_are_stronger_at_code_than_at_prose() -> None:
    profile = quality_profile(_model("mistralai/codestral-2508"))
    assert profile["coding"] > profile["creative"] + 0.1
    reasoning = quality_profile(_model("deepseek/deepseek-r1"))
    assert reasoning["reasoning"] > reasoning["chat"]


def test_free_variant_ranks_slightly_below_the_paid_one() -> None:
    paid = quality_profile(_model("meta-llama/llama-3.3-70b-instruct"))
    free = quality_profile(
        _model("meta-llama/llama-3.3-70b-instruct:free", prompt="0", completion="0")
    )
    assert free["chat"] < paid["chat"]


def test_price_tier_is_log_scaled_and_bounded() -> None:
    from decimal import Decimal

    assert price_tier(None) == 0.5
    assert price_tier(Decimal(0)) == 0.0
    assert price_tier(Decimal("0.00000001")) == 0.0
    assert price_tier(Decimal("0.001")) == 1.0
    assert price_tier(Decimal("0.000001")) < price_tier(Decimal("0.00001"))


def test_unknown_models_get_a_prior_from_their_fields() -> None:
    newest = 1_760_000_000
    cheap_old = _model("acme/a", completion="0.0000001", context=8_192, created=1_600_000_000)
    dear_new = _model(
        "acme/b",
        completion="0.00003",
        context=400_000,
        params=("reasoning", "tools"),
        created=newest,
    )
    assert prior_quality(cheap_old, newest) < 0.4 < 0.75 < prior_quality(dear_new, newest)
    profile = quality_profile(dear_new, newest)
    assert profile["reasoning"] > profile["creative"]
    assert profile["coding"] > profile["creative"]
    coder = quality_profile(_model("acme/turbo-coder"), newest)
    assert coder["coding"] >= coder["chat"] + 0.09
    assert all(0.0 <= v <= 1.0 for v in profile.values())
