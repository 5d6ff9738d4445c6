"""Rollup building blocks: periods that tile any window, histogram buckets, and the SQL form
of a request's contribution agreeing with the Python one."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from devflow_tui.accounting import rollup
from devflow_tui.accounting.rollup import Totals
from devflow_tui.accounting.store import AnalyticsStore
from tests.accounting.conftest import T0, record


def _hours(period: int) -> range:
    size = rollup.period_size(period)
    index = period - size * 10_000_000
    return range(index * size, (index + 1) * size)


@pytest.mark.parametrize("seed", range(20))
def test_window_periods_tile_the_window(seed: int) -> None:
    rnd = random.Random(seed)
    first = rnd.randint(400_000, 500_000)
    last = first + rnd.randint(0, 24 * 45)
    periods = rollup.window_periods(first, last)
    hours = [h for p in periods for h in _hours(p)]
    assert hours == list(range(first, hours[-1] + 1))  # contiguous, no overlap, from `first`
    assert hours[-1] >= last and hours[-1] - last < 96  # ends in the block holding `last`
    assert len(periods) <= 5 + 3 + 3 + 45 // 4 + 1


def test_window_periods_empty_and_day_aligned() -> None:
    assert rollup.window_periods(10, 9) == []
    day = 20_001 * 24  # a UTC day not aligned to a 96-hour block
    assert rollup.window_periods(day, day + 23) == [24 * 10_000_000 + 20_001]
    # Open-ended on the right: an aligned 96-hour block is used whole.
    assert rollup.window_periods(20_000 * 24, 20_000 * 24 + 23) == [96 * 10_000_000 + 5000]


def test_periods_of_hour_has_one_block_per_size_and_all_time() -> None:
    hour = 493_123
    periods = rollup.periods_of(hour)
    assert periods[-1] == rollup.ALL_TIME and rollup.period_size(rollup.ALL_TIME) == 0
    sizes = [rollup.period_size(p) for p in periods[:-1]]
    assert sizes == list(rollup.BLOCK_HOURS)
    assert all(hour in _hours(p) for p in periods[:-1])


def test_first_full_hour_and_day() -> None:
    assert rollup.first_full_hour(7200.0) == 2 and rollup.first_full_hour(7200.5) == 3
    assert rollup.first_full_day(86400.0) == 1 and rollup.first_full_day(86399.0) == 1
    assert rollup.day_of(T0) == 20522


def test_buckets_are_within_three_percent() -> None:
    for value in (0.5, 1.0, 7.3, 250.0, 1234.5, 98765.0):
        assert rollup.bucket_value(rollup.bucket_of(value)) == pytest.approx(value, rel=0.03)
    assert rollup.bucket_value(rollup.bucket_of(0.0)) == 0.0
    assert rollup.bucket_of(-5) == rollup.bucket_of(0)


def _percentile(counts: dict[int, int], p: float) -> float | None:
    histogram = rollup.BucketCounts()
    for bucket, n in counts.items():
        histogram.add(bucket, n)
    return histogram.percentiles((p,))[0]


def test_percentiles_from_bucket_counts() -> None:
    assert _percentile({}, 50) is None
    assert _percentile({5: 0, 7: -1}, 50) is None
    b = rollup.bucket_of(100.0)
    assert _percentile({b: 3, b + 10: 0, b + 20: 1}, 75) == rollup.bucket_value(b)
    assert _percentile({b + 20: 1, b: 3}, 76) == rollup.bucket_value(b + 20)  # any order


def test_decimal_sql_functions_are_exact(store: AnalyticsStore) -> None:
    assert rollup.dec_add(None, "0.1") == "0.1"
    with store.reading() as conn:
        row = conn.execute(
            "SELECT dec_add('0.1', '0.2'), (SELECT dec_sum(x) FROM (SELECT '0.1' AS x "
            "UNION ALL SELECT '0.2' UNION ALL SELECT NULL) AS t)"
        ).fetchone()
    assert row == ("0.3", "0.3")


def test_totals_add_adds_every_field() -> None:
    ones = Totals.from_values([1] * len(rollup.COLUMNS))
    twos = Totals.from_values([1] * len(rollup.COLUMNS))
    twos.add(ones)
    assert twos == Totals.from_values([2] * len(rollup.COLUMNS))
    twos.add(ones, -1)
    assert twos == ones


def test_totals_add_and_subtract() -> None:
    a = Totals(n=2, cost_reported=Decimal("0.5"), gen_ms=10.0)
    b = Totals(n=1, cost_reported=Decimal("0.25"), gen_ms=2.5)
    a.add(b)
    assert (a.n, a.cost_reported, a.gen_ms) == (3, Decimal("0.75"), 12.5)
    a.add(b, -1)
    assert (a.n, a.cost_reported) == (2, Decimal("0.50"))
    assert Totals.from_values(a.values()) == a


def test_sql_totals_match_python_totals(store: AnalyticsStore) -> None:
    rnd = random.Random(1)
    for i in range(120):
        status = rnd.choice(["ok", "error", "cancelled", "interrupted", "refused"])
        hit = status == "ok" and rnd.random() < 0.2
        record(
            store,
            status=status,
            cache_hit=hit,
            saved=rnd.choice([None, "0.002"]),
            cost=rnd.choice([None, "0.001", "0.0000003"]),
            source=rnd.choice(["reported", "estimated"]),
            prompt=rnd.randint(0, 900),
            completion=rnd.randint(0, 300),
            reasoning=rnd.randint(0, 20),
            cached=rnd.randint(0, 50),
            tps=rnd.choice([None, 12.5, 80.0]),
            ts=T0 - i,
        )
    with store.reading() as conn:
        sql_row = conn.execute(f"SELECT {rollup.REQUEST_TOTALS} FROM requests").fetchone()  # noqa: S608
        rows = conn.execute(f"SELECT {rollup.FINISHED_COLUMNS} FROM requests").fetchall()  # noqa: S608
    expected = Totals()
    for row in rows:
        expected.add(rollup.finished_from_row(row).totals())
    assert Totals.from_values(sql_row) == expected
    # And the all-time rollup row holds the same numbers.
    with store.reading() as conn:
        sql = f"SELECT {', '.join(rollup.COLUMNS)} FROM rollup_total WHERE day = -1"  # noqa: S608
        total_row = conn.execute(sql).fetchone()
    assert Totals.from_values(total_row) == expected


@pytest.mark.parametrize(
    "b", ["[100:100]={1}", "[100:100]={-1}", "[10:10]={1}", "[200:200]={2}", "[5:7]={1,0,2}", None]
)
def test_hist_add_adds_bucket_by_bucket(b: str | None) -> None:
    """SQLite's `hist_add` (a request's write takes a shortcut) equals adding the buckets."""
    a = "[40:160]={" + ",".join(str(i % 7) for i in range(121)) + "}"
    expected = rollup.BucketCounts()
    expected.add_text(a)
    expected.add_text(b)
    got = rollup.BucketCounts()
    got.add_text(rollup.hist_add(a, b))
    assert got.as_dict() == expected.as_dict()
    assert rollup.hist_add(None, b) == b
    # PostgreSQL prints an array whose first subscript is 1 without bounds, NULL in a gap.
    pg = rollup.BucketCounts()
    pg.add_text("{3,NULL,1}", zeros=2)
    assert pg.as_dict() == {1: 3, 3: 1, -100_000: 2}
    assert pg.percentiles((50, 100)) == [rollup.bucket_value(1), rollup.bucket_value(3)]
