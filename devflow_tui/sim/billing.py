"""Usage and cost of a simulated completion, computed from catalog prices with Decimal.

cost = prompt_tokens x prompt price
     + (completion_tokens - reasoning_tokens) x completion price
     + reasoning_tokens x internal_reasoning price (the completion price when absent)
     + the per-request price (when the catalog has one).
Free models have "0" prices, so their cost is exactly 0. A price that is missing, negative
or unparseable counts as 0 here: the simulator must always answer with a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


def price(model: dict[str, Any], key: str) -> Decimal | None:
    """The catalog price `key` of `model` as a Decimal (None when absent or invalid)."""
    raw = (model.get("pricing") or {}).get(key)
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


@dataclass(frozen=True)
class Bill:
    """Token counts and their cost split into prompt and completion parts."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    prompt_cost: Decimal
    completion_cost: Decimal
    request_cost: Decimal

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost(self) -> Decimal:
        return self.prompt_cost + self.completion_cost + self.request_cost

    def usage(self) -> dict[str, Any]:
        """The `usage` object of a response (money stays Decimal until encoding)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "cost": self.cost,
            "is_byok": False,
            "prompt_tokens_details": {
                "cached_tokens": 0,
                "cache_write_tokens": 0,
                "audio_tokens": 0,
                "video_tokens": 0,
            },
            "cost_details": {
                "upstream_inference_cost": self.cost,
                "upstream_inference_prompt_cost": self.prompt_cost,
                "upstream_inference_completions_cost": self.completion_cost,
            },
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "image_tokens": 0,
                "audio_tokens": 0,
            },
        }


def bill(
    model: dict[str, Any], prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0
) -> Bill:
    """The bill for one completion of `model` (reasoning tokens are part of completion)."""
    zero = Decimal(0)
    prompt_price = price(model, "prompt") or zero
    completion_price = price(model, "completion") or zero
    reasoning_price = price(model, "internal_reasoning")
    if reasoning_price is None:
        reasoning_price = completion_price
    visible = completion_tokens - reasoning_tokens
    return Bill(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        reasoning_tokens=reasoning_tokens,
        prompt_cost=prompt_tokens * prompt_price,
        completion_cost=visible * completion_price + reasoning_tokens * reasoning_price,
        request_cost=price(model, "request") or zero,
    )
