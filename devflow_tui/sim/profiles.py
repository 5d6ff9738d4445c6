"""Latency and provider profiles of simulated models.

Each model gets a time to first token, a streaming speed and the upstream provider name the
server reports. Known ids have hand-picked values in the spirit of public throughput tables
(small models answer faster); other ids get values derived from their completion price, so a
catalog override still behaves plausibly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass
class ModelProfile:
    """How one simulated model behaves: latency, speed, who serves it, whether it reasons."""

    ttft_ms: float
    tokens_per_s: float
    provider: str | None = None  # None: derived from the model id's author
    reasoning: bool | None = None  # None: derived from the model id


# ttft_ms, tokens_per_s, reasoning
_KNOWN: dict[str, tuple[float, float, bool]] = {
    "openai/gpt-5": (3500, 70, True),
    "openai/gpt-5-mini": (2000, 90, True),
    "openai/gpt-5-nano": (1200, 140, True),
    "openai/gpt-4o-mini": (450, 85, False),
    "openai/gpt-3.5-turbo": (350, 110, False),
    "anthropic/claude-sonnet-4.5": (1500, 60, False),
    "anthropic/claude-haiku-4.5": (600, 120, False),
    "anthropic/claude-opus-4.1": (2200, 35, False),
    "google/gemini-2.5-pro": (3000, 85, True),
    "google/gemini-2.5-flash": (700, 170, False),
    "google/gemini-2.5-flash-lite-preview-09-2025": (350, 220, False),
    "deepseek/deepseek-v3.2-exp": (1300, 30, False),
    "deepseek/deepseek-r1": (2500, 40, True),
    "meta-llama/llama-3.3-70b-instruct": (500, 90, False),
    "meta-llama/llama-3.3-70b-instruct:free": (1200, 40, False),
    "mistralai/codestral-2508": (350, 150, False),
    "mistralai/mistral-7b-instruct": (250, 180, False),
    "qwen/qwen3-coder": (900, 70, False),
    "x-ai/grok-code-fast-1": (700, 160, True),
}

_PROVIDERS: dict[str, str] = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "google": "Google AI Studio",
    "deepseek": "DeepSeek",
    "meta-llama": "DeepInfra",
    "mistralai": "Mistral",
    "qwen": "Alibaba",
    "x-ai": "xAI",
}


def provider_for(model_id: str) -> str:
    """The upstream provider name reported for a model id (free variants run on Venice)."""
    if model_id.endswith(":free"):
        return "Venice"
    author = model_id.split("/", 1)[0]
    return _PROVIDERS.get(author, "Simulated")


def _is_reasoning_id(model_id: str) -> bool:
    base = model_id.split("/", 1)[-1]
    return "-r1" in base or base.startswith("r1") or ":thinking" in model_id


def _completion_price_per_million(model: dict[str, Any]) -> Decimal:
    pricing = model.get("pricing") or {}
    try:
        price = Decimal(str(pricing.get("completion", "0")))
    except InvalidOperation:
        return Decimal(0)
    return max(price, Decimal(0)) * 1_000_000


def default_profile(model_id: str, model: dict[str, Any] | None = None) -> ModelProfile:
    """The built-in profile of `model_id`; unknown ids are derived from their price."""
    base_id = model_id
    known = _KNOWN.get(model_id)
    if known is None and ":" in model_id:
        base_id = model_id.split(":", 1)[0]
        known = _KNOWN.get(base_id)
    if known is not None:
        ttft, tps, reasoning = known
        return ModelProfile(ttft, tps, provider_for(model_id), reasoning)
    # Pricier models are bigger, hence slower to start and to stream.
    per_million = float(_completion_price_per_million(model or {}))
    ttft = min(300.0 + 100.0 * per_million, 4000.0)
    tps = max(25.0, 200.0 - 10.0 * per_million)
    return ModelProfile(ttft, tps, provider_for(model_id), _is_reasoning_id(model_id))


def resolve_profile(
    model_id: str, model: dict[str, Any] | None, overrides: dict[str, ModelProfile]
) -> ModelProfile:
    """The profile for `model_id`: an override (with missing parts filled in) or the default."""
    default = default_profile(model_id, model)
    override = overrides.get(model_id)
    if override is None:
        return default
    return ModelProfile(
        ttft_ms=override.ttft_ms,
        tokens_per_s=override.tokens_per_s,
        provider=override.provider or default.provider,
        reasoning=default.reasoning if override.reasoning is None else override.reasoning,
    )
