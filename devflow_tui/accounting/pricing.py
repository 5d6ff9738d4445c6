"""Cost arithmetic in `Decimal`: what a request cost, could cost, and where that number came from.

Rules (OpenRouter prices are USD per token, see shared/openrouter-api.md section 4.4):

- `prompt_tokens` includes cached-read and cache-write tokens. Cached reads are charged at
  `input_cache_read` (falling back to `prompt` when the model has no cache price), cache writes at
  `input_cache_write` (same fallback), the rest of the prompt at `prompt`.
- `completion_tokens` already includes reasoning tokens on OpenRouter, so reasoning is never added
  on top. Only when a model prices reasoning separately (`internal_reasoning` present and above
  zero, and different from `completion`) are the reasoning tokens charged at that price and the
  remaining completion tokens at `completion`. A `"0"` is taken as "not priced separately",
  because OpenRouter emits zero for keys that do not apply.
- `request` is charged once per call.
- Without a `prompt` or `completion` price the cost is unknown: `None`, never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from devflow_tui.types import CostSource

if TYPE_CHECKING:  # annotations only: the dashboard imports this for money on screen
    from devflow_tui.openrouter.wire import Usage

Prices = Mapping[str, Decimal]
ZERO = Decimal(0)


def cost_of_tokens(
    prices: Prices,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
    calls: int = 1,
) -> Decimal | None:
    """Cost of token counts (summed over `calls` requests); linear, so it works on totals too."""
    prompt_price = prices.get("prompt")
    completion_price = prices.get("completion")
    if prompt_price is None or completion_price is None:
        return None
    cached = max(0, min(cached_tokens, prompt_tokens))
    writes = max(0, min(cache_write_tokens, prompt_tokens - cached))
    plain_prompt = prompt_tokens - cached - writes
    cost = plain_prompt * prompt_price
    cost += cached * prices.get("input_cache_read", prompt_price)
    cost += writes * prices.get("input_cache_write", prompt_price)
    reasoning_price = prices.get("internal_reasoning")
    if reasoning_price is not None and reasoning_price > 0 and reasoning_price != completion_price:
        reasoning = max(0, min(reasoning_tokens, completion_tokens))
        cost += reasoning * reasoning_price + (completion_tokens - reasoning) * completion_price
    else:
        cost += completion_tokens * completion_price
    cost += calls * prices.get("request", ZERO)
    return cost


def compute_cost(prices: Prices, usage: Usage) -> Decimal | None:
    """Cost of one response from catalog prices and its token counts; None when unpriced."""
    return cost_of_tokens(
        prices,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


def worst_case_cost(prices: Prices, prompt_tokens: int, max_output_tokens: int) -> Decimal | None:
    """Most a request can cost: whole prompt uncached, every output token at the dearest rate."""
    prompt_price = prices.get("prompt")
    completion_price = prices.get("completion")
    if prompt_price is None or completion_price is None:
        return None
    output_price = max(completion_price, prices.get("internal_reasoning", ZERO))
    return (
        prompt_tokens * prompt_price
        + max_output_tokens * output_price
        + prices.get("request", ZERO)
    )


def resolve_cost(usage: Usage | None, prices: Prices | None) -> tuple[Decimal | None, CostSource]:
    """The cost of a response and its source: reported by OpenRouter, estimated here, or unknown."""
    if usage is None:
        return None, "unknown"
    if usage.cost is not None:
        return Decimal(usage.cost), "reported"
    if prices is not None:
        estimated = compute_cost(prices, usage)
        if estimated is not None:
            return estimated, "estimated"
    return None, "unknown"
