"""Expected quality of a model per task type: a small table of known families, and a prior.

Quality is a number in [0, 1] per task type ("how good is this model at coding?"). The router
must work on catalogs full of models it has never heard of, so every model first gets a prior
computed from catalog fields alone:

    prior = 0.30
          + 0.30 * price tier      (log scale of the completion price: $0.1/M -> 0, $60/M -> 1;
                                    price is the market's own quality signal)
          + 0.06 if the context window is >= 128k tokens
          + 0.08 if the model supports reasoning
          + up to 0.06 for recency (released within ~18 months of the newest model in the catalog)
    free (":free") models get -0.03: same weights, but shared and rate-limited upstream.

Capabilities then nudge the task profile (reasoning support helps reasoning tasks, tool use
helps coding). A known family, matched by a regular expression on the id, replaces the
prior's base with a curated number and adds its strengths (e.g. code-specialised families get
a coding bonus). The table is deliberately small and coarse: it refines, it does not decide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from devflow_tui.regex_cache import cached_compile
from devflow_tui.routing.catalog import CatalogModel
from devflow_tui.types import TASK_TYPES

_YEAR_S = 365 * 24 * 3600


@dataclass(frozen=True)
class Family:
    """A known model family: base quality and per-task adjustments."""

    name: str
    pattern: re.Pattern[str]
    base: float
    strengths: Mapping[str, float] = field(default_factory=dict)


def _family(name: str, pattern: str, base: float, **strengths: float) -> Family:
    return Family(name, cached_compile(pattern), base, strengths)


# Most specific first: the first match wins. Numbers are coarse tiers, not benchmarks.
FAMILIES: tuple[Family, ...] = (
    _family("claude-opus", r"claude-(?:\d[\d.]*-)?opus|opus-\d", 0.95, coding=0.03, creative=0.03),
    _family(
        "claude-sonnet", r"claude-(?:\d[\d.]*-)?sonnet|sonnet-\d", 0.90, coding=0.05, creative=0.03
    ),
    _family("claude-haiku", r"claude-(?:\d[\d.]*-)?haiku|haiku-\d", 0.72, coding=0.03),
    _family("gpt-5-nano", r"gpt-5(?:\.\d)?-nano", 0.60),
    _family("gpt-5-mini", r"gpt-5(?:\.\d)?-mini", 0.78, reasoning=0.04),
    _family("gpt-5", r"gpt-5", 0.93, reasoning=0.04, coding=0.02),
    _family("gpt-4.1-nano", r"gpt-4\.1-nano", 0.55),
    _family("gpt-4.1-mini", r"gpt-4\.1-mini", 0.70),
    _family("gpt-4.1", r"gpt-4\.1", 0.80, coding=0.03),
    _family("gpt-4o-mini", r"gpt-4o-mini", 0.62),
    _family("gpt-4o", r"gpt-4o", 0.78),
    _family("gpt-3.5", r"gpt-3\.5", 0.45),
    _family("o-series", r"/o\d(?:-mini|-pro)?\b", 0.86, reasoning=0.08, coding=0.02),
    _family("gemini-pro", r"gemini-[\d.]+-pro", 0.90, reasoning=0.03, analysis=0.03),
    _family("gemini-flash-lite", r"gemini-[\d.]+-flash-lite", 0.62),
    _family("gemini-flash", r"gemini-[\d.]+-flash", 0.76),
    _family("deepseek-r1", r"deepseek-r1", 0.80, reasoning=0.10),
    _family("deepseek-v3", r"deepseek-(?:v3|chat)", 0.80, coding=0.04),
    _family("codestral", r"codestral|devstral", 0.68, coding=0.14),
    _family("qwen-coder", r"qwen[\d.]*-coder", 0.74, coding=0.12),
    _family("grok-code", r"grok-code", 0.72, coding=0.12),
    _family("grok", r"grok-[34]", 0.86, reasoning=0.03),
    _family("kimi-k2", r"kimi-k2", 0.82, coding=0.05),
    _family("glm", r"glm-4\.[5-9]", 0.80, coding=0.04),
    _family("qwq", r"qwq|qwen3-.*thinking", 0.76, reasoning=0.08),
    _family("qwen3-large", r"qwen3-(?:235b|max)|qwen-max", 0.80),
    _family("llama-4", r"llama-4", 0.70),
    _family("llama-70b", r"llama-3\.[13]-70b", 0.64),
    _family("llama-small", r"llama-3\.[123]-(?:1b|3b|8b)", 0.42),
    _family("mistral-large", r"mistral-large", 0.74),
    _family("mistral-medium", r"mistral-medium", 0.70),
    _family("mistral-small", r"mistral-small|ministral|mistral-7b|mistral-nemo", 0.48),
    _family("creative-tunes", r"mythomax|hermes|euryale|lumimaid", 0.55, creative=0.10),
)

# Price tier anchors, USD per completion token.
_CHEAP = math.log10(0.1e-6)
_DEAR = math.log10(60e-6)


# Models that think before every answer (not just when asked): their hidden reasoning is paid
# as output tokens and needs room under max_tokens before the first visible word.
_THINKS_FIRST = re.compile(
    r"deepseek-r1|/o\d(?:-mini|-pro)?\b|qwq|thinking|gpt-5(?:\.\d)?(?:-mini|-nano|-pro)?$"
    r"|gemini-[\d.]+-pro|grok-code|grok-4|magistral"
)


def thinks_first(model: CatalogModel) -> bool:
    """True for a model that reasons before every answer (see `_THINKS_FIRST`)."""
    return "reasoning" in model.capabilities and bool(
        _THINKS_FIRST.search(model.id.lower().split(":")[0])
    )


@lru_cache(maxsize=4096)
def match_family(model_id: str) -> Family | None:
    """The known family of a model id, or None (kept per id: a selector asks twice per
    catalog model, for its quality and whether its family is known)."""
    lowered = model_id.lower()
    for family in FAMILIES:
        if family.pattern.search(lowered):
            return family
    return None


def price_tier(completion_price: Decimal | None) -> float:
    """0 for the cheapest tier, 1 for the dearest, 0.5 when the price is unknown."""
    if completion_price is None:
        return 0.5
    if completion_price <= 0:
        return 0.0
    value = (math.log10(float(completion_price)) - _CHEAP) / (_DEAR - _CHEAP)
    return min(1.0, max(0.0, value))


def prior_quality(model: CatalogModel, newest_created: int | None = None) -> float:
    """Base quality from catalog fields alone (see the module docstring)."""
    quality = 0.30 + 0.30 * price_tier(model.completion_price)
    if model.context_length >= 128_000:
        quality += 0.06
    if "reasoning" in model.capabilities:
        quality += 0.08
    if newest_created and model.created:
        age_years = max(0.0, (newest_created - model.created) / _YEAR_S)
        quality += 0.06 * max(0.0, 1.0 - age_years / 1.5)
    if model.free:
        quality -= 0.03
    return min(1.0, max(0.05, quality))


def quality_profile(model: CatalogModel, newest_created: int | None = None) -> dict[str, float]:
    """Expected quality per task type for `model`, each in [0, 1]."""
    family = match_family(model.id)
    base = family.base if family else prior_quality(model, newest_created)
    if family and model.free:
        base -= 0.03
    profile: dict[str, float] = {}
    for task in TASK_TYPES:
        value = base
        if family:
            value += family.strengths.get(task, 0.0)
        else:
            if task == "reasoning" and "reasoning" in model.capabilities:
                value += 0.05
            if task == "coding" and ("tools" in model.capabilities or "coder" in model.id):
                value += 0.03 + (0.07 if "coder" in model.id.lower() else 0.0)
        profile[task] = min(1.0, max(0.0, value))
    return profile
