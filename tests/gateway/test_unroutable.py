"""The error for a request no model can take: each cause with its own fix."""

from __future__ import annotations

from devflow_tui.errors import ErrorCategory
from devflow_tui.gateway.unroutable import FIXES, unroutable_error
from devflow_tui.routing.selector import ExclusionGroup, RoutingDecision, exclusion_group


def decision(*excluded: tuple[str, str], pool: int = 0) -> RoutingDecision:
    return RoutingDecision(
        candidates=[], fallbacks=[], excluded=list(excluded), pool_size=pool or len(excluded)
    )


def test_each_cause_gets_its_own_fix_most_frequent_first() -> None:
    error = unroutable_error(
        decision(
            ("a/one", "context 8,192 < 9,000 tokens needed"),
            ("a/two", "context 8,192 < 9,000 tokens needed"),
            ("a/three", "excluded in settings"),
            ("a/four", "no tools support"),
            ("a/five", "in cooldown after repeated failures (30 s left)"),
        )
    )
    assert error.category is ErrorCategory.CONFIG
    text = str(error)
    assert text.startswith("No model can take this request: 5 of 5 models ruled out: ")
    assert "a/one: context 8,192 < 9,000 tokens needed; a/two" in text
    assert "; 2 more." in text  # three reasons quoted, the rest counted
    hint = error.hint or ""
    assert hint.startswith("Trim the prompt or the injected context")
    for fix in ("routing.excluded_models", "allow a model that supports it", "cooldown"):
        assert fix in hint
    assert "max-tokens to" not in hint


def test_every_kind_of_exclusion_has_a_fix_but_an_escalations() -> None:
    """The fixes are keyed on the selector's own groups: a kind of hard filter added there
    without a fix here fails, and so does a group reworded on one side only."""
    assert set(FIXES) == set(ExclusionGroup) - {ExclusionGroup.NOT_STRONGER}
    assert exclusion_group("not stronger than a/one") is ExclusionGroup.NOT_STRONGER
    hint = unroutable_error(decision(("a/one", "price unknown while a budget is set"))).hint
    assert hint == "Raise the budget or wait for its period to reset."


def test_a_restricting_setting_is_named_and_an_empty_pool_says_so() -> None:
    error = unroutable_error(decision(), "[routing.tasks.coding] models")
    assert "[routing.tasks.coding] models allows no model" in str(error)
    assert "the catalog is empty" in str(unroutable_error(decision()))
