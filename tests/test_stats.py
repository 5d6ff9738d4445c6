"""One formula per figure: generation time, tokens per second, percentiles."""

from __future__ import annotations

import pytest

from devflow_tui.stats import Throughput, generation_ms, percentile, tokens_per_s


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    values = [float(v) for v in range(20, 0, -1)]  # unsorted on purpose
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile(values, 100) == 20.0
    assert percentile(values, 0) == 1.0


def test_generation_time_and_rate() -> None:
    assert generation_ms(1100.0, 100.0) == 1000.0
    assert generation_ms(100.0, 100.0) is None  # nothing generated after the first token
    assert generation_ms(None, 100.0) is None and generation_ms(100.0, None) is None
    assert tokens_per_s(50, 1000.0) == 50.0
    assert tokens_per_s(50, None) is None and tokens_per_s(50, 0.0) is None


def test_throughput_counts_only_generated_answers() -> None:
    total = Throughput()
    total.add(100, 1100.0, 100.0)  # 1 s
    total.add(100, 10100.0, 100.0)  # 10 s
    total.add(100, 0.0, 0.0, cache_hit=True)  # served from the cache: no generation
    total.add(100, 5000.0, 100.0, ok=False)  # failed
    total.add(100, None, None)  # timings unknown
    assert (total.tokens, total.gen_ms) == (200, 11000.0)
    assert total.rate == pytest.approx(200 / 11)
    assert Throughput().rate is None
