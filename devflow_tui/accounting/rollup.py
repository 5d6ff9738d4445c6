"""Rollups maintained on write, so reports over millions of requests stay fast.

Every finished request adds its numbers to four tables, in the same transaction as the
request row itself:

- `rollup_day`: counts, tokens and money per (period, model, task type, complexity). A period
  is an aligned block of 1, 6, 24 (a UTC day) or 96 hours, or `-1` for all time, so a 30-day
  window of whole hours is the sum of about 20 periods (like a segment tree), and "all" of one.
- `rollup_party`: the same numbers per (period, client, member): spend per client and per
  team member. A separate table rather than two more key columns of `rollup_day`: no report
  crosses them with the model, and the cross product would hold about as many rows per hour
  as there are requests.
- `rollup_total`: the same numbers per UTC day only (and `-1`), for spend over time and budgets.
- `rollup_histogram`: log-spaced histograms of latency and time to first token of successful
  requests, per (period, "model"|"task"|"client"|"member"|"all", key, metric): one row
  holding every bucket's count as an array (`counts`, from its lowest to its highest bucket;
  zero durations in `zeros`), so a window sums ~90 rows per block, not one row per bucket.
  Buckets grow by 6 % each, so a percentile read from them is within 3 % of the exact value;
  reports use exact values whenever few rows are involved.

Escalations are counted on write too: `escalated` is the number of a group's successful
requests that a later request re-asked with a stronger model (each counted once, however
often it was re-asked); the re-asking request sets its original's `requests.escalated` flag
and adds one to the original's rollup rows, in its own transaction.

Money stays `Decimal`: the rollup columns are decimal strings summed by the `dec_add` and
`dec_sum` SQL functions registered on every connection.
"""

from __future__ import annotations

import functools
import math
import operator
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devflow_tui.stats import Throughput

if TYPE_CHECKING:
    from devflow_tui.accounting.database import Connection

ALL_TIME = -1
DAY_S = 86_400
HIST_BASE = 1.06
_LOG_BASE = math.log(HIST_BASE)
_ZERO_BUCKET = -100_000
METRIC_LATENCY = 0
METRIC_TTFT = 1
FAILED_STATUSES = frozenset({"error", "interrupted"})
# Cost source of a request that failed before any model saw it (no tokens, no generation id):
# nothing was billed, so its cost is a known $0, not unknown. It is not "priced" either, so it
# does not dilute average costs or count in the savings comparison.
UNSENT = "unsent"


def never_billed(
    status: str, prompt_tokens: int, completion_tokens: int, generation_id: str | None
) -> bool:
    """True for a failed request OpenRouter never billed: an error (a 4xx before sending, or a
    5xx) with no tokens and no generation id. Interrupted requests may have been billed."""
    return status == "error" and not prompt_tokens and not completion_tokens and not generation_id


def day_of(ts: float) -> int:
    """The UTC day number (days since 1970-01-01) of a unix time."""
    return int(ts // DAY_S)


HOUR_S = 3_600
BLOCK_HOURS = (96, 24, 6, 1)  # period sizes in hours, largest first; 24 = a UTC day
PERIOD_KEY = 10_000_000  # period key = size * PERIOD_KEY + index of the block of that size


def hour_of(ts: float) -> int:
    """Hours since the epoch of a unix time."""
    return int(ts // HOUR_S)


def first_full_hour(ts: float) -> int:
    """The first hour that starts at or after `ts`."""
    hour = hour_of(ts)
    return hour if hour * HOUR_S >= ts else hour + 1


def periods_of(hour: int) -> tuple[int, ...]:
    """Every rollup period an hour belongs to: its aligned blocks of each size, and all time."""
    return (*(size * PERIOD_KEY + hour // size for size in BLOCK_HOURS), ALL_TIME)


def period_size(period: int) -> int:
    """The size in hours of a period key (0 for all time)."""
    return 0 if period == ALL_TIME else period // PERIOD_KEY


def window_periods(first_hour: int, last_hour: int) -> list[int]:
    """Periods covering every hour from `first_hour` on, up to the block holding `last_hour`.

    Greedy from the left with the largest aligned block each time: at most a handful of
    blocks per size, so about 20 periods for 30 days instead of 720 hours.
    """
    periods: list[int] = []
    hour = first_hour
    while hour <= last_hour:
        size = next(s for s in BLOCK_HOURS if hour % s == 0)
        periods.append(size * PERIOD_KEY + hour // size)
        hour += size
    return periods


def day_period(day: int) -> int:
    """The period key of a UTC day (its aligned 24-hour block)."""
    return 24 * PERIOD_KEY + day


def first_full_day(ts: float) -> int:
    """The first UTC day that starts at or after `ts`."""
    day = day_of(ts)
    return day if day * DAY_S >= ts else day + 1


def bucket_of(value: float) -> int:
    """The histogram bucket of a positive duration in ms."""
    if value <= 0:
        return _ZERO_BUCKET
    return math.floor(math.log(value) / _LOG_BASE)


def bucket_value(bucket: int) -> float:
    """The value a bucket stands for: its geometric middle."""
    if bucket == _ZERO_BUCKET:
        return 0.0
    return float(HIST_BASE ** (bucket + 0.5))


class BucketCounts:
    """Counts per histogram bucket, kept as one list from the lowest bucket seen to the
    highest (a report adds up ~1,000 `counts` values of ~100 buckets each: slice by slice,
    not bucket by bucket), and the zero durations apart."""

    __slots__ = ("counts", "lo", "zeros")

    def __init__(self) -> None:
        self.lo = 0
        self.counts: list[int] = []
        self.zeros = 0

    def add(self, bucket: int, n: int) -> None:
        """Add n to one bucket."""
        if bucket == _ZERO_BUCKET:
            self.zeros += n
        elif self.counts and 0 <= bucket - self.lo < len(self.counts):
            self.counts[bucket - self.lo] += n
        else:
            self._add_run(bucket, [n])

    def add_text(self, counts: str | None, zeros: int = 0) -> None:
        """Add a `counts` value (as `encode` writes it, or as PostgreSQL prints an array: no
        bounds when its lowest subscript is 1, NULL in a gap) and `zeros` zero durations."""
        self.zeros += zeros
        if counts:
            lo, values = _parse_counts(counts)
            if values:
                self._add_run(lo, values)

    def _add_run(self, lo: int, values: list[int]) -> None:
        if not self.counts:
            self.lo, self.counts = lo, values
            return
        if lo < self.lo:
            self.counts[0:0] = [0] * (self.lo - lo)
            self.lo = lo
        missing = lo + len(values) - self.lo - len(self.counts)
        if missing > 0:
            self.counts.extend([0] * missing)
        at = lo - self.lo
        end = at + len(values)
        self.counts[at:end] = map(operator.add, self.counts[at:end], values)

    def percentiles(self, ps: Sequence[float]) -> list[float | None]:
        """Nearest-rank percentiles (ps in increasing order), in one pass; each within half
        a bucket (3 %) of the exact one. Buckets with no (or a negative) count are skipped."""
        runs = [(_ZERO_BUCKET, self.zeros), *enumerate(self.counts, self.lo)]
        buckets = [(b, n) for b, n in runs if n > 0]
        total = sum(n for _, n in buckets)
        if total == 0:
            return [None] * len(ps)
        found: list[float | None] = []
        seen, i = 0, 0
        for p in ps:
            rank = max(1, math.ceil(p / 100 * total))
            while seen < rank:  # rank <= total: the buckets never run out
                seen += buckets[i][1]
                i += 1
            found.append(bucket_value(buckets[i - 1][0]))
        return found

    def as_dict(self) -> dict[int, int]:
        """Bucket -> count, for the buckets that count."""
        found = {bucket: n for bucket, n in enumerate(self.counts, self.lo) if n}
        if self.zeros:
            found[_ZERO_BUCKET] = self.zeros
        return found

    def encode(self) -> str | None:
        """The buckets as a `rollup_histogram.counts` value (zeros apart): PostgreSQL's text
        form of an array whose subscripts are the buckets (`[lo:hi]={n,...}`), stored as such
        on SQLite; None when no bucket counts."""
        used = [i for i, n in enumerate(self.counts) if n]
        if not used:
            return None
        first, last = used[0], used[-1]
        body = ",".join(map(str, self.counts[first : last + 1]))
        return f"[{self.lo + first}:{self.lo + last}]={{{body}}}"


def _parse_counts(counts: str) -> tuple[int, list[int]]:
    if counts[0] == "[":
        lo = int(counts[1 : counts.index(":")])
        body = counts[counts.index("=") + 2 : -1]
    else:
        lo, body = 1, counts[1:-1]
    if not body:
        return lo, []
    return lo, list(map(int, body.replace("NULL", "0").split(",")))


def hist_add(a: str | None, b: str | None) -> str | None:
    """SQL function (SQLite; PostgreSQL's is in its migrations): two `counts` values added."""
    if not a or not b:
        return a or b
    if a[0] == "[" and b[0] == "[" and b.count(",") == 0:
        # A request's write: one bucket, usually inside `a`'s bounds. Only that element is
        # parsed and rewritten (each write adds to ~50 histogram rows).
        equals = a.index("=")
        lo, hi = map(int, a[1 : equals - 1].split(":"))
        bucket, n = _parse_counts(b)
        if lo <= bucket <= hi and n:
            parts = a[equals + 2 : -1].split(",")
            i = bucket - lo
            parts[i] = str(int(parts[i]) + n[0])
            return f"{a[: equals + 2]}{','.join(parts)}}}"
    total = BucketCounts()
    total.add_text(a)
    total.add_text(b)
    return total.encode()


def dec_add(a: str | None, b: str | None) -> str:
    """SQL function: the sum of two decimal strings (NULL counts as zero)."""
    return str(Decimal(a or 0) + Decimal(b or 0))


class _DecSum:
    """SQL aggregate: the exact sum of decimal strings, as a decimal string."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total += Decimal(value)

    def finalize(self) -> str:
        return str(self.total)


def _sql_bucket(value: float | None) -> int | None:
    return None if value is None else bucket_of(value)


def register_functions(conn: sqlite3.Connection) -> None:
    """Make `dec_add`, `dec_sum`, `hist_bucket` and `hist_add` available to the SQL of this
    connection."""
    conn.create_function("dec_add", 2, dec_add, deterministic=True)
    conn.create_function("hist_add", 2, hist_add, deterministic=True)
    conn.create_function("hist_bucket", 1, _sql_bucket, deterministic=True)
    conn.create_aggregate("dec_sum", 1, _DecSum)  # type: ignore[arg-type]  # typeshed: int only


@dataclass(slots=True)
class Totals:
    """Additive numbers about a set of requests."""

    n: int = 0
    ok: int = 0
    failed: int = 0
    cancelled: int = 0
    refused: int = 0
    cache_hits: int = 0
    unknown_cost: int = 0
    prompt: int = 0
    completion: int = 0
    reasoning: int = 0
    cached: int = 0
    cost_reported: Decimal = Decimal(0)
    cost_estimated: Decimal = Decimal(0)
    saved_cache: Decimal = Decimal(0)
    priced_n: int = 0
    priced_prompt: int = 0
    priced_completion: int = 0
    priced_cached: int = 0
    priced_reasoning: int = 0
    gen_tokens: int = 0  # completion tokens of successful, non-cached requests with timings
    gen_ms: float = 0.0  # their generation time: latency - time to first token
    escalated: int = 0  # successful requests a later request re-asked with a stronger model

    def add(self, other: Totals, sign: int = 1) -> None:
        """Add (or with sign -1, subtract) another set of numbers.

        Field by field, written out: a report adds thousands of these, and a loop over the
        fields with getattr/setattr took several times as long (a test checks every field
        is added)."""
        self.n += sign * other.n
        self.ok += sign * other.ok
        self.failed += sign * other.failed
        self.cancelled += sign * other.cancelled
        self.refused += sign * other.refused
        self.cache_hits += sign * other.cache_hits
        self.unknown_cost += sign * other.unknown_cost
        self.prompt += sign * other.prompt
        self.completion += sign * other.completion
        self.reasoning += sign * other.reasoning
        self.cached += sign * other.cached
        self.cost_reported += sign * other.cost_reported
        self.cost_estimated += sign * other.cost_estimated
        self.saved_cache += sign * other.saved_cache
        self.priced_n += sign * other.priced_n
        self.priced_prompt += sign * other.priced_prompt
        self.priced_completion += sign * other.priced_completion
        self.priced_cached += sign * other.priced_cached
        self.priced_reasoning += sign * other.priced_reasoning
        self.gen_tokens += sign * other.gen_tokens
        self.gen_ms += sign * other.gen_ms
        self.escalated += sign * other.escalated

    @property
    def cost(self) -> Decimal:
        """Known cost: reported plus estimated."""
        return self.cost_reported + self.cost_estimated

    @property
    def cost_or_unknown(self) -> Decimal | None:
        """Known cost, or None when every request that could have cost money has unknown cost
        (so such a group reads "unknown", never $0)."""
        if self.unknown_cost and not self.priced_n:
            return None
        return self.cost

    @property
    def tokens_per_s(self) -> float | None:
        """Completion tokens over generation time, of successful non-cached requests."""
        return Throughput(self.gen_tokens, self.gen_ms).rate

    def values(self) -> list[Any]:
        """Column values in `COLUMNS` order, money as decimal strings."""
        return [
            str(v) if isinstance(v, Decimal) else v for v in (getattr(self, f) for f in _FIELDS)
        ]

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Totals:
        """Rebuild from column values in `COLUMNS` order (a report reads hundreds of rows:
        one converter per column, no attribute lookups by name)."""
        return cls(*[convert(v) for convert, v in zip(_CONVERTERS, values, strict=True)])


def _to_int(value: Any) -> int:
    return int(value) if value else 0


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(value) if value else Decimal(0)


def _to_float(value: Any) -> float:
    return float(value) if value else 0.0


_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Totals))
_MONEY = frozenset({"cost_reported", "cost_estimated", "saved_cache"})
_CONVERTERS: tuple[Callable[[Any], Any], ...] = tuple(
    _to_decimal if f in _MONEY else _to_float if f == "gen_ms" else _to_int for f in _FIELDS
)
COLUMNS = _FIELDS
KEY_COLUMNS = ("model", "task_type", "complexity")
PARTY_COLUMNS = ("client", "member")
HIST_DIMS = ("model", "task", "client", "member", "all")


@dataclass(frozen=True, slots=True)
class Finished:
    """The fields of a finished request row that the rollups use."""

    ts: float
    model: str | None
    task_type: str | None
    complexity: str | None
    status: str
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    cost_usd: Decimal | None
    cost_source: str
    cache_hit: bool
    saved_usd: Decimal | None
    latency_ms: float | None
    ttft_ms: float | None
    tokens_per_s: float | None
    client: str | None = None
    member: str | None = None
    escalated: bool = False  # a later request re-asked this one with a stronger model

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model or "", self.task_type or "", self.complexity or "")

    @property
    def party(self) -> tuple[str, str]:
        """(client, member), empty strings for none."""
        return (self.client or "", self.member or "")

    def totals(self) -> Totals:
        """This request's contribution to the rollups."""
        t = Totals(n=1)
        ok = self.status == "ok"
        t.ok = int(ok)
        t.failed = int(self.status in FAILED_STATUSES)
        t.cancelled = int(self.status == "cancelled")
        t.refused = int(self.status == "refused")
        t.cache_hits = int(self.cache_hit)
        t.prompt = self.prompt_tokens
        t.completion = self.completion_tokens
        t.reasoning = self.reasoning_tokens
        t.cached = self.cached_tokens
        if self.cache_hit:
            t.saved_cache = self.saved_usd or Decimal(0)
        elif self.cost_source == UNSENT:
            pass  # never billed: a known $0, neither priced nor unknown
        elif self.cost_usd is None:
            # Refused requests never reached a model: nothing was spent, nothing is unknown.
            t.unknown_cost = int(self.status != "refused")
        else:
            if self.cost_source == "reported":
                t.cost_reported = self.cost_usd
            else:
                t.cost_estimated = self.cost_usd
            t.priced_n = 1
            t.priced_prompt = self.prompt_tokens
            t.priced_completion = self.completion_tokens
            t.priced_cached = self.cached_tokens
            t.priced_reasoning = self.reasoning_tokens
        throughput = Throughput()
        throughput.add(
            self.completion_tokens, self.latency_ms, self.ttft_ms, ok=ok, cache_hit=self.cache_hit
        )
        t.gen_tokens = throughput.tokens
        t.gen_ms = throughput.gen_ms
        t.escalated = int(ok and self.escalated)
        return t

    def histogram_points(self) -> list[tuple[str, str, int, int]]:
        """(dim, key, metric, bucket) points of this request; successful requests only."""
        if self.status != "ok" or self.cache_hit:
            return []
        points: list[tuple[str, str, int, int]] = []
        keys = (self.model or "", self.task_type or "", self.client or "", self.member or "", "")
        for metric, value in ((METRIC_LATENCY, self.latency_ms), (METRIC_TTFT, self.ttft_ms)):
            if value is None:
                continue
            bucket = bucket_of(value)
            points += [(dim, key, metric, bucket) for dim, key in zip(HIST_DIMS, keys, strict=True)]
        return points


# Sums of rollup rows, in `COLUMNS` order. Counts are cast back to integers: PostgreSQL sums
# BIGINT columns as NUMERIC, which reads as a Decimal and costs a conversion per value.
SUM_COLUMNS = ", ".join(
    f"dec_sum({c})"
    if c in _MONEY
    else f"sum({c})"
    if c == "gen_ms"
    else f"CAST(sum({c}) AS BIGINT)"
    for c in COLUMNS
)

# `Finished.totals()` as SQL over `requests` rows, in `COLUMNS` order (kept in step with it,
# and tested against it). Conditions are counted with FILTER, which both backends run natively
# (PostgreSQL has no sum of booleans; its SQL-function stand-in cost ~5 µs a row).
_PRICED = f"(cache_hit = 0 AND cost_usd IS NOT NULL AND cost_source != '{UNSENT}')"
_TIMED = "(status = 'ok' AND cache_hit = 0 AND latency_ms > ttft_ms)"  # NULLs are not timed
REQUEST_TOTALS = ", ".join(
    (
        "count(*)",
        "count(*) FILTER (WHERE status = 'ok')",
        "count(*) FILTER (WHERE status IN ('error', 'interrupted'))",
        "count(*) FILTER (WHERE status = 'cancelled')",
        "count(*) FILTER (WHERE status = 'refused')",
        "sum(cache_hit)",
        "count(*) FILTER (WHERE cache_hit = 0 AND cost_usd IS NULL AND status != 'refused')",
        "sum(prompt_tokens)",
        "sum(completion_tokens)",
        "sum(reasoning_tokens)",
        "sum(cached_tokens)",
        f"dec_sum(CASE WHEN {_PRICED} AND cost_source = 'reported' THEN cost_usd END)",
        f"dec_sum(CASE WHEN {_PRICED} AND cost_source != 'reported' THEN cost_usd END)",
        "dec_sum(CASE WHEN cache_hit = 1 THEN coalesce(saved_usd, '0') END)",
        f"count(*) FILTER (WHERE {_PRICED})",
        f"sum(CASE WHEN {_PRICED} THEN prompt_tokens ELSE 0 END)",
        f"sum(CASE WHEN {_PRICED} THEN completion_tokens ELSE 0 END)",
        f"sum(CASE WHEN {_PRICED} THEN cached_tokens ELSE 0 END)",
        f"sum(CASE WHEN {_PRICED} THEN reasoning_tokens ELSE 0 END)",
        f"sum(CASE WHEN {_TIMED} THEN completion_tokens ELSE 0 END)",
        f"total(CASE WHEN {_TIMED} THEN latency_ms - ttft_ms END)",
        "count(*) FILTER (WHERE status = 'ok' AND escalated = 1)",
    )
)

FINISHED_COLUMNS = (  # the Finished fields, in order, as SQL
    "ts, model, task_type, complexity, status, prompt_tokens, completion_tokens, "
    "reasoning_tokens, cached_tokens, cost_usd, cost_source, cache_hit, saved_usd, latency_ms, "
    "ttft_ms, tokens_per_s, client, member, escalated"
)


def finished_from_row(row: Sequence[Any]) -> Finished:
    """Build from a row selected with `FINISHED_COLUMNS`."""
    return Finished(
        ts=row[0],
        model=row[1],
        task_type=row[2],
        complexity=row[3],
        status=row[4],
        prompt_tokens=row[5] or 0,
        completion_tokens=row[6] or 0,
        reasoning_tokens=row[7] or 0,
        cached_tokens=row[8] or 0,
        cost_usd=Decimal(row[9]) if row[9] is not None else None,
        cost_source=row[10] or "unknown",
        cache_hit=bool(row[11]),
        saved_usd=Decimal(row[12]) if row[12] is not None else None,
        latency_ms=row[13],
        ttft_ms=row[14],
        tokens_per_s=row[15],
        client=row[16],
        member=row[17],
        escalated=bool(row[18]),
    )


def _set(table: str, column: str) -> str:
    # The old value is named with its table: PostgreSQL finds a bare name ambiguous.
    old = f"{table}.{column}"
    if column in _MONEY:
        # Most contributions are "0" for two of the three money columns: skip the Python call.
        return (
            f"{column} = CASE WHEN excluded.{column} = '0' THEN {old} "
            f"ELSE dec_add({old}, excluded.{column}) END"
        )
    return f"{column} = {old} + excluded.{column}"


_CONFLICT_KEYS = {
    "rollup_day": ("day", *KEY_COLUMNS),
    "rollup_party": ("day", *PARTY_COLUMNS),
    "rollup_total": ("day",),
    "rollup_histogram": ("day", "dim", "key", "metric"),
}
_ROWS_PER_STATEMENT = 400  # SQLite allows 32,766 parameters a statement; rows have up to 25


@functools.lru_cache(maxsize=64)
def _upsert(table: str, rows: int) -> str:
    """One INSERT of `rows` rows that adds to the rows already there (built from the constant
    names above, never from input). One statement for all of a request's rows of a table: on
    PostgreSQL a statement each would cost a round trip or a pipeline slot each."""
    keys = _CONFLICT_KEYS[table]
    values = ("zeros", "counts") if table == "rollup_histogram" else COLUMNS
    columns = (*keys, *values)
    row = f"({', '.join('?' * len(columns))})"
    if table == "rollup_histogram":
        update = (
            "zeros = rollup_histogram.zeros + excluded.zeros, "
            "counts = hist_add(rollup_histogram.counts, excluded.counts)"
        )
    else:
        update = ", ".join(_set(table, c) for c in COLUMNS)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608
        + ", ".join([row] * rows)
        + f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {update}"
    )


def _write(conn: Connection, table: str, rows: dict[Any, list[Any]]) -> None:
    """Add `rows` (key tuple -> values) to `table`, in key order: on PostgreSQL two
    transactions then lock the rows they share in the same order and can never deadlock."""
    ordered = [
        [*(key if isinstance(key, tuple) else (key,)), *_sql(rows[key])] for key in sorted(rows)
    ]
    for i in range(0, len(ordered), _ROWS_PER_STATEMENT):
        chunk = ordered[i : i + _ROWS_PER_STATEMENT]
        conn.execute(_upsert(table, len(chunk)), [v for row in chunk for v in row])


def _add(target: dict[Any, list[Any]], key: Any, values: list[Any]) -> None:
    current = target.get(key)
    target[key] = (
        values if current is None else [a + b for a, b in zip(current, values, strict=True)]
    )


def apply(conn: Connection, items: Iterable[Finished], sign: int = 1) -> None:
    """Add (sign 1) or remove (sign -1) finished requests from the rollups, in the caller's
    transaction. Items are summed per rollup row first, so bulk loads write each row once."""
    cells: dict[Any, list[Any]] = {}
    parties: dict[Any, list[Any]] = {}
    days: dict[Any, list[Any]] = {}
    hist: dict[Any, BucketCounts] = {}
    for item in items:
        t = item.totals()
        values = [sign * getattr(t, f) for f in _FIELDS]
        points = item.histogram_points()
        for d in (day_of(item.ts), ALL_TIME):
            _add(days, d, values)
        for period in periods_of(hour_of(item.ts)):
            _add(cells, (period, *item.key), values)
            _add(parties, (period, *item.party), values)
            for dim, key, metric, bucket in points:
                counts = hist.get((period, dim, key, metric))
                if counts is None:
                    counts = hist[(period, dim, key, metric)] = BucketCounts()
                counts.add(bucket, sign)
    _write(conn, "rollup_day", cells)
    _write(conn, "rollup_party", parties)
    _write(conn, "rollup_total", days)
    if hist:
        _write(
            conn,
            "rollup_histogram",
            {key: [counts.zeros, counts.encode()] for key, counts in hist.items()},
        )


def add_escalation(conn: Connection, original: Finished) -> None:
    """Count a finished request as escalated (a later request re-asked it), in its own rollup
    rows: its groups' `escalated` goes up by one, nothing else changes."""
    if original.status != "ok":
        return
    values = [int(f == "escalated") for f in _FIELDS]
    _write(
        conn, "rollup_day", {(p, *original.key): values for p in periods_of(hour_of(original.ts))}
    )
    _write(
        conn,
        "rollup_party",
        {(p, *original.party): values for p in periods_of(hour_of(original.ts))},
    )
    _write(conn, "rollup_total", {d: values for d in (day_of(original.ts), ALL_TIME)})


def _sql(values: list[Any]) -> list[Any]:
    return [str(v) if isinstance(v, Decimal) else v for v in values]
