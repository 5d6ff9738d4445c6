"""Model selection: hard filters, then a transparent score, then a ranked list with reasons.

Hard filters, in order (the first that fails is the reason shown in `excluded`):
1. the model is in the excluded list (settings or criteria);
2. it lacks a required capability ("tools", "vision", ...);
3. the context does not fit: `context_tokens` + output tokens must be <= its window, where the
   output is `max_output_tokens` (clamped to the model's own maximum) or, when not given, the
   expected output below;
4. it is in cooldown (circuit breaker open, see health.py);
5. its worst-case cost exceeds the remaining budget. Worst case = prompt price x
   `context_tokens` + completion price x output bound + request price, where the output bound
   is `max_output_tokens` (clamped to the model's maximum), else the model's maximum
   completion tokens, else what is left of its window. With a budget set, a model whose price
   is unknown is excluded too (its worst case is unknowable).

The pool is every chat model, or the preferred models (criteria, else the task's `models` in
settings) when any of them exists in the catalog; when none does, the pool falls back to every
chat model with a warning.

Score (0..1) = weighted mean of
- quality: the family table / prior for this task type (families.py);
- price: the estimated cost of this request on a log scale, 1 for the cheapest survivor and
  0 for 1000x dearer. Every cost gets half the cheapest paid cost added (so "free" is a small
  advantage, not an infinite one) plus $0.002 x (1 - cost_priority) (so at balanced
  priorities saving a fraction of a cent does not outweigh a clearly better model);
- performance: 0.7 x smoothed success rate (prior 95 %, worth 4 samples) + 0.3 x speed, where
  speed comes from p50 latency and p50 time to first token (no data = neutral 0.5); with
  fewer than 5 attempts recorded the model counts as having no data, and from then on the
  measured figure counts n / (n + 10), the rest is the no-data prior.
Weights: quality = complexity factor (low 0.35, medium 1.2, high 1.8) x (0.4 + 1.2 x
performance_priority); price = 0.2 + 1.6 x cost_priority; performance = 0.3 + 0.5 x
performance_priority. Models below the quality bar for the complexity (low 0.35, medium 0.5,
high 0.68) rank after every model that clears it, so "cheapest" always means cheapest capable.

A pinned model (criteria, else settings) goes first whenever it passes the hard filters. If it
does not, routing continues normally with a warning rather than an error: the user gets an
answer, and the warning says why the pin was not honoured. (A pinned name that matches nothing
in the catalog is an error, like every model name: names.py.)

Expected output tokens (for the estimated cost), by task type and complexity:

    task       low   medium  high
    chat       150    300     600
    coding     400    900    2000
    analysis   350    800    1600
    creative   300    900    2500
    reasoning  300   1000    2500

All per-model numbers are precomputed once per catalog (a selector belongs to one immutable
catalog), in columns by catalog position; the part of the score that does not depend on the
request's size (weighted quality and performance, the preferred bonus) is cached per task,
complexity, priorities and health data. For the usual request (no exclusions, capabilities,
budget or thinking-room limit) the chat models not in cooldown are kept sorted by the room
their window leaves for the prompt, per output size and set of models in cooldown
(`_Layout`): the context filter is a bisect and the survivors' cost columns are slices. A
decision prices the survivors in one pass (float arithmetic), then scores only the models
that can still reach the top `MAX_CANDIDATES` (`_best_rows`, walking them by their static
part and by cost at once: the shown candidates are those of the full ranking), and works out
Decimal costs and the reason of a candidate only when they are read (`Candidate`). Figures:
`benchmarks/routing.py` and the README.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import itertools
import math
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from operator import and_, itemgetter, not_
from typing import TypeVar, cast

from devflow_tui.config import RoutingSettings
from devflow_tui.routing.catalog import CatalogModel, ModelCatalog
from devflow_tui.routing.families import match_family, quality_profile, thinks_first
from devflow_tui.routing.health import HealthTracker, ModelHealth
from devflow_tui.routing.names import ModelNames, Resolution
from devflow_tui.usd import short_usd

EXPECTED_OUTPUT_TOKENS: dict[str, dict[str, int]] = {
    "chat": {"low": 150, "medium": 300, "high": 600},
    "coding": {"low": 400, "medium": 900, "high": 2000},
    "analysis": {"low": 350, "medium": 800, "high": 1600},
    "creative": {"low": 300, "medium": 900, "high": 2500},
    "reasoning": {"low": 300, "medium": 1000, "high": 2500},
}
QUALITY_BAR = {"low": 0.5, "medium": 0.6, "high": 0.88}
THINKING_ROOM = 1024  # output tokens a thinking model needs before it can answer at all
PREFERRED_BONUS = 0.08  # added to the 0..1 score of a preferred model
FREE_LEADS_AT = 0.9  # cost priority from which a ":free" model may lead on price
_COMPLEXITY_WEIGHT = {"low": 0.35, "medium": 1.2, "high": 1.8}
_INDIFFERENCE_USD = 0.002
# A low-complexity request is one where any capable model will do: price differences count more.
_INDIFFERENCE_SHARE = {"low": 0.1, "medium": 0.5, "high": 1.0}
_QUALITY_CEILING = {"low": 0.65, "medium": 0.84}
_BAR_MARGIN = {"low": 0.4, "high": 0.06}  # a bar is at most this far below the best model
_PRIOR_SUCCESS = 0.95
_PRIOR_WEIGHT = 4.0
_DEFAULT_PERF = 0.7 * _PRIOR_SUCCESS + 0.3 * 0.5  # `_perf` of a model with no data
MIN_HEALTH_SAMPLES = 5  # attempts before the health data counts at all (`_perf`)
_HEALTH_WEIGHT = 10.0  # then it counts n / (n + this): half at 10 attempts
_LATENCY_REF_MS = 5000.0
_TTFT_REF_MS = 1500.0
MAX_FALLBACKS = 3
MAX_CANDIDATES = 12
_T = TypeVar("_T")
_STATIC_TABLES = 64  # per-selector cache of request-independent score tables (`_static_scores`)


@dataclass(frozen=True)
class SelectionCriteria:
    """What the request needs and what the user cares about."""

    task_type: str = "chat"
    complexity: str = "medium"
    cost_priority: float = 0.5
    performance_priority: float = 0.5
    context_tokens: int = 0  # prompt + history + injected context
    max_output_tokens: int | None = None
    required_capabilities: Collection[str] = frozenset()
    remaining_budget_usd: Decimal | None = None
    preferred_models: Sequence[str] = ()  # names; each raises its model's score
    pinned_model: str | None = None
    excluded_models: Sequence[str] = ()
    only_models: Sequence[str] = ()  # names; when given, the pool is these models only
    stronger_than: str | None = None  # escalation: only models better than this one for the task


_Details = tuple[Decimal | None, Decimal | None, str]  # estimated cost, worst case, reason


class Candidate:
    """One model that passed the hard filters, with its score and why.

    The selector returns a dozen candidates but a request reads only the first one's reason
    and costs: the Decimal costs and the reason of each are worked out when first read
    (`explain`, kept once computed), so a decision does not format text nobody shows. Built
    with the values themselves (`reason=...`), a candidate is an ordinary value."""

    __slots__ = ("_details", "_explain", "model", "quality", "score")

    def __init__(
        self,
        model: CatalogModel,
        score: float,
        estimated_cost_usd: Decimal | None = None,
        worst_case_cost_usd: Decimal | None = None,
        quality: float = 0.0,
        reason: str = "",
        *,
        explain: Callable[[], _Details] | None = None,
    ) -> None:
        self.model = model
        self.score = score
        self.quality = quality
        self._explain = explain
        self._details: _Details | None = (
            None if explain is not None else (estimated_cost_usd, worst_case_cost_usd, reason)
        )

    def _get(self) -> _Details:
        details = self._details
        if details is None:
            assert self._explain is not None
            details = self._details = self._explain()
            self._explain = None
        return details

    @property
    def estimated_cost_usd(self) -> Decimal | None:
        """The cost of this request on this model, with the expected output size."""
        return self._get()[0]

    @property
    def worst_case_cost_usd(self) -> Decimal | None:
        """The most this request can cost on this model (the budget filter's figure)."""
        return self._get()[1]

    @property
    def reason(self) -> str:
        """Why the model has this rank, in words."""
        return self._get()[2]

    def reworded(self, change: Callable[[str], str]) -> Candidate:
        """The same candidate with its reason changed by `change` (still worked out lazily)."""

        def explain() -> _Details:
            estimate, worst, reason = self._get()
            return estimate, worst, change(reason)

        return Candidate(self.model, self.score, quality=self.quality, explain=explain)

    def _key(self) -> tuple[object, ...]:
        return (self.model, self.score, self.quality, *self._get())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Candidate) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # equal by value, like the mutable values

    def __repr__(self) -> str:
        estimate, worst, reason = self._get()
        return (
            f"Candidate(model={self.model.id!r}, score={self.score!r}, "
            f"estimated_cost_usd={estimate!r}, worst_case_cost_usd={worst!r}, "
            f"quality={self.quality!r}, reason={reason!r})"
        )


@dataclass(frozen=True)
class RoutingDecision:
    """The ranked candidates, the fallback chain, and what was left out and why."""

    candidates: list[Candidate]
    fallbacks: list[str]
    excluded: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    expected_output_tokens: int = 0
    pool_size: int = 0  # models considered before the hard filters
    resolved_names: list[str] = field(default_factory=list)  # "gpt-4 -> openai/gpt-5 (family)"
    only: list[str] = field(default_factory=list)  # the ids the pool was restricted to, if any

    @property
    def exclusion_summary(self) -> str | None:
        """ "5 of 19 models ruled out: 3 by the budget, 2 by the context size", None if none."""
        if not self.excluded:
            return None
        whys = list(map(itemgetter(1), self.excluded))
        # The context exclusions (most of them) are counted in C; the groups are in the order
        # of their first exclusion.
        context = list(map(str.startswith, whys, itertools.repeat("context")))
        size = context.count(True)
        first = context.index(True) if size else len(whys)
        counts: dict[ExclusionGroup, int] = {}
        for why in whys[:first]:
            group = exclusion_group(why)
            counts[group] = counts.get(group, 0) + 1
        if size:
            counts[exclusion_group(whys[first])] = size
            for why in itertools.compress(whys[first:], map(not_, context[first:])):
                group = exclusion_group(why)
                counts[group] = counts.get(group, 0) + 1
        parts = ", ".join(f"{n} {group}" for group, n in counts.items())
        return f"{len(self.excluded)} of {self.pool_size} models ruled out: {parts}"

    @property
    def nothing_stronger(self) -> bool:
        """An escalation with nowhere to go: every model considered was ruled out as not
        stronger than the one that answered (not a failure: nothing is sent)."""
        weaker = sum(why.startswith(_NOT_STRONGER) for _, why in self.excluded)
        return not self.candidates and weaker > 0 and weaker == self.pool_size

    @property
    def models_left(self) -> int:
        """How many of the models considered passed the hard filters."""
        return self.pool_size - len(self.excluded)

    @property
    def chosen(self) -> CatalogModel | None:
        """The winning model, None when nothing passed the filters."""
        return self.candidates[0].model if self.candidates else None

    @property
    def chain(self) -> list[str]:
        """The winner followed by its fallbacks, in the order to try them."""
        return ([self.candidates[0].model.id] if self.candidates else []) + self.fallbacks


@dataclass(slots=True)
class _Entry:
    """Per-model numbers precomputed once per catalog."""

    model: CatalogModel
    prompt: float | None
    completion: float | None
    request: float
    quality: dict[str, float]
    known_family: bool
    max_completion: int | None
    thinks: bool
    slot: int = 0  # position in the selector's catalog-wide tables
    context_length: int = 0
    id: str = ""
    free: bool = False
    twin: str | None = None  # a ":free" model's paid twin in the catalog
    has_free_twin: bool = False


@dataclass(slots=True)
class _Scored:
    entry: _Entry
    cost: float | None
    score: float
    quality: float
    capable: bool
    success: float | None
    latency: float | None
    preferred: bool


@dataclass(frozen=True, slots=True)
class _Summary:
    cheapest: float  # lowest estimated cost among capable survivors
    best_quality: float


@dataclass(slots=True)
class _Ranking:
    """Every survivor's sort row `(key, id, index)`; `_Scored` is built only for the ones shown."""

    rows: list[tuple[float, str, int]]
    survivors: list[_Entry]
    costs: list[float | None]
    task: str
    measured: dict[str, ModelHealth]
    summary: _Summary
    preferred: frozenset[str] = frozenset()

    def scored(self, row: tuple[float, str, int]) -> _Scored:
        key, model_id, index = row
        entry = self.survivors[index]
        capable = key <= -2.0
        health = self.measured.get(model_id)
        if health is not None and health.samples < MIN_HEALTH_SAMPLES:
            health = None  # not counted in the score (`_perf`): not shown as a reason either
        return _Scored(
            entry=entry,
            cost=self.costs[index],
            score=-key - (2.0 if capable else 0.0),
            quality=entry.quality[self.task],
            capable=capable,
            success=health.success_rate if health is not None else None,
            latency=health.latency_p50 if health is not None else None,
            preferred=model_id in self.preferred,
        )


def _base_column(price_rows: list[tuple[float | None, int | None, float]], out: int) -> list[float]:
    """Completion price x output bound + request price for each `(completion price, maximum
    completion tokens, request price)`, for an expected output size `out`: the part of a
    model's cost that does not grow with the prompt."""
    return [
        (completion or 0.0) * (out if not limit or out < limit else limit) + request
        for completion, limit, request in price_rows
    ]


def _perf(health: ModelHealth) -> float:
    """Measured performance in 0..1: smoothed success rate and p50 latency, shrunk toward
    the prior (`_DEFAULT_PERF`) by the number of samples: none below `MIN_HEALTH_SAMPLES`,
    then n / (n + `_HEALTH_WEIGHT`) of the measured figure. One quick answer must not move a
    model above the one the prior chose: near-ties between cheap models are thousandths."""
    samples = health.samples
    if samples < MIN_HEALTH_SAMPLES:
        return _DEFAULT_PERF
    measured = _measured_perf(health)
    return _DEFAULT_PERF + (measured - _DEFAULT_PERF) * samples / (samples + _HEALTH_WEIGHT)


def _measured_perf(health: ModelHealth) -> float:
    if health.samples:
        rate = health.success_rate or 0.0
        success = (rate * health.samples + _PRIOR_SUCCESS * _PRIOR_WEIGHT) / (
            health.samples + _PRIOR_WEIGHT
        )
    else:
        success = _PRIOR_SUCCESS
    latency, ttft = health.latency_p50, health.ttft_p50
    speed = 0.5 if latency is None else min(1.0, 1.0 / (1.0 + latency / _LATENCY_REF_MS) + 0.1)
    if ttft is not None:
        # Time to first token is what a streaming user feels; weigh it like the total.
        speed = 0.5 * speed + 0.5 * min(1.0, 1.0 / (1.0 + ttft / _TTFT_REF_MS) + 0.1)
    return 0.7 * success + 0.3 * speed


class ExclusionGroup(StrEnum):
    """The kinds of hard filter, as the decision's summary words them ("3 by the budget");
    `exclusion_group` sorts an exclusion reason into one. Callers key on these members
    (gateway/unroutable.py's fixes), never on the words."""

    CONTEXT = "by the context size"
    BUDGET = "by the budget"
    THINKING = "by max_tokens (they think first)"
    CAPABILITY = "lacking a required capability"
    COOLDOWN = "in cooldown"
    NOT_STRONGER = "not stronger than the model that answered first"
    SETTINGS = "excluded in settings"


# The start of an escalation's exclusion reason: "not stronger than openai/gpt-5-mini".
_NOT_STRONGER = "not stronger than"


def exclusion_group(why: str) -> ExclusionGroup:
    """The kind of hard filter behind an exclusion reason, for the decision's summary."""
    if why.startswith("context"):  # the most frequent first
        return ExclusionGroup.CONTEXT
    if why.startswith(("worst case", "price unknown while a budget")):
        return ExclusionGroup.BUDGET
    if why.startswith("thinks before answering"):
        return ExclusionGroup.THINKING
    if why.startswith("no ") and why.endswith(" support"):
        return ExclusionGroup.CAPABILITY
    if why.startswith("in cooldown"):
        return ExclusionGroup.COOLDOWN
    if why.startswith(_NOT_STRONGER):
        return ExclusionGroup.NOT_STRONGER
    return ExclusionGroup.SETTINGS


def expected_output_tokens(task_type: str, complexity: str) -> int:
    """How many tokens an answer of this kind usually takes (see the module table)."""
    row = EXPECTED_OUTPUT_TOKENS.get(task_type, EXPECTED_OUTPUT_TOKENS["analysis"])
    return row.get(complexity, row["medium"])


def _tokens(count: int) -> str:
    return f"{count / 1000:.0f}k" if count >= 10_000 else f"{count:,}"


@dataclass(slots=True)
class _Scan:
    """What one pass over the survivors finds (`ModelSelector._scan`)."""

    costs: list[float | None]
    capable: list[bool]
    where: list[int]  # slot -> index in the survivors + `offset` (negative: not a survivor)
    offset: int
    twin_costs: dict[str, float]  # paid models with a ":free" variant, by id
    cheapest_paid: float
    lowest: float
    cheapest_capable: float
    best: float  # best quality among the capable (among all when none is)
    widest: int
    unpriced: bool = False  # some cost is None (unknown price)


@dataclass(slots=True)
class _Layout:
    """The chat models not in cooldown ordered by the room a prompt has in their window once
    the output is reserved (window - output bound), for one output bound, one expected output
    size and one set of models in cooldown. The models a context of `ctx` tokens fits are
    then a suffix (`bisect`), and the columns the cost needs are in the same order: a usual
    decision slices lists instead of checking and looking up every model
    (`ModelSelector._layout`). The layouts of one output bound and cooldown set share the
    order, its columns and their caches; only the cost's columns are their own."""

    entries: list[_Entry]
    rooms: list[int]
    slots: list[int]
    windows: list[int]
    prompt: list[float]
    price_rows: list[tuple[float | None, int | None, float]]  # see `_base_column`
    base: list[float]  # completion price x the output bound, plus the request price
    bounds: list[int]  # the output bound the context filter reserves, per model
    too_small: list[str]  # "context 8,192 < ": the start of a context exclusion's reason
    where: list[int]  # slot -> index in `entries`, -1 for a model not in the layout
    quality: dict[str, list[float]]  # per task
    answers_first: list[bool]  # per model: it does not think before answering
    unprompted: list[int]  # indexes of the models with no prompt price
    prompt_signed: bool  # some prompt price is negative
    zero: list[int]  # indexes of the models whose cost is 0 whatever the request
    signed: bool  # some price is negative: `zero` does not find every cost <= 0
    last_unpriced: int  # index of the last model with an unknown price, -1 for none
    # The extremes of the models from a start index on, worked out for the start indexes
    # that requests have (a few): the first request of a kind waits for what it needs only.
    # Per start index: the widest window (`ModelSelector._widest`).
    widest_from: dict[int, int] = field(default_factory=dict)
    # Per (task, bar, is_low): whether each model clears the bar, and per start index the
    # best quality among those that do (-inf for none): `ModelSelector._layout_capable`.
    capable: dict[tuple[str, float, bool], tuple[list[bool], dict[int, float]]] = field(
        default_factory=dict
    )
    # Per (task, start index): the best quality (`ModelSelector._layout_best`).
    best_from: dict[tuple[str, int], float] = field(default_factory=dict)
    # Per start index: the models before it (the context exclusions) in catalog order, as
    # their ids, the start of their reasons, their output bounds and their slots
    # (`ModelSelector._view`).
    too_small_from: dict[int, tuple[list[str], list[str], list[int], list[int]]] = field(
        default_factory=dict
    )


@dataclass(frozen=True, slots=True)
class _View:
    """The survivors of a usual request: `layout.entries[start:]`, and every layout column
    the same way."""

    layout: _Layout
    start: int

    def column(self, values: list[_T]) -> list[_T]:
        """`values` (a layout column) restricted to the survivors, in their order."""
        return values[self.start :]


def _scan_loop(
    survivors: list[_Entry],
    task: str,
    bar: float,
    is_low: bool,
    ctx: int,
    expected_out: int,
    slots_total: int,
) -> _Scan:
    """`ModelSelector._scan` for pools with unknown prices."""
    costs: list[float | None] = []
    capable: list[bool] = []
    where = [-1] * slots_total
    twin_costs: dict[str, float] = {}
    cheapest_paid = lowest = cheapest_capable = math.inf
    best = 0.0
    widest = 0
    for index, entry in enumerate(survivors):
        where[entry.slot] = index
        widest = max(widest, entry.context_length)
        quality = entry.quality[task]
        able = quality >= bar and not (is_low and entry.thinks)
        capable.append(able)
        if able and quality > best:
            best = quality
        prompt, completion = entry.prompt, entry.completion
        if prompt is None or completion is None:
            costs.append(None)
            continue
        limit = entry.max_completion
        out = expected_out if not limit or expected_out < limit else limit
        value = prompt * ctx + (completion * out + entry.request)
        costs.append(value)
        if entry.has_free_twin:
            twin_costs[entry.id] = value
        if 0 < value < cheapest_paid:
            cheapest_paid = value
        lowest = min(lowest, value)
        if able and value < cheapest_capable:
            cheapest_capable = value
    if not any(capable):
        cheapest_capable = lowest
        best = max(e.quality[task] for e in survivors)
    return _Scan(
        costs,
        capable,
        where,
        0,
        twin_costs,
        cheapest_paid,
        lowest,
        cheapest_capable,
        best,
        widest,
        unpriced=None in costs,
    )


def _best_rows(
    survivors: list[_Entry],
    capable: list[bool],
    where: list[int],
    offset: int,
    static: list[float],
    order: list[int],
    w_price: float,
    widest: int,
    row: Callable[[int], tuple[float, str, int]],
    costs: Sequence[float],
    price_score: Callable[[float], float],
) -> list[tuple[float, str, int]] | None:
    """The best `MAX_CANDIDATES` rows without scoring every survivor, or None when the full
    ranking is needed. A model's score is its request-independent part plus the price weight
    times a price score that falls as its cost rises. So the models are walked two ways at
    once, best first by that part (`order`) and cheapest first by cost, scoring each model
    met: a model not met yet has at most the part of the last one met the first way and at
    least the cost of the last one met the second way, and the walk stops once that bound is
    below the `MAX_CANDIDATES`-th score (Fagin's threshold algorithm). Both walks start at
    once: when price decides (a low-complexity request, where any capable model is as good)
    the cheap models fill the top early, and otherwise the bound tightens sooner (on the
    benchmark's decisions 28 models scored on average, against 36 when the cost walk waited
    for `MAX_CANDIDATES` models of the first).
    Every model that scores at least the last row kept is scored, so the rows are the
    complete ranking's first ones; the fallback chain's larger-window model must be among
    them too, or this gives up. `costs` is each survivor's cost (inf when unknown)."""
    if len(survivors) <= 2 * MAX_CANDIDATES:
        return None  # a small pool: scoring all of it is as cheap
    top: list[float] = []  # a min-heap of the best MAX_CANDIDATES scores so far
    rows: list[tuple[float, str, int]] = []
    seen: set[int] = set()

    def take(index: int) -> None:
        seen.add(index)
        found = row(index)
        rows.append(found)
        if len(top) < MAX_CANDIDATES:
            heapq.heappush(top, -found[0])
        elif -found[0] > top[0]:
            heapq.heapreplace(top, -found[0])

    for tier, bonus in ((True, 2.0), (False, 0.0)):
        by_cost: Iterator[int] | None = None
        for slot in order:
            index = where[slot] - offset
            if index < 0 or capable[index] is not tier:
                continue
            part = static[slot]
            if len(top) == MAX_CANDIDATES and part + w_price + bonus < top[0]:
                break  # `order` is by the static part: no model after this one can reach it
            if index not in seen:
                take(index)
            if by_cost is None:
                mask = capable if tier else [not able for able in capable]
                ranked = itertools.compress(range(len(survivors)), mask)
                by_cost = iter(sorted(ranked, key=costs.__getitem__))
            cheap = next(by_cost, None)
            if cheap is None:
                break  # both walks are through: every model of this tier is scored
            if cheap not in seen:
                take(cheap)
            bound = part + w_price * price_score(costs[cheap]) + bonus
            if len(top) == MAX_CANDIDATES and bound < top[0]:
                break  # dearer than the last cheap one and no better than the last good one
        if len(top) == MAX_CANDIDATES:
            break  # every capable model outscores every other: the rest cannot enter
    if len(top) < MAX_CANDIDATES:
        return None
    rows.sort()
    window = survivors[rows[0][2]].context_length
    chain = rows[: 1 + MAX_FALLBACKS]
    if widest > window and not any(survivors[r[2]].context_length > window for r in chain):
        larger = next(
            (r for r in rows[1 + MAX_FALLBACKS :] if survivors[r[2]].context_length > window),
            None,
        )
        if larger is None or -larger[0] < top[0]:
            return None  # the chain's larger-window model may be one not scored
    return rows


class ModelSelector:
    """Ranks the catalog's models for one request; pure CPU, no I/O."""

    def __init__(
        self,
        catalog: ModelCatalog,
        health: HealthTracker,
        routing_settings: RoutingSettings | None = None,
    ) -> None:
        self.catalog = catalog
        self.health = health
        self.settings = routing_settings or RoutingSettings()
        newest = max((m.created for m in catalog if m.created), default=None)
        self._entries: dict[str, _Entry] = {}
        for slot, model in enumerate(catalog):
            prompt = model.prompt_price
            completion = model.completion_price
            request = model.prices.get("request")
            self._entries[model.id] = _Entry(
                model=model,
                prompt=float(prompt) if prompt is not None else None,
                completion=float(completion) if completion is not None else None,
                request=float(request) if request is not None else 0.0,
                quality=quality_profile(model, newest),
                known_family=match_family(model.id) is not None,
                max_completion=model.max_completion_tokens,
                thinks=thinks_first(model),
                slot=slot,
                context_length=model.context_length,
                id=model.id,
                free=model.free,
            )
        for entry in self._entries.values():
            twin = self._entries.get(entry.id.split(":", 1)[0]) if entry.free else None
            if twin is not None and twin is not entry and not twin.free:
                entry.twin = twin.id
                twin.has_free_twin = True
        self._chat = [self._entries[m.id] for m in catalog.chat_models()]
        self._chat_ids = frozenset(e.id for e in self._chat)
        self._best_chat = {  # per task, the best quality among the chat models
            task: max((e.quality[task] for e in self._chat), default=0.0)
            for task in EXPECTED_OUTPUT_TOKENS
        }
        self.names = ModelNames(catalog)
        # Per slot: the performance score (`_perf_column`), and the quality for a task capped
        # at a complexity's ceiling (`_useful`): shared by every kind's score table.
        self._perf_col: list[float] = []
        self._perf_version = -1
        self._useful_cols: dict[tuple[str, float], list[float]] = {}
        # Per-model score parts that do not depend on the request's size, by slot; one table
        # per (task, complexity, priorities, preferred), kept up to date with the health data:
        # see `_static_scores`.
        self._static: dict[tuple[object, ...], tuple[list[float], list[int], int]] = {}
        # Columns by slot for the one pass over the survivors (`_scan`).
        entries = sorted(self._entries.values(), key=lambda e: e.slot)
        self._prompt_col = [e.prompt or 0.0 for e in entries]
        self._window_col = [e.context_length for e in entries]
        self._quality_col = {
            task: [e.quality[task] for e in entries] for task in EXPECTED_OUTPUT_TOKENS
        }
        self._unpriced = frozenset(
            e.slot for e in entries if e.prompt is None or e.completion is None
        )
        self._twin_slot_of = {e.id: e.slot for e in entries if e.has_free_twin}
        self._base_cols: dict[int, list[float]] = {}  # see `_bases`
        self._capable_cols: dict[tuple[str, float, bool], list[bool]] = {}
        self._layouts: dict[tuple[int, int, frozenset[str]], _Layout] = {}
        self._too_small: dict[int, str] = {}  # "context 8,192 < " by window
        self._ids = [e.id for e in entries]  # by slot
        self._thinks = [e.thinks for e in entries]
        self._price_rows = [(e.completion, e.max_completion, e.request) for e in entries]

    # ------------------------------------------------------------------ public

    def select(self, criteria: SelectionCriteria) -> RoutingDecision:
        """Filter, score and rank the catalog for `criteria`.

        Model names in the criteria and the settings are resolved first (`names.py`); a name
        that matches nothing raises `UnknownModelError` with the closest catalog ids.
        """
        warnings: list[str] = []
        excluded: list[tuple[str, str]] = []
        settings = self.settings
        task_defaults = settings.tasks.get(criteria.task_type)  # type: ignore[call-overload]
        expected_out = expected_output_tokens(criteria.task_type, criteria.complexity)
        if criteria.max_output_tokens:
            expected_out = min(expected_out, criteria.max_output_tokens)

        resolved: list[Resolution] = []
        only_names = list(criteria.only_models) or (
            list(task_defaults.models) if task_defaults else []
        )
        only = self._resolve(only_names, resolved)
        preferred = frozenset(self._resolve(criteria.preferred_models, resolved))
        banned = set(
            self._resolve(
                [*criteria.excluded_models, *settings.excluded_models], resolved, every=True
            )
        )
        pinned_id = self._pin_id(criteria.pinned_model, settings.pinned_model, resolved)

        pool = [self._entries[m] for m in only] if only else self._chat
        considered = len(pool)  # the escalation's filter is a hard filter like the others
        if criteria.stronger_than:
            pool = self._stronger(pool, criteria, excluded)
        view = None
        if pool is self._chat:
            view = self._view(criteria, banned, expected_out, excluded)
        if view is not None:
            survivors = view.column(view.layout.entries)
        else:
            survivors = self._filter(pool, criteria, banned, expected_out, excluded)
        pinned = self._pinned(pinned_id, criteria, banned, expected_out, survivors, warnings)
        if pinned is not None:
            view = None  # the pinned model may have joined the survivors

        # A pinned model leads whatever its rank, so the full ranking is needed to place it.
        ranking = self._rank(
            survivors, criteria, expected_out, preferred, complete=pinned is not None, view=view
        )
        rows = ranking.rows
        if pinned is not None:
            rows = [r for r in rows if r[1] == pinned.model.id] + [
                r for r in rows if r[1] != pinned.model.id
            ]
        if ranking.rows and ranking.rows[0][0] > -2.0:
            warnings.append(
                f"no model clears the quality bar for {criteria.complexity} "
                f"{criteria.task_type} tasks; using the best available"
            )

        chain = self._chain(rows, survivors)
        keep_rows = rows[:MAX_CANDIDATES]
        keep_rows.extend(r for r in rows[MAX_CANDIDATES:] if r[1] in chain)
        candidates = [
            self._candidate(ranking, row, i, criteria, expected_out, pinned)
            for i, row in enumerate(keep_rows)
        ]
        decision = RoutingDecision(
            candidates=candidates,
            fallbacks=chain[1:],
            excluded=excluded,
            warnings=warnings,
            expected_output_tokens=expected_out,
            pool_size=considered,
            resolved_names=[r.describe() for r in resolved if r.how != "id"],
            only=only,
        )
        note = decision.exclusion_summary
        if note is not None:
            warnings.insert(0, note)
            if candidates and survivors[keep_rows[0][2]] is not pinned:
                left = decision.models_left
                among = "as the only model left" if left == 1 else f"among the {left} models left"
                candidates[0] = candidates[0].reworded(lambda reason: f"{reason}; chosen {among}")
        if only:
            warnings.append(f"only these models are allowed: {', '.join(only)}")
        return decision

    def _stronger(
        self, pool: list[_Entry], criteria: SelectionCriteria, excluded: list[tuple[str, str]]
    ) -> list[_Entry]:
        """Escalation: drop the model that answered and every model weaker at this task."""
        task = criteria.task_type if criteria.task_type in EXPECTED_OUTPUT_TOKENS else "analysis"
        first = self._entries.get(criteria.stronger_than or "")
        floor = first.quality[task] if first is not None else 0.0
        kept: list[_Entry] = []
        for entry in pool:
            if entry is first or entry.quality[task] < floor:
                excluded.append((entry.model.id, f"{_NOT_STRONGER} {criteria.stronger_than}"))
            else:
                kept.append(entry)
        return kept

    def _pin_id(
        self, requested: str | None, configured: str | None, resolved: list[Resolution]
    ) -> str | None:
        """The pinned id: the request's (`--model`), else the settings'; both must resolve."""
        pinned = requested or configured
        return self._resolve([pinned], resolved)[0] if pinned else None

    def _resolve(
        self, names: Sequence[str], resolved: list[Resolution], *, every: bool = False
    ) -> list[str]:
        """Catalog ids for user-written names (`every`: all the models each covers, for
        exclusions); each resolution is kept for the decision."""
        if not names:
            return []  # the usual request names no model
        ids: list[str] = []
        for found in self.names.resolve_all((n for n in names if n), every=every):
            ids.extend(found.model_ids)
            if all(r.name != found.name for r in resolved):
                resolved.append(found)
        return ids

    def _view(
        self,
        criteria: SelectionCriteria,
        banned: set[str],
        expected_out: int,
        excluded: list[tuple[str, str]],
    ) -> _View | None:
        """The usual request's hard filter over the chat models: only the context window and
        a cooldown can rule a model out (no exclusions, required capabilities, budget or
        thinking-room limit), so the survivors are a suffix of the layout for its output sizes
        and the models in cooldown. None when the request needs the general filter
        (`_filter`)."""
        if (
            banned
            or criteria.required_capabilities
            or criteria.remaining_budget_usd is not None
            or (
                criteria.max_output_tokens is not None
                and criteria.max_output_tokens < THINKING_ROOM
            )
        ):
            return None
        cooling = self.health.cooldowns() if self.health.has_open_breakers() else {}
        cooled = frozenset(m for m in cooling if m in self._chat_ids) if cooling else frozenset()
        bound = criteria.max_output_tokens or expected_out
        layout = self._layout(bound, expected_out, cooled)
        ctx = criteria.context_tokens
        start = bisect.bisect_left(layout.rooms, ctx)
        # In catalog order, as `_filter` lists them; the reasons are `_reject`'s (for these
        # requests the context is the first check that can fail, then the cooldown). The
        # context exclusions are joined in C from columns kept per start index.
        found = layout.too_small_from.get(start)
        if found is None:
            entries, bounds = layout.entries, layout.bounds
            out = sorted(range(start), key=layout.slots.__getitem__)
            found = layout.too_small_from[start] = (
                [entries[i].id for i in out],
                [layout.too_small[i] for i in out],
                [bounds[i] for i in out],
                [entries[i].slot for i in out],
            )
        ids, heads, tails, slots = found
        needs = {b: f"{ctx + b:,} tokens needed" for b in set(tails)}
        reasons = zip(ids, map(str.__add__, heads, map(needs.__getitem__, tails)), strict=True)
        if not cooled:
            excluded.extend(reasons)  # the usual case
            return _View(layout, start)
        # The models in cooldown, ruled out by the context first when it does not fit them.
        pairs = list(reasons)
        placed = slots.copy()
        for slot, model_id in sorted((self._entries[m].slot, m) for m in cooled):
            entry = self._entries[model_id]
            limit, window = entry.max_completion, entry.context_length
            need = ctx + (bound if not limit or bound < limit else limit)
            if need <= window:
                why = f"in cooldown after repeated failures ({cooling[model_id]:.0f} s left)"
            else:
                why = f"context {window:,} < {need:,} tokens needed"
            at = bisect.bisect(placed, slot)
            placed.insert(at, slot)
            pairs.insert(at, (model_id, why))
        excluded.extend(pairs)
        return _View(layout, start)

    def _layout(self, bound: int, expected_out: int, cooled: frozenset[str]) -> _Layout:
        """The layout of the chat models not in cooldown (`cooled`) for an output bound (the
        context filter's) and an expected output size (the cost's), built once per catalog,
        bound, size and cooldown set (which changes only when a breaker opens or closes)."""
        key = (bound, expected_out, cooled)
        layout = self._layouts.get(key)
        if layout is not None:
            return layout
        if len(self._layouts) >= _STATIC_TABLES:
            self._layouts.clear()
        twin = next(
            (found for (b, _, c), found in self._layouts.items() if b == bound and c == cooled),
            None,
        )
        if twin is not None:
            # The order and every column but the cost's depend on the bound and the cooldown
            # set only: shared (with the per-order caches), and only the cost's columns are new.
            base = _base_column(twin.price_rows, expected_out)
            layout = self._layouts[key] = dataclasses.replace(
                twin,
                base=base,
                zero=[i for i in twin.unprompted if not base[i]],
                signed=twin.prompt_signed or min(base, default=0.0) < 0,
            )
            return layout
        chat = [e for e in self._chat if e.id not in cooled] if cooled else self._chat
        # The room each model's window leaves once the output is reserved; the models in
        # that order (a stable sort, as `sorted(chat, key=room)`), and every column the
        # same way: built with C-level maps, as the first request of a kind waits for it.
        by_room = [
            e.context_length - (bound if not (m := e.max_completion) or bound < m else m)
            for e in chat
        ]
        order = sorted(range(len(chat)), key=by_room.__getitem__)
        entries = list(map(chat.__getitem__, order))
        rooms = list(map(by_room.__getitem__, order))
        slots = [e.slot for e in entries]
        where = [-1] * len(self._entries)
        for index, slot in enumerate(slots):
            where[slot] = index
        windows = [e.context_length for e in entries]
        prompt = list(map(self._prompt_col.__getitem__, slots))
        price_rows = list(map(self._price_rows.__getitem__, slots))
        base = _base_column(price_rows, expected_out)
        too_small = self._too_small
        for window in set(windows).difference(too_small):
            too_small[window] = f"context {window:,} < "
        unpriced = self._unpriced
        unprompted = [i for i, p in enumerate(prompt) if not p]
        prompt_signed = min(prompt, default=0.0) < 0
        layout = self._layouts[key] = _Layout(
            entries=entries,
            rooms=rooms,
            slots=slots,
            windows=windows,
            prompt=prompt,
            price_rows=price_rows,
            base=base,
            bounds=[w - r for w, r in zip(windows, rooms, strict=True)],
            too_small=list(map(too_small.__getitem__, windows)),
            where=where,
            quality={
                t: list(map(column.__getitem__, slots)) for t, column in self._quality_col.items()
            },
            answers_first=list(map(not_, map(self._thinks.__getitem__, slots))),
            unprompted=unprompted,
            prompt_signed=prompt_signed,
            zero=[i for i in unprompted if not base[i]],
            signed=prompt_signed or min(base, default=0.0) < 0,
            last_unpriced=max((i for i, slot in enumerate(slots) if slot in unpriced), default=-1)
            if unpriced
            else -1,
        )
        return layout

    def _filter(
        self,
        pool: list[_Entry],
        criteria: SelectionCriteria,
        banned: set[str],
        expected_out: int,
        excluded: list[tuple[str, str]],
    ) -> list[_Entry]:
        """The hard filters: a float fast path for clear cases; `_reject` explains the rest."""
        ctx = criteria.context_tokens
        out = criteria.max_output_tokens or expected_out
        required = frozenset(criteria.required_capabilities)
        cooling = self.health.cooldowns() if self.health.has_open_breakers() else {}
        budget = criteria.remaining_budget_usd
        budget_f = float(budget) * 0.999 if budget is not None else math.inf
        survivors: list[_Entry] = []
        no_room = criteria.max_output_tokens is not None and (
            criteria.max_output_tokens < THINKING_ROOM
        )
        if not (no_room or banned or required or budget is not None):
            # The usual request: only the context window and a cooldown can rule a model out.
            for entry in pool:
                limit = entry.max_completion
                if (
                    ctx + (out if not limit or out < limit else limit) <= entry.context_length
                    and entry.id not in cooling
                ):
                    survivors.append(entry)
                    continue
                why = self._reject(entry, criteria, banned, expected_out)
                if why is None:
                    survivors.append(entry)
                else:
                    excluded.append((entry.model.id, why))
            return survivors
        for entry in pool:
            model = entry.model
            limit = entry.max_completion
            bound = out if not limit or out < limit else limit
            if (
                ctx + bound <= entry.context_length
                and not (no_room and entry.thinks)
                and model.id not in banned
                and (not required or required <= model.capabilities)
                and model.id not in cooling
                and (budget is None or self._worst_case_f(entry, ctx, criteria) < budget_f)
            ):
                survivors.append(entry)
                continue
            why = self._reject(entry, criteria, banned, expected_out)
            if why is None:
                survivors.append(entry)  # on the budget line: the exact Decimal check passed
            else:
                excluded.append((model.id, why))
        return survivors

    @staticmethod
    def _worst_case_f(entry: _Entry, ctx: int, criteria: SelectionCriteria) -> float:
        if entry.prompt is None or entry.completion is None:
            return math.inf
        limit = entry.max_completion
        out = criteria.max_output_tokens or limit
        if out is None:
            out = max(0, entry.model.context_length - ctx)
        if limit and out > limit:
            out = limit
        return entry.prompt * ctx + entry.completion * out + entry.request

    # ------------------------------------------------------------------ steps

    def _reject(
        self,
        entry: _Entry,
        criteria: SelectionCriteria,
        banned: set[str],
        expected_out: int,
    ) -> str | None:
        model = entry.model
        if model.id in banned:
            return ExclusionGroup.SETTINGS.value
        for capability in criteria.required_capabilities:
            if capability not in model.capabilities:
                return f"no {capability} support"
        room = criteria.max_output_tokens
        if entry.thinks and room is not None and room < THINKING_ROOM:
            return (
                f"thinks before answering: max_tokens {room:,} leaves "
                f"no room for an answer (needs {THINKING_ROOM:,} or more)"
            )
        out = self._output_bound(model, criteria, expected_out)
        need = criteria.context_tokens + out
        if need > model.context_length:
            return f"context {model.context_length:,} < {need:,} tokens needed"
        if self.health.in_cooldown(model.id):
            left = self.health.cooldowns().get(model.id, 0.0)
            return f"in cooldown after repeated failures ({left:.0f} s left)"
        budget = criteria.remaining_budget_usd
        if budget is not None:
            worst = self._worst_case(entry, criteria)
            if worst is None:
                return "price unknown while a budget is set"
            if worst > budget:
                return f"worst case {short_usd(worst)} > {short_usd(budget)} left in the budget"
        return None

    @staticmethod
    def _output_bound(model: CatalogModel, criteria: SelectionCriteria, expected: int) -> int:
        out = criteria.max_output_tokens or expected
        if model.max_completion_tokens:
            out = min(out, model.max_completion_tokens)
        return out

    @staticmethod
    def _worst_case(entry: _Entry, criteria: SelectionCriteria) -> Decimal | None:
        model = entry.model
        prompt, completion = model.prompt_price, model.completion_price
        if prompt is None or completion is None:
            return None
        out = criteria.max_output_tokens or model.max_completion_tokens
        if out is None:
            out = max(0, model.context_length - criteria.context_tokens)
        if model.max_completion_tokens:
            out = min(out, model.max_completion_tokens)
        request = model.prices.get("request", Decimal(0))
        return prompt * criteria.context_tokens + completion * out + request

    @staticmethod
    def _estimate(model: CatalogModel, prompt_tokens: int, out: int) -> Decimal | None:
        prompt, completion = model.prompt_price, model.completion_price
        if prompt is None or completion is None:
            return None
        return prompt * prompt_tokens + completion * out + model.prices.get("request", Decimal(0))

    def _pinned(
        self,
        pinned_id: str | None,
        criteria: SelectionCriteria,
        banned: set[str],
        expected_out: int,
        survivors: list[_Entry],
        warnings: list[str],
    ) -> _Entry | None:
        if not pinned_id:
            return None
        entry = self._entries.get(pinned_id)
        if entry is None:
            warnings.append(
                f"pinned model {pinned_id} is not in the catalog; routing automatically"
            )
            return None
        if any(e is entry for e in survivors):
            return entry
        why = self._reject(entry, criteria, banned, expected_out)
        if why is None:
            survivors.append(entry)  # pinned but outside the preferred pool: still honoured
            return entry
        warnings.append(
            f"pinned model {pinned_id} cannot take this request ({why}); routing automatically"
        )
        return None

    def _rank(
        self,
        survivors: list[_Entry],
        criteria: SelectionCriteria,
        expected_out: int,
        preferred: frozenset[str] = frozenset(),
        *,
        complete: bool = False,
        view: _View | None = None,
    ) -> _Ranking:
        """Score the survivors; best first (models clearing the quality bar before the rest).

        The rows hold every survivor when `complete`; otherwise at least the best
        `MAX_CANDIDATES` and whatever the fallback chain needs, in the same order as the
        complete ranking (`_best_rows`)."""
        if not survivors:
            return _Ranking([], survivors, [], "chat", {}, _Summary(math.inf, 0.0))
        task = criteria.task_type if criteria.task_type in EXPECTED_OUTPUT_TOKENS else "analysis"
        if view is not None:
            slots = view.column(view.layout.slots)
            qualities = view.column(view.layout.quality[task])
        else:
            slots = [e.slot for e in survivors]
            qualities = list(map(self._quality_col[task].__getitem__, slots))
        bar = QUALITY_BAR.get(criteria.complexity, QUALITY_BAR["medium"])
        margin = _BAR_MARGIN.get(criteria.complexity)
        if margin is not None:
            # Bars relative to the best this catalog has, whatever its absolute level: a
            # catalog of unknown families tops out lower than the family table's numbers.
            # The catalog's best, not the survivors': when the budget or the context leaves
            # only weak models, they are below the bar (and the decision says so), rather
            # than a bar lowered to whatever is left.
            bar = min(bar, self._best_chat[task] - margin)
        is_low = criteria.complexity == "low"

        # Thinking first is wasted on a low-complexity request: slower, and the hidden
        # reasoning is paid as output. Such models stay in the list, after the others.
        scan = self._scan(
            survivors,
            slots,
            qualities,
            task,
            bar,
            is_low,
            criteria.context_tokens,
            expected_out,
            view,
        )
        costs, capable, where, twin_costs = scan.costs, scan.capable, scan.where, scan.twin_costs
        cheapest_paid, lowest = scan.cheapest_paid, scan.lowest
        cheapest_capable, best_quality, widest = scan.cheapest_capable, scan.best, scan.widest
        if cheapest_paid == math.inf:
            cheapest_paid = 1e-6
        cost_p = min(1.0, max(0.0, criteria.cost_priority))
        # Savings of a fraction of a cent per request matter less the less the user
        # cares about cost; at cost_priority 1 every fraction of a cent counts.
        indifference = _INDIFFERENCE_USD * _INDIFFERENCE_SHARE.get(criteria.complexity, 1.0)
        floor = cheapest_paid / 2 + indifference * (1.0 - cost_p)
        log10 = math.log10
        low = log10(floor + (max(0.0, lowest) if lowest != math.inf else 0.0))
        free_backs_up = cost_p < FREE_LEADS_AT
        measured = self.health.snapshot()
        static, order, w_price = self._static_scores(task, criteria, preferred, measured)
        twin_slots = self._twin_slot_of

        def row(index: int) -> tuple[float, str, int]:
            """The sort row of one survivor: one float orders everything, capable first."""
            entry, cost = survivors[index], costs[index]
            part = static[entry.slot]
            if cost is None:
                price = 0.0  # unknown price: assume the worst
            else:
                priced = cost if cost > 0 else 0.0
                if free_backs_up and entry.free:
                    # Shared and rate-limited upstream: a free variant is priced like its paid
                    # twin (when that one is in the running), so it backs that model up rather
                    # than leads, unless cost is all that counts; and scores no higher than
                    # it (the paid id sorts first on a tie), so its own health data cannot
                    # put it ahead either, unless the user prefers it.
                    twin = entry.twin
                    priced = twin_costs.get(twin, cheapest_paid) if twin else cheapest_paid
                    if twin in twin_costs and entry.id not in preferred:
                        part = min(part, static[twin_slots[twin]])
                price = price_score(priced)
            score = part + w_price * price
            return (-(score + 2.0) if capable[index] else -score, entry.id, index)

        def price_score(priced: float) -> float:
            """1 for the cheapest survivor down to 0 for 1000x dearer (log scale)."""
            value = 1.0 - (log10((priced if priced > 0 else 0.0) + floor) - low) / 3.0
            return value if value > 0.0 else 0.0

        rows = None
        if not complete:
            known = [math.inf if c is None else c for c in costs] if scan.unpriced else costs
            rows = _best_rows(
                survivors,
                capable,
                where,
                scan.offset,
                static,
                order,
                w_price,
                widest,
                row,
                known,  # type: ignore[arg-type]
                price_score,
            )
        if rows is None:
            rows = sorted(map(row, range(len(survivors))))
        return _Ranking(
            rows=rows,
            survivors=survivors,
            costs=costs,
            task=task,
            measured=measured,
            summary=_Summary(cheapest_capable, best_quality),
            preferred=preferred,
        )

    def _scan(
        self,
        survivors: list[_Entry],
        slots: list[int],
        qualities: list[float],
        task: str,
        bar: float,
        is_low: bool,
        ctx: int,
        expected_out: int,
        view: _View | None = None,
    ) -> _Scan:
        """Each survivor's estimated cost and whether it clears the quality bar, and the
        extremes the score needs. Slices of the layout's columns for a usual request, column
        lookups otherwise, and C-level min/max when every survivor has a price (the usual
        case); a loop that copes with unknown prices otherwise."""
        if (
            self._unpriced
            and not (view is not None and view.start > view.layout.last_unpriced)
            and not self._unpriced.isdisjoint(slots)
        ):
            return _scan_loop(survivors, task, bar, is_low, ctx, expected_out, len(self._entries))
        # Same operations in the same order as `_scan_loop`, so the same floats; the context
        # size as a float (exact below 2**53 tokens): float by float is the fast product.
        fctx = float(ctx)
        costs: list[float]
        cheapest_paid: float | None = None
        lowest: float | None = None
        best_capable: float | None = None  # the best quality among the capable, when known
        if view is not None:
            layout = view.layout
            base = view.column(layout.base)
            costs = [p * fctx + b for p, b in zip(view.column(layout.prompt), base, strict=True)]
            able_column, best_capable = self._layout_capable(layout, task, bar, is_low, view.start)
            capable = view.column(able_column)
            where, offset = layout.where, view.start
            widest = self._widest(layout, view.start)
            if not layout.signed:
                # Only the models with no price at all cost 0: the cheapest paid model is the
                # cheapest of the others, and the lowest cost is 0 when one of those is a
                # survivor, else the cheapest paid one (no cost is negative).
                paid = costs
                free = [i - offset for i in layout.zero if i >= offset]
                if free:
                    paid = costs.copy()
                    for i in free:
                        paid[i] = math.inf
                cheapest_paid = min(paid)
                lowest = 0.0 if free else cheapest_paid
        else:
            prompt, base_col = self._prompt_col, self._bases(expected_out)
            costs = [prompt[s] * fctx + base_col[s] for s in slots]
            able = self._capable(task, bar, is_low)
            capable = list(map(able.__getitem__, slots))
            where = [-1] * len(self._entries)
            for index, slot in enumerate(slots):
                where[slot] = index
            offset = 0
            widest = max(map(self._window_col.__getitem__, slots))
        if cheapest_paid is None:
            cheapest_paid = min(filter((0.0).__lt__, costs), default=math.inf)
        if lowest is None:
            lowest = min(costs)
        if best_capable is None:
            best_capable = max(itertools.compress(qualities, capable), default=-math.inf)
        if best_capable != -math.inf:  # some survivor is capable
            cheapest_capable = min(itertools.compress(costs, capable))
            best = max(0.0, best_capable)
        else:
            cheapest_capable = lowest
            best = (
                self._layout_best(view.layout, task, view.start)
                if view is not None
                else max(qualities)
            )
        twin_costs: dict[str, float] = {}
        for slot in self._twin_slot_of.values():
            index = where[slot] - offset
            if index >= 0:
                twin_costs[survivors[index].id] = costs[index]
        return _Scan(
            costs=cast(list[float | None], costs),  # no None in it: no copy to retype it
            capable=capable,
            where=where,
            offset=offset,
            twin_costs=twin_costs,
            cheapest_paid=cheapest_paid,
            lowest=lowest,
            cheapest_capable=cheapest_capable,
            best=best,
            widest=widest,
        )

    @staticmethod
    def _layout_capable(
        layout: _Layout, task: str, bar: float, is_low: bool, start: int
    ) -> tuple[list[bool], float]:
        """`_capable` in the layout's order, and the best capable quality from index `start`
        on (-inf when none is): a usual request's survivors are a suffix of the layout, so
        these are lookups instead of passes over them (once per start index)."""
        key = (task, bar, is_low)
        found = layout.capable.get(key)
        if found is None:
            if len(layout.capable) >= _STATIC_TABLES:
                layout.capable.clear()
            clears = map(bar.__le__, layout.quality[task])  # quality >= bar, in C
            column = list(map(and_, clears, layout.answers_first) if is_low else clears)
            found = layout.capable[key] = (column, {})
        column, best_from = found
        best = best_from.get(start)
        if best is None:
            qualities = itertools.compress(layout.quality[task][start:], column[start:])
            best = best_from[start] = max(qualities, default=-math.inf)
        return column, best

    @staticmethod
    def _layout_best(layout: _Layout, task: str, start: int) -> float:
        """The best quality for `task` from index `start` of the layout on."""
        best = layout.best_from.get((task, start))
        if best is None:
            best = layout.best_from[task, start] = max(
                layout.quality[task][start:], default=-math.inf
            )
        return best

    @staticmethod
    def _widest(layout: _Layout, start: int) -> int:
        """The widest window from index `start` of the layout on (0 for none)."""
        widest = layout.widest_from.get(start)
        if widest is None:
            widest = layout.widest_from[start] = max(layout.windows[start:], default=0)
        return widest

    def _bases(self, expected_out: int) -> list[float]:
        """`_base_column` by slot, for one expected output size."""
        column = self._base_cols.get(expected_out)
        if column is None:
            if len(self._base_cols) >= _STATIC_TABLES:
                self._base_cols.clear()
            column = self._base_cols[expected_out] = _base_column(self._price_rows, expected_out)
        return column

    def _capable(self, task: str, bar: float, is_low: bool) -> list[bool]:
        """Whether each model (by slot) clears this bar for this task."""
        key = (task, bar, is_low)
        column = self._capable_cols.get(key)
        if column is None:
            if len(self._capable_cols) >= _STATIC_TABLES:
                self._capable_cols.clear()
            thinks = self._thinks if is_low else itertools.repeat(False)
            column = [
                q >= bar and not t for q, t in zip(self._quality_col[task], thinks, strict=False)
            ]
            self._capable_cols[key] = column
        return column

    def _static_scores(
        self,
        task: str,
        criteria: SelectionCriteria,
        preferred: frozenset[str],
        measured: dict[str, ModelHealth],
    ) -> tuple[list[float], list[int], float]:
        """Per model (by slot), the part of the score that does not depend on the request's
        size: quality and performance, weighted, plus the preferred bonus; the slots best
        first by it; and the price weight. Computed once per (task, complexity, priorities,
        preferred models) and reused: a decision then only prices models. When the health
        data changes (after every request) only the models it changed for are updated."""
        cost_p = min(1.0, max(0.0, criteria.cost_priority))
        perf_p = min(1.0, max(0.0, criteria.performance_priority))
        w_quality = _COMPLEXITY_WEIGHT.get(criteria.complexity, 1.0) * (0.4 + 1.2 * perf_p)
        w_price = 0.2 + 1.6 * cost_p
        w_perf = 0.3 + 0.5 * perf_p
        total = w_quality + w_price + w_perf
        weights = (w_quality, w_perf, total)
        key = (task, criteria.complexity, cost_p, perf_p, preferred)
        version = self.health.version
        cached = self._static.get(key)
        changed = None
        if cached is not None and cached[2] != version:
            changed = self.health.changed_since(cached[2])
            if changed is None:
                cached = None
        if cached is not None and changed is not None and cached[2] != version:
            table, order, _ = cached
            perfs = self._perf_column(measured)
            entries = self._entries
            slots = [entries[m].slot for m in changed if m in entries]
            values = self._static_values(slots, task, criteria, preferred, perfs, weights)
            for slot, value in zip(slots, values, strict=True):
                table[slot] = value
            order.sort(key=table.__getitem__, reverse=True)  # nearly sorted: cheap
            cached = self._static[key] = (table, order, version)
        if cached is None:
            perfs = self._perf_column(measured)
            table = self._static_values(None, task, criteria, preferred, perfs, weights)
            order = sorted(range(len(table)), key=table.__getitem__, reverse=True)
            if len(self._static) >= _STATIC_TABLES:
                self._static.clear()  # unusual priorities: start over
            cached = self._static[key] = (table, order, version)
        return cached[0], cached[1], w_price / total

    def _static_values(
        self,
        slots: Sequence[int] | None,
        task: str,
        criteria: SelectionCriteria,
        preferred: frozenset[str],
        perfs: list[float],
        weights: tuple[float, float, float],
    ) -> list[float]:
        """The entries of `_static_scores`' table for these slots (None: every slot, in
        order); `perfs` is `_perf_column`; `weights` are the quality and performance weights
        and the total weight."""
        w_quality, w_perf, total = weights
        # Quality beyond what the request needs is not worth paying for: above the ceiling
        # a model counts as good as any other (high keeps the full scale).
        useful = self._useful(task, _QUALITY_CEILING.get(criteria.complexity, 1.0))
        perf = perfs
        if slots is not None:
            useful = list(map(useful.__getitem__, slots))
            perf = list(map(perfs.__getitem__, slots))
        values = [(w_quality * u + w_perf * p) / total for u, p in zip(useful, perf, strict=True)]
        if preferred:
            ids = self._ids if slots is None else list(map(self._ids.__getitem__, slots))
            for index, model in enumerate(ids):
                if model in preferred:
                    values[index] += PREFERRED_BONUS
        return values

    def _useful(self, task: str, ceiling: float) -> list[float]:
        """Each model's quality for `task` (by slot), capped at `ceiling`."""
        column = self._useful_cols.get((task, ceiling))
        if column is None:
            column = self._useful_cols[task, ceiling] = [
                q if q < ceiling else ceiling for q in self._quality_col[task]
            ]
        return column

    def _perf_column(self, measured: dict[str, ModelHealth]) -> list[float]:
        """Each model's performance score (by slot; `_DEFAULT_PERF` without data), updated
        only for the models whose health data changed."""
        version = self.health.version
        if self._perf_version != version:
            changed = self.health.changed_since(self._perf_version)
            entries = self._entries
            if changed is None:
                self._perf_col = column = [_DEFAULT_PERF] * len(entries)
                changed = set(measured)
            else:
                column = self._perf_col
            for model in changed:
                health = measured.get(model)
                entry = entries.get(model)
                if health is not None and entry is not None:
                    column[entry.slot] = _perf(health)
            self._perf_version = version
        return self._perf_col

    @staticmethod
    def _chain(rows: list[tuple[float, str, int]], survivors: list[_Entry]) -> list[str]:
        """Winner and up to MAX_FALLBACKS next ones; one of them has a larger window if any does."""
        if not rows:
            return []
        chain = [row[1] for row in rows[: 1 + MAX_FALLBACKS]]
        window = survivors[rows[0][2]].model.context_length
        if not any(
            survivors[r[2]].model.context_length > window for r in rows[1 : 1 + MAX_FALLBACKS]
        ):
            larger = next(
                (
                    r[1]
                    for r in rows[1 + MAX_FALLBACKS :]
                    if survivors[r[2]].model.context_length > window
                ),
                None,
            )
            if larger is not None:  # only found past a full chain: replace its last fallback
                chain[-1] = larger
        return chain

    def _candidate(
        self,
        ranking: _Ranking,
        row: tuple[float, str, int],
        rank: int,
        criteria: SelectionCriteria,
        expected_out: int,
        pinned: _Entry | None,
    ) -> Candidate:
        """The candidate for one ranking row; its costs and reason are worked out when read."""
        key, _, index = row
        entry = ranking.survivors[index]

        def explain() -> _Details:
            scored = ranking.scored(row)
            model = entry.model
            out = expected_out
            if model.max_completion_tokens:
                out = min(out, model.max_completion_tokens)
            estimate = self._estimate(model, criteria.context_tokens, out)
            worst = self._worst_case(entry, criteria)
            summary = ranking.summary
            first = entry is pinned
            return estimate, worst, self._reason(scored, rank, summary, criteria, estimate, first)

        score = -key - (2.0 if key <= -2.0 else 0.0)  # as `_Ranking.scored` works it out
        return Candidate(entry.model, score, quality=entry.quality[ranking.task], explain=explain)

    @staticmethod
    def _reason(
        scored: _Scored,
        rank: int,
        summary: _Summary,
        criteria: SelectionCriteria,
        estimate: Decimal | None,
        pinned: bool,
    ) -> str:
        task = criteria.task_type
        quality = scored.quality
        word = (
            "top"
            if quality >= 0.85
            else "strong"
            if quality >= 0.7
            else "good"
            if quality >= 0.5
            else "basic"
        )
        if pinned:
            lead = "pinned model"
        elif not scored.capable and scored.entry.thinks and criteria.complexity == "low":
            lead = "thinks before answering: slow and dear for a low-complexity request"
        elif not scored.capable:
            lead = f"below the quality bar for {criteria.complexity} {task} tasks"
        elif quality >= summary.best_quality and (
            criteria.performance_priority > criteria.cost_priority
            or scored.cost is None
            or scored.cost > summary.cheapest
        ):
            lead = f"strongest {task} model"
        elif scored.cost is not None and scored.cost <= summary.cheapest:
            lead = f"cheapest model with {word} {task} quality"
        elif scored.cost is not None and scored.cost <= max(summary.cheapest * 3, 1e-4):
            lead = f"{word} {task} quality at a low price"
        else:
            lead = f"{word} {task} quality"
        if not scored.entry.known_family and rank == 0:
            lead += " (unknown family: judged by price, window and capabilities)"
        if scored.preferred:
            lead += " (preferred)"
        size = criteria.context_tokens
        parts = [f"{lead} that fits {_tokens(size)} tokens" if size >= 1000 else lead]
        if scored.success is not None:
            health = f"{scored.success:.0%} success"
            if scored.latency is not None:
                health += f", p50 {scored.latency / 1000:.1f} s"
            parts.append(health)
        parts.append("cost unknown" if estimate is None else f"{short_usd(estimate)} est.")
        return "; ".join(parts)
