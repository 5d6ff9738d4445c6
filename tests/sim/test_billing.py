"""Cost arithmetic from catalog prices (Decimal end to end) and exact JSON encoding."""

from __future__ import annotations

import json
from decimal import Decimal

from devflow_tui.data.snapshot import load_snapshot
from devflow_tui.sim.billing import bill, price
from devflow_tui.sim.encoding import decimal_text, dumps


def _model(model_id: str) -> dict[str, object]:
    return next(m for m in load_snapshot() if m["id"] == model_id)


def test_gpt5_nano_bill_matches_the_captured_usage_block() -> None:
    # The spec's real capture: 1090 prompt + 64 completion tokens cost 8.01e-05.
    charge = bill(_model("openai/gpt-5-nano"), 1090, 64, 64)
    assert charge.cost == Decimal("0.0000801")
    assert charge.prompt_cost == Decimal("0.0000545")
    assert charge.completion_cost == Decimal("0.0000256")
    usage = charge.usage()
    assert usage["total_tokens"] == 1154
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 64
    assert usage["cost_details"]["upstream_inference_cost"] == charge.cost


def test_internal_reasoning_price_applies_to_reasoning_tokens() -> None:
    model = {"pricing": {"prompt": "0.000001", "completion": "0.000002",
                         "internal_reasoning": "0.000005", "request": "0.01"}}  # fmt: skip
    charge = bill(model, 10, 30, 20)
    assert charge.completion_cost == 10 * Decimal("0.000002") + 20 * Decimal("0.000005")
    assert charge.request_cost == Decimal("0.01")
    assert charge.cost == Decimal("0.00001") + charge.completion_cost + Decimal("0.01")


def test_free_model_costs_exactly_zero_and_bad_prices_count_as_zero() -> None:
    assert bill(_model("meta-llama/llama-3.3-70b-instruct:free"), 5000, 900).cost == 0
    weird = {"pricing": {"prompt": "-1", "completion": "abc"}}
    assert price(weird, "prompt") is None
    assert price(weird, "completion") is None
    assert price({}, "prompt") is None
    assert bill(weird, 10, 10).cost == 0


def test_dumps_writes_decimals_as_exact_numbers() -> None:
    payload = {"cost": Decimal("0.00000008333333333333334"), "n": [Decimal("0E-8"), "x"]}
    text = dumps(payload)
    assert text == '{"cost":0.00000008333333333333334,"n":[0,"x"]}'
    assert json.loads(text, parse_float=Decimal)["cost"] == Decimal("0.00000008333333333333334")
    assert decimal_text(Decimal("1E+3")) == "1000"
    assert decimal_text(Decimal("-0.0")) == "0"
    assert dumps(("a", Decimal("1.50"))) == '["a",1.5]'
