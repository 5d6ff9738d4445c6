"""ModelSelector on synthetic catalogs: filters, scoring, pins, fallbacks, reasons."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import pytest

from devflow_tui.config import RoutingSettings, TaskDefaults
from devflow_tui.routing import selector as selector_module
from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.health import HealthTracker
from devflow_tui.routing.names import UnknownModelError
from devflow_tui.routing.selector import (
    ModelSelector,
    RoutingDecision,
    SelectionCriteria,
    expected_output_tokens,
)
from tests.routing.conftest import catalog_of, model_entry

TOOLS = ("max_tokens", "tools", "tool_choice", "response_format")


def made_up_catalog() -> ModelCatalog:
    """Models the router has never heard of: only price, window and capabilities speak."""
    return catalog_of(
        model_entry("zeta/pico-1", prompt="0.00000002", completion="0.00000005", context=8_192),
        model_entry(
            "orbit/mid-7", prompt="0.0000003", completion="0.0000012", context=131_072, params=TOOLS
        ),
        model_entry(
            "quasar/ultra-x",
            prompt="0.000005",
            completion="0.00003",
            context=400_000,
            params=(*TOOLS, "reasoning"),
            inputs=("text", "image"),
        ),
        model_entry("nimbus/lite-2", prompt="0.0000001", completion="0.0000004", context=32_768),
    )


def select(catalog: ModelCatalog, health: HealthTracker | None = None, **kw: object):  # type: ignore[no-untyped-def]
    selector = ModelSelector(catalog, health or HealthTracker(), RoutingSettings())
    return selector.select(SelectionCriteria(**kw))  # type: ignore[arg-type]


def test_cheapest_capable_model_wins_when_cost_matters() -> None:
    catalog = catalog_of(
        model_entry("openai/gpt-5", prompt="0.00000125", completion="0.00001"),
        model_entry("deepseek/deepseek-v3.2-exp", prompt="0.00000027", completion="0.00000041"),
        model_entry("openai/gpt-3.5-turbo", prompt="0.00000005", completion="0.0000001"),
    )
    decision = select(
        catalog,
        task_type="coding",
        complexity="medium",
        cost_priority=1.0,
        performance_priority=0.0,
        context_tokens=2_000,
    )
    # gpt-3.5 is cheaper but below the bar for a medium coding task.
    assert decision.chosen is not None
    assert decision.chosen.id == "deepseek/deepseek-v3.2-exp"
    assert decision.candidates[0].reason.startswith("cheapest model with")
    below = next(c for c in decision.candidates if c.model.id == "openai/gpt-3.5-turbo")
    assert "below the quality bar" in below.reason
    assert decision.candidates[-1].model.id == "openai/gpt-3.5-turbo"


def test_strongest_model_wins_when_performance_matters_for_high_complexity() -> None:
    decision = select(
        made_up_catalog(),
        task_type="reasoning",
        complexity="high",
        cost_priority=0.0,
        performance_priority=1.0,
        context_tokens=3_000,
    )
    assert decision.chosen is not None and decision.chosen.id == "quasar/ultra-x"
    assert "strongest reasoning model" in decision.candidates[0].reason
    assert "unknown family" in decision.candidates[0].reason


def test_unseen_models_get_sensible_choices() -> None:
    catalog = made_up_catalog()
    chat = select(
        catalog,
        task_type="chat",
        complexity="low",
        cost_priority=0.7,
        performance_priority=0.3,
        context_tokens=20,
    )
    assert chat.chosen is not None and chat.chosen.id in {"zeta/pico-1", "nimbus/lite-2"}
    hard = select(catalog, task_type="coding", complexity="high", context_tokens=6_000)
    assert hard.chosen is not None and hard.chosen.id in {"orbit/mid-7", "quasar/ultra-x"}
    assert not hard.warnings


def test_context_filter_excludes_models_that_cannot_fit() -> None:
    decision = select(
        made_up_catalog(),
        task_type="analysis",
        context_tokens=100_000,
        max_output_tokens=4_000,
        cost_priority=1.0,
    )
    ids = {c.model.id for c in decision.candidates}
    assert ids == {"orbit/mid-7", "quasar/ultra-x"}
    reasons = dict(decision.excluded)
    assert reasons["zeta/pico-1"] == "context 8,192 < 104,000 tokens needed"
    assert "nimbus/lite-2" in reasons


def test_output_is_clamped_to_the_models_maximum_when_checking_the_fit() -> None:
    catalog = catalog_of(model_entry("acme/small", context=10_000, max_completion=1_000))
    decision = select(catalog, context_tokens=8_500, max_output_tokens=4_000)
    assert decision.chosen is not None  # 8,500 + 1,000 fits in 10,000


def test_capability_filter() -> None:
    decision = select(
        made_up_catalog(), task_type="coding", required_capabilities={"tools"}, cost_priority=1.0
    )
    assert {c.model.id for c in decision.candidates} == {"orbit/mid-7", "quasar/ultra-x"}
    assert dict(decision.excluded)["zeta/pico-1"] == "no tools support"
    vision = select(made_up_catalog(), required_capabilities=frozenset({"vision", "tools"}))
    assert [c.model.id for c in vision.candidates] == ["quasar/ultra-x"]


def test_budget_filter_uses_the_worst_case() -> None:
    # ultra-x worst case with 1,000 output tokens: 10,000*5e-6 + 1,000*3e-5 = $0.08.
    decision = select(
        made_up_catalog(),
        task_type="analysis",
        context_tokens=10_000,
        max_output_tokens=1_000,
        remaining_budget_usd=Decimal("0.05"),
        performance_priority=1.0,
        cost_priority=0.0,
    )
    assert "quasar/ultra-x" not in {c.model.id for c in decision.candidates}
    assert dict(decision.excluded)["quasar/ultra-x"] == (
        "worst case $0.08 > $0.05 left in the budget"
    )
    ok = select(
        made_up_catalog(),
        task_type="analysis",
        context_tokens=10_000,
        max_output_tokens=1_000,
        remaining_budget_usd=Decimal("0.08"),
        performance_priority=1.0,
        cost_priority=0.0,
    )
    assert ok.chosen is not None and ok.chosen.id == "quasar/ultra-x"
    assert ok.candidates[0].worst_case_cost_usd == Decimal("0.08")


def test_budget_worst_case_without_max_tokens_uses_the_models_maximum() -> None:
    catalog = catalog_of(
        model_entry("acme/big-out", prompt="0.000001", completion="0.00001", max_completion=64_000),
        model_entry(
            "acme/no-limit",
            prompt="0.000001",
            completion="0.00001",
            context=50_000,
            max_completion=None,
        ),
    )
    decision = select(catalog, context_tokens=1_000, remaining_budget_usd=Decimal("0.5"))
    reasons = dict(decision.excluded)
    assert reasons["acme/big-out"] == "worst case $0.641 > $0.50 left in the budget"
    assert decision.chosen is not None and decision.chosen.id == "acme/no-limit"
    assert decision.candidates[0].worst_case_cost_usd == Decimal("0.491")


def test_unknown_price_is_excluded_only_when_a_budget_is_set() -> None:
    catalog = catalog_of(
        model_entry("openrouter/auto", prompt="-1", completion="-1"), model_entry("acme/priced")
    )
    decision = select(catalog, remaining_budget_usd=Decimal("10"))
    assert dict(decision.excluded)["openrouter/auto"] == "price unknown while a budget is set"
    free_for_all = select(catalog, cost_priority=1.0)
    auto = next(c for c in free_for_all.candidates if c.model.id == "openrouter/auto")
    assert auto.estimated_cost_usd is None
    assert "cost unknown" in auto.reason
    assert free_for_all.chosen is not None and free_for_all.chosen.id == "acme/priced"


def test_models_in_cooldown_are_excluded_and_come_back() -> None:
    now = [0.0]
    health = HealthTracker(cooldown_failures=1, cooldown_s=30, clock=lambda: now[0])
    catalog = made_up_catalog()
    before = select(catalog, health, task_type="chat", complexity="low", cost_priority=1.0)
    assert before.chosen is not None
    winner = before.chosen.id
    health.record_failure(winner, "provider")
    during = select(catalog, health, task_type="chat", complexity="low", cost_priority=1.0)
    assert during.chosen is not None and during.chosen.id != winner
    assert dict(during.excluded)[winner] == "in cooldown after repeated failures (30 s left)"
    now[0] = 31.0
    after = select(catalog, health, task_type="chat", complexity="low", cost_priority=1.0)
    assert winner in {c.model.id for c in after.candidates}


def test_measured_health_moves_the_ranking() -> None:
    catalog = catalog_of(
        model_entry("acme/twin-a", prompt="0.000001", completion="0.000002"),
        model_entry("acme/twin-b", prompt="0.000001", completion="0.000002"),
    )
    health = HealthTracker()
    for _ in range(10):
        health.record_success("acme/twin-b", latency_ms=800, ttft_ms=200, tokens_per_s=80)
        health.record_failure("acme/twin-a", "provider")
        health.record_success("acme/twin-a", latency_ms=9000)
    decision = select(catalog, health, performance_priority=1.0)
    assert decision.chosen is not None and decision.chosen.id == "acme/twin-b"
    assert "100% success, p50 0.8 s" in decision.candidates[0].reason


EVERYDAY = SelectionCriteria(task_type="chat", complexity="low", max_output_tokens=2048)
PAID_LLAMA = "meta-llama/llama-3.3-70b-instruct"


def test_a_few_recorded_answers_do_not_outweigh_the_prior() -> None:
    """QA: after one quick DeepSeek answer, everyday prompts went to DeepSeek (0.842) instead
    of the Llama the prior chose (0.840). Below MIN_HEALTH_SAMPLES the data does not count;
    past it, it counts more with every sample."""
    catalog = ModelCatalog.bundled()
    prior = ModelSelector(catalog, HealthTracker()).select(EVERYDAY)
    assert prior.chosen is not None and prior.chosen.id == PAID_LLAMA
    health = HealthTracker()
    selector = ModelSelector(catalog, health)
    scores = []
    answered = "deepseek/deepseek-v3.2-exp"
    for _ in range(selector_module.MIN_HEALTH_SAMPLES + 5):
        health.record_success(answered, latency_ms=2400.0, ttft_ms=300.0)
        decision = selector.select(EVERYDAY)
        score = {c.model.id: c.score for c in decision.candidates}
        scores.append(score[answered])
        reason = next(c.reason for c in decision.candidates if c.model.id == answered)
        if len(scores) < selector_module.MIN_HEALTH_SAMPLES:
            assert decision.chosen == prior.chosen
            assert decision.candidates[0].score == prior.candidates[0].score
            assert "success" not in reason  # not counted, so not given as a reason
        else:
            assert "100% success, p50 2.4 s" in reason
    few = selector_module.MIN_HEALTH_SAMPLES - 1
    assert len(set(scores[:few])) == 1  # no change at all below the minimum
    assert scores[few - 1] < scores[few] < scores[few + 1] < scores[-1]  # then more each time


def test_a_free_variant_backs_its_paid_twin_up_whatever_its_health() -> None:
    """QA: one `ask -m ...:free` and the :free Llama led every everyday prompt ("100%
    success") though the README says a free variant backs the paid model up."""
    health = HealthTracker()
    selector = ModelSelector(ModelCatalog.bundled(), health)
    for count in range(1, 31):
        health.record_success(f"{PAID_LLAMA}:free", latency_ms=900.0, ttft_ms=100.0)
        decision = selector.select(EVERYDAY)
        assert decision.chosen is not None and decision.chosen.id == PAID_LLAMA, count
        assert decision.fallbacks[0] == f"{PAID_LLAMA}:free"
    cheap = selector.select(dataclasses.replace(EVERYDAY, cost_priority=0.95))
    assert cheap.chosen is not None and cheap.chosen.id == f"{PAID_LLAMA}:free"
    liked = selector.select(dataclasses.replace(EVERYDAY, preferred_models=[f"{PAID_LLAMA}:free"]))
    assert liked.chosen is not None and liked.chosen.id == f"{PAID_LLAMA}:free"


def test_preferring_raises_a_score_and_only_restricts_the_pool() -> None:
    plain = select(made_up_catalog(), cost_priority=0.0, performance_priority=1.0)
    liked = select(
        made_up_catalog(),
        preferred_models=["lite-2"],  # a slug, resolved to nimbus/lite-2
        cost_priority=0.0,
        performance_priority=1.0,
    )
    score = {c.model.id: c.score for c in plain.candidates}
    liked_score = {c.model.id: c.score for c in liked.candidates}
    assert len(liked.candidates) == len(plain.candidates) == 4  # preferring restricts nothing
    assert liked_score["nimbus/lite-2"] == pytest.approx(score["nimbus/lite-2"] + 0.08)
    assert liked_score["zeta/pico-1"] == pytest.approx(score["zeta/pico-1"])
    lite = next(c for c in liked.candidates if c.model.id == "nimbus/lite-2")
    assert "(preferred)" in lite.reason
    assert liked.resolved_names == ["lite-2 -> nimbus/lite-2 (slug)"]

    only = select(made_up_catalog(), only_models=["nimbus/lite-2", "pico-1"])
    assert {c.model.id for c in only.candidates} == {"nimbus/lite-2", "zeta/pico-1"}
    assert only.pool_size == 2
    assert "only these models are allowed: nimbus/lite-2, zeta/pico-1" in only.warnings


def test_a_name_that_resolves_to_nothing_is_an_error_naming_the_closest() -> None:
    with pytest.raises(UnknownModelError) as caught:
        select(made_up_catalog(), preferred_models=["quasar/ultra-z"])
    assert "'quasar/ultra-z' matches nothing" in str(caught.value)
    assert "quasar/ultra-x" in str(caught.value)
    with pytest.raises(UnknownModelError):
        select(made_up_catalog(), only_models=["ghost/one"])


def test_task_defaults_from_settings_pin_the_pool_and_the_exclusions() -> None:
    settings = RoutingSettings(
        tasks={"coding": TaskDefaults(models=["orbit/mid-7", "quasar/ultra-x"])},
        excluded_models=["quasar/ultra-x"],
    )
    selector = ModelSelector(made_up_catalog(), HealthTracker(), settings)
    decision = selector.select(SelectionCriteria(task_type="coding"))
    assert [c.model.id for c in decision.candidates] == ["orbit/mid-7"]
    assert dict(decision.excluded) == {"quasar/ultra-x": "excluded in settings"}
    other = selector.select(SelectionCriteria(task_type="chat"))
    assert len(other.candidates) == 3


def test_pinned_model_wins_when_it_passes_the_filters() -> None:
    decision = select(
        made_up_catalog(),
        pinned_model="quasar/ultra-x",
        cost_priority=1.0,
        task_type="chat",
        complexity="low",
    )
    assert decision.chosen is not None and decision.chosen.id == "quasar/ultra-x"
    assert decision.candidates[0].reason.startswith("pinned model")
    assert decision.fallbacks  # the rest of the ranking still backs it up


def test_pinned_model_outside_the_only_pool_is_still_honoured() -> None:
    decision = select(made_up_catalog(), pinned_model="quasar/ultra-x", only_models=["zeta/pico-1"])
    assert [c.model.id for c in decision.candidates] == ["quasar/ultra-x", "zeta/pico-1"]


def test_pinned_model_that_cannot_fit_falls_back_with_a_warning() -> None:
    decision = select(made_up_catalog(), pinned_model="zeta/pico-1", context_tokens=50_000)
    assert decision.chosen is not None and decision.chosen.id != "zeta/pico-1"
    assert decision.warnings == [
        "2 of 4 models ruled out: 2 by the context size",
        "pinned model zeta/pico-1 cannot take this request "
        "(context 8,192 < 50,300 tokens needed); routing automatically",
    ]
    # A pin resolves like every other name: one that matches nothing is an error, not a
    # request sent to OpenRouter as written.
    with pytest.raises(UnknownModelError, match="Closest catalog models: orbit/mid-7"):
        select(made_up_catalog(), pinned_model="ghost/mid-7")


def test_settings_pin_applies_when_the_criteria_have_none() -> None:
    selector = ModelSelector(
        made_up_catalog(), HealthTracker(), RoutingSettings(pinned_model="orbit/mid-7")
    )
    decision = selector.select(SelectionCriteria(cost_priority=1.0))
    assert decision.chosen is not None and decision.chosen.id == "orbit/mid-7"


def test_fallbacks_include_a_larger_window_for_context_errors() -> None:
    catalog = catalog_of(
        *[
            model_entry(f"tiny/m{i}", prompt="0.00000001", completion="0.00000002", context=16_000)
            for i in range(5)
        ],
        model_entry("vast/window", prompt="0.00001", completion="0.00003", context=1_000_000),
    )
    decision = select(catalog, task_type="chat", complexity="low", cost_priority=1.0)
    assert decision.chosen is not None and decision.chosen.id.startswith("tiny/")
    assert len(decision.fallbacks) == 3
    assert decision.fallbacks[-1] == "vast/window"
    assert decision.chain[0] == decision.chosen.id
    assert "vast/window" in {c.model.id for c in decision.candidates}


def test_short_chain_appends_the_larger_window() -> None:
    catalog = catalog_of(
        model_entry("tiny/a", prompt="0.00000001", completion="0.00000002", context=16_000),
        model_entry("vast/window", prompt="0.00001", completion="0.00003", context=1_000_000),
    )
    decision = select(catalog, task_type="chat", complexity="low", cost_priority=1.0)
    assert decision.chain == ["tiny/a", "vast/window"]


def test_empty_result_explains_every_exclusion() -> None:
    decision = select(made_up_catalog(), context_tokens=10_000_000)
    assert decision.candidates == [] and decision.chosen is None
    assert decision.fallbacks == [] and decision.chain == []
    assert len(decision.excluded) == 4


def test_estimated_cost_is_exact_decimal_for_expected_tokens() -> None:
    catalog = catalog_of(
        model_entry(
            "acme/one",
            prompt="0.0000003",
            completion="0.0000012",
            extra_prices={"request": "0.0001"},
        )
    )
    decision = select(
        catalog,
        task_type="coding",
        complexity="medium",
        context_tokens=12_000,
        max_output_tokens=4_096,
    )
    candidate = decision.candidates[0]
    assert decision.expected_output_tokens == 900
    assert candidate.estimated_cost_usd == (
        Decimal("0.0000003") * 12_000 + Decimal("0.0000012") * 900 + Decimal("0.0001")
    )
    assert candidate.reason.endswith("that fits 12k tokens; $0.00478 est.") or (
        "fits 12k tokens" in candidate.reason and "$0.00478 est." in candidate.reason
    )


def test_free_model_reason_and_zero_cost() -> None:
    catalog = catalog_of(
        model_entry("meta-llama/llama-3.3-70b-instruct:free", prompt="0", completion="0"),
        model_entry(
            "meta-llama/llama-3.3-70b-instruct", prompt="0.0000001", completion="0.00000025"
        ),
    )
    decision = select(catalog, task_type="chat", complexity="low", cost_priority=1.0)
    assert decision.chosen is not None and decision.chosen.free
    assert decision.candidates[0].estimated_cost_usd == Decimal(0)
    assert "$0 est." in decision.candidates[0].reason


def test_expected_output_table_defaults() -> None:
    assert expected_output_tokens("creative", "high") == 2500
    assert expected_output_tokens("unknown-task", "weird") == 800


@pytest.mark.parametrize("task", ["coding", "analysis", "creative", "reasoning", "chat"])
def test_bundled_catalog_routes_every_task(task: str) -> None:
    decision = select(
        ModelCatalog.bundled(),
        task_type=task,
        complexity="medium",
        context_tokens=500,
        max_output_tokens=2_048,
    )
    assert decision.chosen is not None
    assert 1 <= len(decision.fallbacks) <= 3
    scores = [c.score for c in decision.candidates]
    assert all(0 <= s <= 1 for s in scores)
    assert all(c.reason for c in decision.candidates)


def test_a_weak_pinned_model_does_not_raise_the_quality_warning() -> None:
    decision = select(
        made_up_catalog(), pinned_model="zeta/pico-1", task_type="coding", complexity="high"
    )
    assert decision.chosen is not None and decision.chosen.id == "zeta/pico-1"
    assert decision.warnings == []
    assert decision.candidates[0].reason.startswith("pinned model")


def test_thinking_models_need_room_to_answer_under_max_tokens() -> None:
    catalog = ModelCatalog.bundled()
    selector = ModelSelector(catalog, HealthTracker())
    tight = selector.select(
        SelectionCriteria(task_type="reasoning", complexity="high", max_output_tokens=5)
    )
    excluded = dict(tight.excluded)
    assert "deepseek/deepseek-r1" in excluded and "openai/gpt-5" in excluded
    assert excluded["deepseek/deepseek-r1"] == (
        "thinks before answering: max_tokens 5 leaves no room for an answer (needs 1,024 or more)"
    )
    assert tight.chosen is not None and tight.chosen.id not in excluded
    assert tight.warnings[0].endswith("by max_tokens (they think first)")
    roomy = selector.select(
        SelectionCriteria(task_type="reasoning", complexity="high", max_output_tokens=8_000)
    )
    assert roomy.chosen is not None and roomy.chosen.id == "deepseek/deepseek-r1"


def test_simple_arithmetic_does_not_go_to_a_thinking_model() -> None:
    selector = ModelSelector(ModelCatalog.bundled(), HealthTracker())
    decision = selector.select(SelectionCriteria(task_type="reasoning", complexity="low"))
    assert decision.chosen is not None
    assert decision.chosen.id not in {"deepseek/deepseek-r1", "openai/gpt-5", "openai/gpt-5-mini"}
    few = selector.select(
        SelectionCriteria(
            task_type="reasoning", complexity="low", only_models=["deepseek-r1", "gpt-4o-mini"]
        )
    )
    assert [c.model.id for c in few.candidates] == ["openai/gpt-4o-mini", "deepseek/deepseek-r1"]
    assert few.candidates[1].reason.startswith("thinks before answering: slow and dear")


def test_the_budget_says_how_many_models_it_ruled_out_and_why() -> None:
    selector = ModelSelector(ModelCatalog.bundled(), HealthTracker())
    decision = selector.select(
        SelectionCriteria(
            task_type="coding",
            complexity="high",
            max_output_tokens=4_000,
            remaining_budget_usd=Decimal("0.01"),
        )
    )
    by_budget = [m for m, why in decision.excluded if why.startswith("worst case")]
    assert len(by_budget) >= 3 and "openai/gpt-5" in by_budget
    summary = decision.exclusion_summary
    assert summary == f"{len(by_budget)} of 19 models ruled out: {len(by_budget)} by the budget"
    assert decision.warnings[0] == summary
    left = 19 - len(by_budget)
    assert decision.candidates[0].reason.endswith(f"chosen among the {left} models left")


def test_an_escalation_counts_its_ruled_out_models_against_the_whole_pool() -> None:
    """QA: "7 of 12 models ruled out ... chosen among the 5 models left": the pool was
    counted after the stronger-than filter. 19 chat models, 7 not stronger, 12 left."""
    selector = ModelSelector(ModelCatalog.bundled(), HealthTracker(), RoutingSettings())
    decision = selector.select(
        SelectionCriteria(
            task_type="analysis",
            complexity="medium",
            stronger_than="meta-llama/llama-3.3-70b-instruct",
        )
    )
    weaker = [m for m, why in decision.excluded if why.startswith("not stronger than")]
    assert len(weaker) == 7 and decision.pool_size == 19
    assert decision.warnings[0] == (
        "7 of 19 models ruled out: 7 not stronger than the model that answered first"
    )
    assert decision.candidates[0].reason.endswith("chosen among the 12 models left")
    assert len(decision.candidates) == decision.models_left == 12


def test_a_budget_that_leaves_a_weak_model_says_it_is_below_the_bar() -> None:
    """QA: near a budget the one model left (free Llama) was "cheapest model with good coding
    quality" for a hard coding task, because the bar was recomputed among the survivors."""
    selector = ModelSelector(ModelCatalog.bundled(), HealthTracker())
    criteria = SelectionCriteria(task_type="coding", complexity="high", max_output_tokens=4_096)
    unlimited = selector.select(criteria)
    llama = next(c for c in unlimited.candidates if c.model.id.startswith("meta-llama/"))
    assert llama.reason.startswith("below the quality bar for high coding tasks")
    tight = selector.select(dataclasses.replace(criteria, remaining_budget_usd=Decimal("0.0001")))
    assert [c.model.id for c in tight.candidates] == ["meta-llama/llama-3.3-70b-instruct:free"]
    reason = tight.candidates[0].reason
    assert reason.startswith("below the quality bar for high coding tasks")
    assert reason.endswith("chosen as the only model left")
    assert "no model clears the quality bar for high coding tasks" in " ".join(tight.warnings)


def test_the_exclusion_summary_counts_each_kind_in_the_order_first_met() -> None:
    excluded = [
        ("a/one", "excluded in settings"),
        ("b/two", "context 8,192 < 9,000 tokens needed"),
        ("c/three", "in cooldown after repeated failures (40 s left)"),
        ("d/four", "context 8,192 < 9,000 tokens needed"),
        ("e/five", "worst case $0.02 > $0.01 left in the budget"),
        ("f/six", "in cooldown after repeated failures (12 s left)"),
    ]
    decision = RoutingDecision(candidates=[], fallbacks=[], excluded=excluded, pool_size=9)
    assert decision.exclusion_summary == (
        "6 of 9 models ruled out: 1 excluded in settings, 2 by the context size, "
        "2 in cooldown, 1 by the budget"
    )
    first = RoutingDecision([], [], excluded=excluded[1:3], pool_size=5)
    assert (
        first.exclusion_summary == "2 of 5 models ruled out: 1 by the context size, 1 in cooldown"
    )
    none = RoutingDecision([], [], excluded=[excluded[2], excluded[0]], pool_size=5)
    assert (
        none.exclusion_summary == "2 of 5 models ruled out: 1 in cooldown, 1 excluded in settings"
    )
    assert RoutingDecision([], []).exclusion_summary is None


def test_default_settings_spread_the_work_over_several_models() -> None:
    selector = ModelSelector(ModelCatalog.bundled(), HealthTracker())
    chosen = {
        (task, level): selector.select(SelectionCriteria(task_type=task, complexity=level)).chain[0]
        for task in ("chat", "coding", "analysis", "creative", "reasoning")
        for level in ("low", "medium", "high")
    }
    assert len(set(chosen.values())) >= 4
    assert chosen[("coding", "high")] in {"openai/gpt-5", "anthropic/claude-sonnet-4.5"}
    assert chosen[("chat", "low")] != chosen[("coding", "high")]


def test_an_excluded_family_excludes_every_model_of_it_and_its_free_variants() -> None:
    selector = ModelSelector(
        ModelCatalog.bundled(),
        HealthTracker(),
        RoutingSettings(excluded_models=["llama", "deepseek-v3.2"]),
    )
    decision = selector.select(SelectionCriteria(task_type="chat", complexity="low"))
    gone = {m for m, _ in decision.excluded}
    assert gone == {
        "meta-llama/llama-3.3-70b-instruct",
        "meta-llama/llama-3.3-70b-instruct:free",
        "deepseek/deepseek-v3.2-exp",
    }
    assert "deepseek/deepseek-r1" not in gone  # another DeepSeek model, not named
    assert not {c.model.id for c in decision.candidates} & gone
    assert decision.resolved_names[0] == (
        "llama -> meta-llama/llama-3.3-70b-instruct, meta-llama/llama-3.3-70b-instruct:free "
        "(family)"
    )


def test_only_a_free_variant_never_routes_to_the_paid_model() -> None:
    selector = ModelSelector(ModelCatalog.bundled(), HealthTracker())
    with pytest.raises(UnknownModelError, match=r"no :free variant of anthropic/claude-haiku-4\.5"):
        selector.select(SelectionCriteria(only_models=["anthropic/claude-haiku-4.5:free"]))
    free = selector.select(SelectionCriteria(only_models=["llama:free"]))
    assert [c.model.id for c in free.candidates] == ["meta-llama/llama-3.3-70b-instruct:free"]


def test_a_free_variant_backs_its_paid_twin_up_unless_cost_is_all_that_counts() -> None:
    selector = ModelSelector(ModelCatalog.bundled(), HealthTracker())
    balanced = selector.select(SelectionCriteria(task_type="chat", complexity="low"))
    assert balanced.chain[0] == "meta-llama/llama-3.3-70b-instruct"
    assert "meta-llama/llama-3.3-70b-instruct:free" in balanced.chain[1:]
    thrifty = selector.select(
        SelectionCriteria(task_type="chat", complexity="low", cost_priority=1.0)
    )
    assert thrifty.chain[0] == "meta-llama/llama-3.3-70b-instruct:free"


def _big_catalog(count: int, seed: int) -> ModelCatalog:
    """Known families and unknown ids, prices over four decades, windows from 8k to 1M,
    thinking models, free twins: enough variety for every ranking tier."""
    rnd = random.Random(seed)
    families = ("anthropic/claude-sonnet-4.5", "openai/gpt-5-mini", "deepseek/deepseek-r1")
    entries = []
    for i in range(count):
        model_id = f"{families[i % 3]}-v{i}" if i % 4 == 0 else f"vendor{i % 9}/model-{i}"
        completion = 10 ** rnd.uniform(-7.5, -4.2)
        params = ("max_tokens", "reasoning") if rnd.random() < 0.3 else ("max_tokens",)
        context = rnd.choice([8_192, 32_768, 131_072, 1_048_576])
        entries.append(
            model_entry(
                model_id,
                prompt=f"{completion / rnd.choice([2, 4, 8]):.12f}",
                completion=f"{completion:.12f}",
                context=context,
                params=params,
            )
        )
        if rnd.random() < 0.05:
            entries.append(model_entry(model_id + ":free", prompt="0", completion="0"))
    return catalog_of(*entries)


def test_ranking_only_the_contenders_gives_the_same_decisions_as_ranking_all(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The selector scores only the models that can still reach the top (`_best_rows`); the
    decisions must be those of scoring every model, whatever the request."""
    catalog = _big_catalog(300, seed=11)
    health = HealthTracker()
    for model in list(catalog)[::5]:
        for _ in range(selector_module.MIN_HEALTH_SAMPLES):
            health.record_success(model.id, latency_ms=1200.0, ttft_ms=300.0)
    rnd = random.Random(3)
    criteria = [
        SelectionCriteria(
            task_type=rnd.choice(["coding", "chat", "reasoning", "analysis", "creative"]),
            complexity=rnd.choice(["low", "medium", "high"]),
            cost_priority=rnd.choice([0.0, 0.3, 0.5, 0.95, 1.0]),
            performance_priority=rnd.choice([0.0, 0.5, 1.0]),
            context_tokens=rnd.choice([100, 5_000, 30_000, 200_000]),
            max_output_tokens=rnd.choice([None, 512, 4096]),
            preferred_models=rnd.choice([(), (next(iter(catalog)).id,)]),
        )
        for _ in range(150)
    ]
    pruned = [ModelSelector(catalog, health).select(c) for c in criteria]
    monkeypatch.setattr(selector_module, "_best_rows", lambda *args: None)
    complete = [ModelSelector(catalog, health).select(c) for c in criteria]
    for fast, full in zip(pruned, complete, strict=True):
        assert [(c.model.id, c.score, c.reason) for c in fast.candidates] == [
            (c.model.id, c.score, c.reason) for c in full.candidates
        ]
        assert fast.fallbacks == full.fallbacks and fast.warnings == full.warnings


def test_the_sorted_layout_filter_gives_the_same_decisions_as_checking_every_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A usual request is filtered by a bisect into the models sorted by room (`_view`);
    with several models in cooldown and contexts that rule many out, the decisions (ranks,
    reasons, exclusions and their reasons, in catalog order) are those of `_filter`."""
    catalog = _big_catalog(120, seed=5)
    now = [1000.0]
    health = HealthTracker(cooldown_failures=1, cooldown_s=60, clock=lambda: now[0])
    for model in list(catalog)[1::17]:
        health.record_failure(model.id, "provider")
    assert len(health.cooldowns()) >= 5
    rnd = random.Random(8)
    criteria = [
        SelectionCriteria(
            task_type=rnd.choice(["coding", "chat", "reasoning"]),
            complexity=rnd.choice(["low", "medium", "high"]),
            cost_priority=rnd.choice([0.0, 0.5, 1.0]),
            context_tokens=rnd.choice([100, 9_000, 40_000, 200_000]),
            max_output_tokens=rnd.choice([None, 2048, 8192]),
        )
        for _ in range(60)
    ]
    fast = [ModelSelector(catalog, health).select(c) for c in criteria]
    monkeypatch.setattr(ModelSelector, "_view", lambda *args: None)
    slow = [ModelSelector(catalog, health).select(c) for c in criteria]
    for got, want in zip(fast, slow, strict=True):
        assert got.excluded == want.excluded
        assert [(c.model.id, c.score, c.reason) for c in got.candidates] == [
            (c.model.id, c.score, c.reason) for c in want.candidates
        ]
        assert got.fallbacks == want.fallbacks and got.warnings == want.warnings
    assert any("in cooldown" in why for d in fast for _, why in d.excluded)
    assert any(why.startswith("context") for d in fast for _, why in d.excluded)


def test_score_tables_kept_up_to_date_with_health_give_a_fresh_selectors_decisions() -> None:
    """After each recorded request the selector updates only the changed models' part of its
    cached score tables; the decisions are those of a selector that builds them afresh."""
    catalog = _big_catalog(80, seed=2)
    health = HealthTracker()
    kept = ModelSelector(catalog, health)
    ids = [m.id for m in catalog]
    rnd = random.Random(4)
    criteria = [
        SelectionCriteria(task_type=task, complexity=level, cost_priority=cost)
        for task in ("coding", "chat")
        for level in ("low", "high")
        for cost in (0.2, 0.9)
    ]
    for step in range(40):
        model = rnd.choice(ids[:20])
        if rnd.random() < 0.8:
            health.record_success(model, latency_ms=rnd.uniform(200, 9000), ttft_ms=300.0)
        else:
            health.record_failure(model, "provider")
        for c in criteria[step % 3 :: 3]:
            got, want = kept.select(c), ModelSelector(catalog, health).select(c)
            assert [(x.model.id, x.score, x.reason) for x in got.candidates] == [
                (x.model.id, x.score, x.reason) for x in want.candidates
            ]
    assert health.changed_since(health.version) == set()
    assert health.changed_since(health.version - 1) == {model}
    assert health.changed_since(-5) is None  # older than what the tracker remembers
