"""Cost arithmetic: every price key, Decimal exactness, unknown prices, the three sources."""

from __future__ import annotations

from decimal import Decimal

import pytest

from devflow_tui.accounting.pricing import (
    compute_cost,
    cost_of_tokens,
    resolve_cost,
    worst_case_cost,
)
from devflow_tui.openrouter.wire import (
    CompletionTokensDetails,
    Pricing,
    PromptTokensDetails,
    Usage,
)

D = Decimal


def usage(
    prompt: int,
    completion: int,
    *,
    cached: int = 0,
    writes: int = 0,
    reasoning: int = 0,
    cost: str | None = None,
) -> Usage:
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=D(cost) if cost is not None else None,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=cached, cache_write_tokens=writes),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=reasoning),
    )


def test_documented_example_is_exact() -> None:
    # shared/openrouter-api.md: 1090 x 0.05e-6 + 64 x 0.40e-6 = 8.01e-05
    prices = {"prompt": D("0.00000005"), "completion": D("0.0000004")}
    assert compute_cost(prices, usage(1090, 64, reasoning=64)) == D("0.0000801")


def test_decimal_exactness_with_long_prices() -> None:
    # A real catalog price with 23 decimals; float arithmetic would not give this exactly.
    write = D("0.00000008333333333333334")
    prices = {"prompt": D("0.0000001"), "completion": D("0.0000004"), "input_cache_write": write}
    cost = compute_cost(prices, usage(3, 0, writes=3))
    assert cost == D("0.00000025000000000000002")
    assert isinstance(cost, Decimal)


def test_cached_reads_use_cache_price_and_fallback_to_prompt() -> None:
    prices = {
        "prompt": D("0.000003"),
        "completion": D("0.000015"),
        "input_cache_read": D("0.0000003"),
    }
    # 1000 prompt tokens of which 800 cached: 200 * 3e-6 + 800 * 3e-7 + 10 * 1.5e-5
    assert compute_cost(prices, usage(1000, 10, cached=800)) == D("0.00099")
    no_cache_price = {"prompt": D("0.000003"), "completion": D("0.000015")}
    assert compute_cost(no_cache_price, usage(1000, 10, cached=800)) == D("0.00315")


def test_cache_writes_are_charged_at_write_price() -> None:
    prices = {
        "prompt": D("0.000003"),
        "completion": D("0.000015"),
        "input_cache_read": D("0.0000003"),
        "input_cache_write": D("0.00000375"),
    }
    # 1000 prompt = 100 read + 500 written + 400 plain
    expected = 400 * D("0.000003") + 100 * D("0.0000003") + 500 * D("0.00000375")
    assert compute_cost(prices, usage(1000, 0, cached=100, writes=500)) == expected


def test_reasoning_is_not_double_counted() -> None:
    prices = {"prompt": D("0.000001"), "completion": D("0.000002")}
    # 300 completion tokens of which 200 reasoning: all 300 at the completion price, once.
    assert compute_cost(prices, usage(0, 300, reasoning=200)) == D("0.0006")


def test_reasoning_priced_separately_only_when_model_prices_it() -> None:
    separate = {
        "prompt": D("0.000001"),
        "completion": D("0.000002"),
        "internal_reasoning": D("0.000005"),
    }
    assert compute_cost(separate, usage(0, 300, reasoning=200)) == D("0.0012")  # 200*5e-6+100*2e-6
    zero = dict(separate, internal_reasoning=D("0"))  # "0" means "not priced separately"
    assert compute_cost(zero, usage(0, 300, reasoning=200)) == D("0.0006")


def test_request_price_is_charged_once_per_call() -> None:
    prices = {"prompt": D("0.000001"), "completion": D("0.000002"), "request": D("0.005")}
    assert compute_cost(prices, usage(1000, 500)) == D("0.007")
    assert cost_of_tokens(prices, prompt_tokens=2000, completion_tokens=1000, calls=2) == D("0.014")


@pytest.mark.parametrize("missing", ["prompt", "completion"])
def test_unknown_prompt_or_completion_price_is_unknown_not_zero(missing: str) -> None:
    prices = {"prompt": D("0.000001"), "completion": D("0.000002")}
    del prices[missing]
    assert compute_cost(prices, usage(10, 10)) is None
    assert worst_case_cost(prices, 10, 10) is None


def test_free_model_costs_zero_not_unknown() -> None:
    prices = {"prompt": D("0"), "completion": D("0")}
    assert compute_cost(prices, usage(1000, 1000)) == D("0")


def test_worst_case_uses_full_prompt_and_dearest_output_rate() -> None:
    prices = {
        "prompt": D("0.000001"),
        "completion": D("0.000002"),
        "internal_reasoning": D("0.000003"),
        "input_cache_read": D("0.0000001"),
        "request": D("0.001"),
    }
    assert worst_case_cost(prices, 1000, 100) == D("0.001") + D("0.0003") + D("0.001")
    plain = {"prompt": D("0.000001"), "completion": D("0.000002")}
    assert worst_case_cost(plain, 1000, 100) == D("0.0012")


def test_resolve_cost_sources() -> None:
    prices = {"prompt": D("0.000001"), "completion": D("0.000002")}
    assert resolve_cost(usage(10, 10, cost="0.5"), prices) == (D("0.5"), "reported")
    assert resolve_cost(usage(10, 10, cost="0"), prices) == (D("0"), "reported")
    assert resolve_cost(usage(1000, 1000), prices) == (D("0.003"), "estimated")
    assert resolve_cost(usage(1000, 1000), {"prompt": D("1")}) == (None, "unknown")
    assert resolve_cost(usage(1000, 1000), None) == (None, "unknown")
    assert resolve_cost(None, prices) == (None, "unknown")


def test_reported_cost_from_json_number_keeps_its_digits() -> None:
    parsed = Usage.model_validate_json(
        '{"prompt_tokens": 1, "completion_tokens": 1, "cost": 8.01e-05}'
    )
    cost, source = resolve_cost(parsed, None)
    assert source == "reported" and cost == D("0.0000801")


def test_known_prices_reads_every_key_and_skips_unknown() -> None:
    pricing = Pricing.model_validate(
        {
            "prompt": "0.000003",
            "completion": "0.000015",
            "request": "0",
            "image": "0.0048",
            "web_search": "0.01",
            "internal_reasoning": "0.00002",
            "input_cache_read": "0.0000003",
            "input_cache_write": "0.00000375",
            "input_cache_write_1h": "0.000006",
            "audio": "0.00001",
            "discount": 0,
            "bogus": "not-a-number",
        }
    )
    prices = pricing.known_prices()
    assert prices["prompt"] == D("0.000003") and prices["input_cache_write_1h"] == D("0.000006")
    assert prices["audio"] == D("0.00001") and prices["request"] == D("0")
    assert "bogus" not in prices and "discount" not in prices
    router = Pricing.model_validate({"prompt": "-1", "completion": "-1"}).known_prices()
    assert router == {}
