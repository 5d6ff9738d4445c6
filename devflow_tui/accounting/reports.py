"""Reports: where the money and the time went, what routing saved, and what to change.

Numbers come from the rollups (aligned blocks of hours and days, see `rollup`): per model,
task type and complexity, per client and member, per day, escalations included, plus the
request rows of the window's partial first hour, so a report over millions of requests reads a
few thousand rows. Percentiles read the request rows only when they are exact (at most
`exact_limit` rows), else the histograms and the rows of the window's partial first hour. The
window runs from `now - since` to the end of the rollup block holding `now` (the same as
"until now" unless the clock was set back). `from_rows` adds every figure up from the rows
instead, to check the rollups.

Definitions:
- `failed` = error + interrupted; `success_rate` = ok / (ok + failed) (cancelled and refused
  requests say nothing about a model).
- `cost_usd` = reported + estimated, the sum of the known costs; requests with unknown cost
  are counted in `unknown_cost_requests`, never as $0, and when every request of a group that
  could have cost money has unknown cost, `cost_usd` is None ("unknown" in CSV). Cache hits,
  refused requests and errors that never reached a model (no tokens, no generation id) cost
  a known $0; a cache hit's original cost is `saved_by_cache_usd`.
- Latency, time to first token and tokens/s are of successful, non-cached requests. Tokens/s
  is total completion tokens over total generation time (latency - time to first token), so
  long answers weigh more than short ones. Percentiles (also per day) use the nearest-rank
  method; they are exact when the window has at most `exact_limit` successful requests,
  otherwise read from the 6 % histograms (within 3 %), and `percentiles_exact` says which.
- Escalation rate of a model and task type: of its successful answers, the share a later
  request re-asked with a stronger model (each answer counted once).
- Savings: what the priced requests (known cost, not cache hits) would have cost on the
  baseline model with the same token counts, next to what they cost. The baseline is the
  `baseline_model` given, else the most expensive model (prompt + completion price per token)
  in `prices`, which the caller fills with the routing pool.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from devflow_tui.accounting import rollup
from devflow_tui.accounting.database import Connection
from devflow_tui.accounting.pricing import cost_of_tokens
from devflow_tui.accounting.records import BudgetView
from devflow_tui.accounting.rollup import Totals
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.accounting.windows import SPANS_S, WINDOWS
from devflow_tui.stats import percentile
from devflow_tui.usd import short_usd

By = Literal["model", "task", "day"]
NO_MODEL = "(none)"  # the by-model key of requests that reached no model (refused, unroutable)
EXACT_LIMIT = 20_000
_ZERO = Decimal(0)
Cell = tuple[str, ...]  # model, task type, complexity


class GroupStats(BaseModel):
    """Numbers for one group of requests (all of them, one model, one task type or one day)."""

    key: str
    requests: int = 0
    ok: int = 0
    failed: int = 0
    cancelled: int = 0
    refused: int = 0
    success_rate: float | None = None
    cost_usd: Decimal | None = _ZERO  # None: unknown (see the module docstring)
    cost_reported_usd: Decimal = _ZERO
    cost_estimated_usd: Decimal = _ZERO
    unknown_cost_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cache_hits: int = 0
    saved_by_cache_usd: Decimal = _ZERO
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    tokens_per_s: float | None = None


class Savings(BaseModel):
    """Cost on the baseline model against actual cost, for the same priced requests."""

    baseline_model: str | None = None
    baseline_cost_usd: Decimal | None = None
    actual_cost_usd: Decimal = _ZERO
    saved_usd: Decimal | None = None
    saved_fraction: float | None = None
    priced_requests: int = 0
    note: str | None = None


class EscalationStats(BaseModel):
    """How often one model's answers to one task type were re-asked with a stronger model."""

    model: str
    task_type: str
    answered: int
    escalated: int
    rate: float


class Report(BaseModel):
    """`model_dump(mode="json")` is what `devflow report --json` prints (money as strings)."""

    since: str
    by: str
    generated_at: float
    window_start: float | None
    percentiles_exact: bool
    totals: GroupStats
    by_model: list[GroupStats] = Field(default_factory=list)
    by_task: list[GroupStats] = Field(default_factory=list)
    by_day: list[GroupStats] = Field(default_factory=list)
    by_client: list[GroupStats] = Field(default_factory=list)
    by_member: list[GroupStats] = Field(default_factory=list)  # team members of `devflow serve`
    savings: Savings = Field(default_factory=Savings)
    recommendations: list[str] = Field(default_factory=list)
    budgets: list[BudgetView] = Field(default_factory=list)
    escalations: list[EscalationStats] = Field(default_factory=list)


# ---------------------------------------------------------------------- reading


# Column lists are constants of the rollup module, never user input.
_SUMS = rollup.SUM_COLUMNS
_SELECT_SUMS = f"SELECT {_SUMS} FROM rollup_day"  # noqa: S608
_SELECT_DAYS = f"SELECT day, {', '.join(rollup.COLUMNS)} FROM rollup_total"  # noqa: S608
_SELECT_EDGE_HIST = (
    "SELECT coalesce(model, ''), coalesce(task_type, ''), coalesce(client, ''), "
    "coalesce(member, ''), hist_bucket(latency_ms), hist_bucket(ttft_ms), count(*) "
    "FROM requests WHERE ts >= ? AND ts < ? AND status = 'ok' AND cache_hit = 0 "
    "GROUP BY 1, 2, 3, 4, 5, 6"
)
_SELECT_ROWS = (
    f"SELECT {rollup.FINISHED_COLUMNS} FROM requests "  # noqa: S608
    "WHERE status != 'running' AND ts >= ?"
)

Groups = dict[tuple[str, ...], Totals]


def _rollup_sql(table: str, keys: tuple[str, ...], periods: int) -> str:
    """Totals per key over some periods of a rollup table (names are module constants)."""
    names = ", ".join(keys)
    return (
        f"SELECT {names}, {_SUMS} FROM {table} WHERE "  # noqa: S608
        + _in_count(periods)
        + f" GROUP BY {names}"
    )


def _edge_sql(keys: tuple[str, ...]) -> str:
    """Totals per key of the request rows in [?, ?): the window's partial first hour."""
    names = "".join(f"coalesce({k}, ''), " for k in keys)
    group = f" GROUP BY {names[:-2]}" if keys else ""
    return (
        f"SELECT {names}{rollup.REQUEST_TOTALS} FROM requests "  # noqa: S608
        f"WHERE ts >= ? AND ts < ? AND status != 'running'{group}"
    )


def _read_groups(
    conn: Connection, table: str, keys: tuple[str, ...], start: float | None, now: float
) -> Groups:
    """Totals per key of `table` (`rollup_day`: model, task type, complexity; `rollup_party`:
    client, member) over the window: its whole hours from the rollup periods, its partial
    first hour from the request rows."""
    groups: Groups = defaultdict(Totals)
    periods = _periods(start, now)
    width = len(keys)
    if periods:
        for row in conn.execute(_rollup_sql(table, keys, len(periods)), periods).fetchall():
            groups[tuple(row[:width])].add(Totals.from_values(row[width:]))
    if start is not None:
        end = rollup.first_full_hour(start) * rollup.HOUR_S
        for row in conn.execute(_edge_sql(keys), (start, end)).fetchall():
            groups[tuple(row[:width])].add(Totals.from_values(row[width:]))
    return groups


def _first_day_edge(conn: Connection, start: float | None, now: float) -> Totals:
    """Totals of the window's partial first day, which the day rollups do not hold: its
    sub-day rollup periods and its partial first hour."""
    edge = Totals()
    if start is None:
        return edge
    # Greedy blocks reach a day boundary before any day-sized block starts.
    sub_day = [p for p in _periods(start, now) if rollup.period_size(p) < 24]
    if sub_day:
        row = conn.execute(_SELECT_SUMS + " WHERE " + _in(sub_day), sub_day).fetchone()
        edge.add(Totals.from_values(row))
    end = rollup.first_full_hour(start) * rollup.HOUR_S
    for row in conn.execute(_edge_sql(()), (start, end)):
        edge.add(Totals.from_values(row))
    return edge


class _RowTotals:
    """Every total of a window added up from its request rows, request by request (the
    row-based answer: `devflow report --from-rows`, and what the tests hold the rollups to)."""

    def __init__(self, conn: Connection, start: float | None) -> None:
        self.cells: Groups = defaultdict(Totals)
        self.parties: Groups = defaultdict(Totals)
        self.days: dict[int, Totals] = defaultdict(Totals)
        lower = start if start is not None else float("-inf")
        for row in conn.execute(_SELECT_ROWS, (lower,)):
            finished = rollup.finished_from_row(row)
            totals = finished.totals()
            self.cells[finished.key].add(totals)
            self.parties[finished.party].add(totals)
            self.days[rollup.day_of(finished.ts)].add(totals)


def _escalations(cells: Mapping[tuple[str, ...], Totals]) -> list[EscalationStats]:
    """Answered and escalated requests per (model, task type), from the totals per cell."""
    pairs: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (model, task, _), t in cells.items():
        if model and t.ok:
            pair = pairs[(model, task)]
            pair[0] += t.ok
            pair[1] += t.escalated
    return [
        EscalationStats(model=model, task_type=task, answered=n, escalated=k, rate=k / n)
        for (model, task), (n, k) in pairs.items()
    ]


# The row-based count of escalations, by joining each answer to the requests that re-asked
# it: what `requests.escalated` and the rollups' `escalated` must agree with.
_SELECT_ESCALATIONS = (
    "SELECT r.model, coalesce(r.task_type, ''), count(DISTINCT r.id), "
    "count(DISTINCT e.escalation_of) FROM requests r "
    "LEFT JOIN requests e ON e.escalation_of = r.id "
    "WHERE r.status = 'ok' AND r.model IS NOT NULL AND r.model != '' AND r.ts >= ? "
    "GROUP BY 1, 2"
)


def _joined_escalations(conn: Connection, start: float | None) -> list[EscalationStats]:
    rows = conn.execute(_SELECT_ESCALATIONS, (start if start is not None else float("-inf"),))
    return [
        EscalationStats(model=model, task_type=task, answered=n, escalated=k, rate=k / n)
        for model, task, n, k in rows
    ]


ESCALATION_ADVICE_MIN = 3  # escalations before a model/task pair gets a sentence
ESCALATION_ADVICE_RATE = 0.2


def _escalation_advice(stats: list[EscalationStats]) -> list[tuple[Decimal, str]]:
    advice: list[tuple[Decimal, str]] = []
    for s in stats:
        if s.escalated >= ESCALATION_ADVICE_MIN and s.rate >= ESCALATION_ADVICE_RATE:
            task = s.task_type or "unclassified"
            advice.append(
                (
                    _ZERO,
                    f"{s.rate:.0%} of {s.model}'s {task} answers were re-asked with a stronger "
                    f"model ({s.escalated} of {s.answered}): raise the performance priority "
                    f"for {task} tasks, or exclude {s.model} for them.",
                )
            )
    return advice


def _periods(start: float | None, now: float) -> list[int]:
    if start is None:
        return [rollup.ALL_TIME]
    return rollup.window_periods(rollup.first_full_hour(start), rollup.hour_of(now))


def _in_count(n: int) -> str:
    return f"day IN ({', '.join('?' * n)})"


def _in(periods: list[int]) -> str:
    return _in_count(len(periods))


def _read_days(conn: Connection, start: float | None, edge: Totals) -> dict[int, Totals]:
    """Totals per UTC day over the window."""
    days: dict[int, Totals] = defaultdict(Totals)
    first = 0 if start is None else rollup.first_full_day(start)
    for row in conn.execute(_SELECT_DAYS + " WHERE day >= ?", (first,)).fetchall():
        days[row[0]].add(Totals.from_values(row[1:]))
    if start is not None and edge.n:
        days[rollup.day_of(start)].add(edge)
    return days


Samples = dict[tuple[str, str, int], list[float]]  # (dim, key, metric) -> values
Hist = dict[tuple[str, str, int], rollup.BucketCounts]  # (dim, key, metric) -> counts


def _exact_samples(conn: Connection, start: float | None) -> Samples:
    samples: Samples = defaultdict(list)
    sql = (
        "SELECT model, task_type, ts, latency_ms, ttft_ms, client, member FROM requests "
        "WHERE status = 'ok' AND cache_hit = 0"
    )
    rows = conn.execute(sql + " AND ts >= ?", (start,)) if start is not None else conn.execute(sql)
    for model, task, ts, latency, ttft, client, member in rows:
        day = str(rollup.day_of(ts))
        for metric, value in ((rollup.METRIC_LATENCY, latency), (rollup.METRIC_TTFT, ttft)):
            if value is None:
                continue
            samples[("model", model or "", metric)].append(value)
            samples[("task", task or "", metric)].append(value)
            samples[("day", day, metric)].append(value)
            samples[("client", client or "", metric)].append(value)
            samples[("member", member or "", metric)].append(value)
            samples[("all", "", metric)].append(value)
    for values in samples.values():
        values.sort()
    return samples


def _histograms(conn: Connection, start: float | None, now: float, days: Iterable[int]) -> Hist:
    """Histograms of the window from the rollups (one row per block, key and metric), and
    from the request rows of the window's partial first hour (none for all time)."""
    hist: Hist = defaultdict(rollup.BucketCounts)
    periods = _periods(start, now)
    rows = conn.execute(
        "SELECT dim, key, metric, zeros, CAST(counts AS TEXT) FROM rollup_histogram "  # noqa: S608
        "WHERE " + _in(periods),
        periods,
    )
    for dim, key, metric, zeros, counts in rows.fetchall():
        hist[(dim, key, metric)].add_text(counts, zeros)
    # Per day: the day's own "all" histogram, looked up by key for each whole day.
    first_day = 0 if start is None else rollup.first_full_day(start)
    day_periods = [rollup.day_period(d) for d in days if d >= first_day]
    if start is not None:
        # The partial first day: its blocks of under a day (all inside it) and its first rows.
        day_periods += [p for p in periods if rollup.period_size(p) < 24]
    day_of = {p: str(_day_of_period(p)) for p in day_periods}
    for i in range(0, len(day_periods), 500):  # bounded numbers of SQL parameters
        chunk = day_periods[i : i + 500]
        rows = conn.execute(
            "SELECT day, metric, zeros, CAST(counts AS TEXT) FROM rollup_histogram "  # noqa: S608
            "WHERE " + _in(chunk) + " AND dim = 'all' AND key = ''",
            chunk,
        )
        for period, metric, zeros, counts in rows.fetchall():
            hist[("day", day_of[period], metric)].add_text(counts, zeros)
    if start is not None:
        end = rollup.first_full_hour(start) * rollup.HOUR_S
        day = str(rollup.day_of(start))
        for *keys, latency, ttft, n in conn.execute(_SELECT_EDGE_HIST, (start, end)).fetchall():
            for metric, bucket in ((rollup.METRIC_LATENCY, latency), (rollup.METRIC_TTFT, ttft)):
                if bucket is None:
                    continue
                for dim, key in zip(rollup.HIST_DIMS, (*keys, ""), strict=True):
                    hist[(dim, key, metric)].add(bucket, n)
                hist[("day", day, metric)].add(bucket, n)
    return hist


def _day_of_period(period: int) -> int:
    """The UTC day of a block of a day or less, from its period key."""
    size = rollup.period_size(period)
    return (period - size * rollup.PERIOD_KEY) * size // 24


_SELECT_RECONCILABLE = (
    # Same condition as the partial index idx_requests_reconcilable, so only its rows are read.
    "SELECT coalesce(model, ''), count(*) FROM requests WHERE cost_usd IS NULL "
    "AND generation_id IS NOT NULL AND billed_cost_usd IS NULL"
)


def _reconcilable(conn: Connection, start: float | None) -> dict[str, int]:
    """Unknown-cost requests per model that `devflow reconcile` can still price."""
    if start is None:
        rows = conn.execute(_SELECT_RECONCILABLE + " GROUP BY 1")
    else:
        rows = conn.execute(_SELECT_RECONCILABLE + " AND ts >= ? GROUP BY 1", (start,))
    return {model: n for model, n in rows}


class _Percentiles:
    def __init__(self, samples: Samples | None, hist: Hist | None) -> None:
        self.samples = samples
        self.hist = hist

    def get(self, dim: str, key: str, metric: int, ps: tuple[float, ...]) -> list[float | None]:
        if self.samples is not None:
            values = self.samples.get((dim, key, metric), [])
            return [percentile(values, p) for p in ps]
        assert self.hist is not None
        counts = self.hist.get((dim, key, metric))
        return counts.percentiles(ps) if counts is not None else [None] * len(ps)

    def fill(self, stats: GroupStats, dim: str, key: str) -> None:
        stats.latency_p50_ms, stats.latency_p95_ms, stats.latency_p99_ms = self.get(
            dim, key, rollup.METRIC_LATENCY, (50, 95, 99)
        )
        stats.ttft_p50_ms, stats.ttft_p95_ms = self.get(dim, key, rollup.METRIC_TTFT, (50, 95))


def _stats(key: str, t: Totals) -> GroupStats:
    judged = t.ok + t.failed
    return GroupStats(
        key=key,
        requests=t.n,
        ok=t.ok,
        failed=t.failed,
        cancelled=t.cancelled,
        refused=t.refused,
        success_rate=round(t.ok / judged, 6) if judged else None,
        cost_usd=t.cost_or_unknown,
        cost_reported_usd=t.cost_reported,
        cost_estimated_usd=t.cost_estimated,
        unknown_cost_requests=t.unknown_cost,
        prompt_tokens=t.prompt,
        completion_tokens=t.completion,
        reasoning_tokens=t.reasoning,
        cached_tokens=t.cached,
        cache_hits=t.cache_hits,
        saved_by_cache_usd=t.saved_cache,
        tokens_per_s=round(tps, 3) if (tps := t.tokens_per_s) is not None else None,
    )


# ---------------------------------------------------------------------- savings, advice


def default_baseline(prices: Mapping[str, Mapping[str, Decimal]]) -> str | None:
    """The most expensive priced model (prompt + completion per token); ties by id."""
    best: tuple[Decimal, str] | None = None
    for model, p in prices.items():
        prompt, completion = p.get("prompt"), p.get("completion")
        if prompt is None or completion is None:
            continue
        candidate = (prompt + completion, model)
        if best is None or candidate > best:
            best = candidate
    return best[1] if best else None


def _savings(
    total: Totals, baseline_model: str | None, prices: Mapping[str, Mapping[str, Decimal]]
) -> Savings:
    savings = Savings(
        baseline_model=baseline_model or default_baseline(prices),
        actual_cost_usd=total.cost,
        priced_requests=total.priced_n,
    )
    if savings.baseline_model is None:
        savings.note = "No priced model to compare with: the catalog prices are not loaded."
        return savings
    baseline_prices = prices.get(savings.baseline_model)
    baseline = (
        cost_of_tokens(
            baseline_prices,
            prompt_tokens=total.priced_prompt,
            completion_tokens=total.priced_completion,
            cached_tokens=total.priced_cached,
            reasoning_tokens=total.priced_reasoning,
            calls=total.priced_n,
        )
        if baseline_prices is not None
        else None
    )
    if baseline is None:
        savings.note = f"The baseline model {savings.baseline_model} has no known prices."
        return savings
    savings.baseline_cost_usd = baseline
    savings.saved_usd = baseline - total.cost
    savings.saved_fraction = round(float(savings.saved_usd / baseline), 6) if baseline else None
    return savings


def _has_prices(prices: Mapping[str, Mapping[str, Decimal]], model: str) -> bool:
    p = prices.get(model)
    return p is not None and p.get("prompt") is not None and p.get("completion") is not None


def _requests(n: int) -> str:
    return f"{n} request{'s' if n != 1 else ''}"


def _unknown_cost_advice(
    cells: Mapping[Cell, Totals],
    reconcilable: Mapping[str, int],
    prices: Mapping[str, Mapping[str, Decimal]],
) -> list[tuple[Decimal, str]]:
    """Say which requests have no known cost; suggest `devflow reconcile` only for those it
    can price (a generation id and no billed cost yet)."""
    advice: list[tuple[Decimal, str]] = []
    unknown: dict[str, int] = defaultdict(int)
    for (model, _, _), t in cells.items():
        if t.unknown_cost:
            unknown[model] += t.unknown_cost
    for model, n in sorted(unknown.items(), key=lambda item: (-item[1], item[0])):
        name = model or "(no model)"
        why = (
            "no usage cost was reported"
            if _has_prices(prices, model)
            else "no usage cost was reported and the model has no catalog prices"
        )
        fixable = min(reconcilable.get(model, 0), n)
        if fixable:
            advice.append(
                (
                    _ZERO,
                    f"{_requests(fixable)} to {name} {'has' if fixable == 1 else 'have'} no "
                    f"known cost ({why}); run `devflow reconcile` to fetch what OpenRouter "
                    "billed.",
                )
            )
        rest = n - fixable
        if rest:
            advice.append(
                (
                    _ZERO,
                    f"{_requests(rest)} to {name} {'has' if rest == 1 else 'have'} no known cost "
                    f"({why}) and nothing to reconcile; "
                    f"{'it counts' if rest == 1 else 'they count'} as unknown, not $0.",
                )
            )
    return advice


def _recommendations(
    cells: Mapping[Cell, Totals],
    window_days: float,
    budgets: list[BudgetView],
    min_class: int,
    min_samples: int,
    unknown_advice: list[tuple[Decimal, str]],
    escalations: list[EscalationStats] | None = None,
) -> list[tuple[Decimal, str]]:
    advice: list[tuple[Decimal, str]] = []
    # A cheaper model people keep escalating away from is no saving: its rate must not be
    # clearly worse than the current model's.
    escalated = {(s.model, s.task_type): s.rate for s in escalations or []}
    classes: dict[tuple[str, str], dict[str, Totals]] = defaultdict(dict)
    for (model, task, complexity), t in cells.items():
        if model:
            classes[(task, complexity)][model] = t
    per_month = Decimal(30) / Decimal(str(max(window_days, 1.0)))
    for (task, complexity), models in sorted(classes.items()):
        class_n = sum(t.n for t in models.values())
        if class_n < min_class:
            continue
        top_model, top = max(models.items(), key=lambda item: (item[1].n, item[0]))
        if top.priced_n < min_samples or top.ok + top.failed == 0:
            continue
        top_avg = top.cost / top.priced_n
        top_success = top.ok / (top.ok + top.failed)
        best: tuple[Decimal, str, float] | None = None
        for model, t in models.items():
            judged = t.ok + t.failed
            if model == top_model or t.priced_n < min_samples or judged < min_samples:
                continue
            success = t.ok / judged
            avg = t.cost / t.priced_n
            worse = escalated.get((model, task), 0.0) > escalated.get((top_model, task), 0.0) + 0.1
            if worse:
                continue
            if success + 0.02 >= top_success and avg < top_avg and (best is None or avg < best[0]):
                best = (avg, model, success)
        if best is None:
            continue
        alt_avg, alt_model, alt_success = best
        if alt_avg > 0 and top_avg / alt_avg < Decimal("1.5"):
            continue  # too small a difference to be worth a sentence
        saving = (top_avg - alt_avg) * top.priced_n * per_month
        ratio = f"1/{round(top_avg / alt_avg)}" if alt_avg > 0 else "no"
        task_name = task or "unclassified"
        level = f"{complexity}-complexity " if complexity else ""
        advice.append(
            (
                saving,
                f"{top.n / class_n:.0%} of your {level}{task_name} requests went to {top_model}; "
                f"{alt_model} served the same class with {alt_success:.0%} success "
                f"(vs {top_success:.0%}) at {ratio} the price ({short_usd(alt_avg)} vs "
                f"{short_usd(top_avg)} per request): estimated saving "
                f"{short_usd(saving)}/month.",
            )
        )
    advice += unknown_advice
    advice += _escalation_advice(escalations or [])
    total_cost = sum((t.cost for t in cells.values()), _ZERO)
    daily_rate = total_cost / Decimal(str(max(window_days, 1.0)))
    for view in budgets:
        if view.limit_usd is None or view.limit_usd <= 0 or view.name == "openrouter-key":
            continue
        used = view.spent_usd / view.limit_usd
        if used < Decimal("0.8"):
            continue
        left = view.remaining_usd if view.remaining_usd is not None else _ZERO
        runway = (
            f"; at your recent {short_usd(daily_rate)}/day it lasts about "
            f"{float(left / daily_rate):.1f} more days"
            if daily_rate > 0
            else ""
        )
        advice.append(
            (
                _ZERO,
                f"The {view.name} budget is {float(used):.0%} used ({short_usd(view.spent_usd)} "
                f"of {short_usd(view.limit_usd)}){runway}. Raise it in the config file or "
                "raise the cost priority in routing.",
            )
        )
    return advice


# ---------------------------------------------------------------------- entry points


GROUPINGS = ("model", "task", "day", "client", "member")


def build_report(
    store: AnalyticsStore,
    *,
    since: str = "7d",
    by: str = "model",
    baseline_model: str | None = None,
    prices: Mapping[str, Mapping[str, Decimal]] | None = None,
    budgets: list[BudgetView] | None = None,
    now: float | None = None,
    exact_limit: int = EXACT_LIMIT,
    min_class: int = 20,
    min_samples: int = 5,
    from_rows: bool = False,
) -> Report:
    """Build the report over the window `since` (one of `windows.WINDOWS`: "1h", "24h", "7d",
    "30d" or "all").

    Every total and histogram comes from the rollups, except the window's partial first
    hour, read from the request rows. With
    `from_rows` every figure is added up from the window's request rows instead, request by
    request, with exact percentiles: the same report, slower, for checking the rollups."""
    if since not in WINDOWS:
        raise ValueError(f"since must be one of {', '.join(WINDOWS)}; got {since!r}")
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}; got {by!r}")
    prices = prices or {}
    budgets = budgets or []
    now = store.clock() if now is None else now
    start = now - SPANS_S[since] if since != "all" else None
    with store.reading() as conn:
        if from_rows:
            rows = _RowTotals(conn, start)
            cells, parties, days = rows.cells, rows.parties, rows.days
            escalations = _joined_escalations(conn, start)
        else:
            cells = _read_groups(conn, "rollup_day", rollup.KEY_COLUMNS, start, now)
            parties = _read_groups(conn, "rollup_party", rollup.PARTY_COLUMNS, start, now)
            days = _read_days(conn, start, _first_day_edge(conn, start, now))
            escalations = _escalations(cells)
        total = Totals()
        for t in cells.values():
            total.add(t)
        # Exact percentiles read the window's successful requests: at most `exact_limit` rows.
        exact = from_rows or total.ok <= exact_limit
        if exact:
            percentiles = _Percentiles(_exact_samples(conn, start), None)
        else:
            percentiles = _Percentiles(None, _histograms(conn, start, now, days))
        reconcilable = _reconcilable(conn, start)
        if start is None:
            first = conn.execute("SELECT min(ts) FROM requests").fetchone()[0]
            window_days = (now - first) / rollup.DAY_S if first is not None else 1.0
        else:
            window_days = SPANS_S[since] / rollup.DAY_S
    clients: dict[str, Totals] = defaultdict(Totals)
    members: dict[str, Totals] = defaultdict(Totals)
    for (client, member), t in parties.items():
        clients[client].add(t)
        members[member].add(t)

    by_model_t: dict[str, Totals] = defaultdict(Totals)
    by_task_t: dict[str, Totals] = defaultdict(Totals)
    for (model, task, _), t in cells.items():
        by_model_t[model].add(t)
        by_task_t[task].add(t)

    totals = _stats("total", total)
    percentiles.fill(totals, "all", "")
    by_model = []
    for model, t in sorted(by_model_t.items(), key=lambda item: (-item[1].cost, item[0])):
        stats = _stats(model or NO_MODEL, t)
        percentiles.fill(stats, "model", model)
        by_model.append(stats)
    by_task = []
    for task, t in sorted(by_task_t.items(), key=lambda item: (-item[1].n, item[0])):
        stats = _stats(task or "(none)", t)
        percentiles.fill(stats, "task", task)
        by_task.append(stats)
    by_day = []
    for day, t in sorted(days.items()):  # whole days only: the all-time row is never read
        stats = _stats(_day_label(day), t)
        percentiles.fill(stats, "day", str(day))
        by_day.append(stats)
    by_client = _groups(clients, "client", "(unknown)", percentiles)
    by_member = _groups(members, "member", "(no member)", percentiles)
    advice = _recommendations(
        cells,
        window_days,
        budgets,
        min_class,
        min_samples,
        _unknown_cost_advice(cells, reconcilable, prices),
        escalations,
    )
    advice.sort(key=lambda item: -item[0])
    return Report(
        since=since,
        by=by,
        generated_at=now,
        window_start=start,
        percentiles_exact=exact,
        totals=totals,
        by_model=by_model,
        by_task=by_task,
        by_day=by_day,
        by_client=by_client,
        by_member=by_member,
        savings=_savings(total, baseline_model, prices),
        recommendations=[sentence for _, sentence in advice],
        budgets=budgets,
        escalations=sorted(
            (s for s in escalations if s.escalated),
            key=lambda s: (-s.rate, -s.escalated, s.model, s.task_type),
        ),
    )


def _groups(
    totals: Mapping[str, Totals], dim: str, unnamed: str, percentiles: _Percentiles
) -> list[GroupStats]:
    """One row per value, the most spent first."""
    rows = []
    for key, t in sorted(totals.items(), key=lambda item: (-item[1].cost, item[0])):
        stats = _stats(key or unnamed, t)
        percentiles.fill(stats, dim, key)
        rows.append(stats)
    return rows


def _day_label(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def report_to_csv(report: Report, by: str | None = None) -> str:
    """One CSV row per group of `by` (default: the report's), then a `total` row."""
    by = by or report.by
    groups = {
        "model": report.by_model,
        "task": report.by_task,
        "day": report.by_day,
        "client": report.by_client,
        "member": report.by_member,
    }
    if by not in groups:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}; got {by!r}")
    out = io.StringIO()
    names = list(GroupStats.model_fields)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([by if n == "key" else n for n in names])
    for stats in [*groups[by], report.totals]:
        data = stats.model_dump(mode="json")
        if data["cost_usd"] is None:
            data["cost_usd"] = "unknown"  # never an empty cell that a spreadsheet reads as 0
        writer.writerow(["" if data[n] is None else data[n] for n in names])
    return out.getvalue()
