"""HealthTracker: rolling windows, percentiles, seeding, circuit breaker (injected clock)."""

from __future__ import annotations

from typing import Any

from devflow_tui.routing.health import HealthSample, HealthTracker, ModelHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_unknown_model_has_no_data() -> None:
    tracker = HealthTracker()
    assert tracker.stats("acme/x") == ModelHealth()
    assert not tracker.in_cooldown("acme/x")
    assert tracker.is_available("acme/x")
    assert tracker.cooldowns() == {}


def test_percentiles_and_success_rate_over_the_window() -> None:
    tracker = HealthTracker(window=10)
    for latency in range(100, 1100, 100):  # 100..1000
        tracker.record_success("m", latency_ms=latency, ttft_ms=latency / 10, tokens_per_s=50)
    tracker.record_failure("m", "provider")  # pushes the oldest outcome out
    stats = tracker.stats("m")
    assert stats.samples == 10
    assert stats.success_rate == 0.9
    assert stats.latency_p50 == 500
    assert stats.latency_p95 == 1000
    assert stats.ttft_p50 == 50
    assert stats.ttft_p95 == 100
    assert stats.tokens_per_s == 50


def test_windows_roll() -> None:
    tracker = HealthTracker(window=3)
    for latency in (5000, 5000, 5000, 100, 100, 100):
        tracker.record_success("m", latency_ms=latency)
    assert tracker.stats("m").latency_p95 == 100


def test_stats_are_cached_until_the_next_record() -> None:
    tracker = HealthTracker()
    tracker.record_success("m", latency_ms=100)
    first = tracker.stats("m")
    assert tracker.stats("m") is first
    version = tracker.version
    tracker.record_success("m", latency_ms=300)
    assert tracker.version > version
    assert tracker.stats("m") is not first
    assert tracker.stats("m").latency_p50 == 100  # nearest rank of [100, 300]


def test_account_and_request_errors_do_not_count() -> None:
    tracker = HealthTracker(cooldown_failures=1)
    for category in ("auth", "credits", "moderation", "user", "cancelled", "budget"):
        assert tracker.record_failure("m", category) is False
    assert tracker.stats("m").samples == 0
    assert not tracker.in_cooldown("m")


def test_breaker_opens_after_consecutive_failures_and_probes_after_cooldown() -> None:
    clock = Clock()
    tracker = HealthTracker(cooldown_failures=3, cooldown_s=60, clock=clock)
    assert tracker.record_failure("m", "provider") is False
    assert tracker.record_failure("m", "timeout") is False
    assert tracker.record_failure("m", "network") is True
    assert tracker.in_cooldown("m") and not tracker.is_available("m")
    assert tracker.cooldowns() == {"m": 60.0}
    clock.now += 59
    assert tracker.cooldowns() == {"m": 1.0}
    clock.now += 1
    # Half-open: exactly one probe may go.
    assert not tracker.in_cooldown("m")
    assert tracker.is_available("m") is True
    assert tracker.is_available("m") is False
    assert tracker.cooldowns() == {"m": 0.0}
    tracker.record_success("m", latency_ms=200)
    assert tracker.is_available("m") and tracker.is_available("m")
    assert tracker.cooldowns() == {}


def test_a_success_resets_the_failure_streak() -> None:
    tracker = HealthTracker(cooldown_failures=2, clock=Clock())
    tracker.record_failure("m", "provider")
    tracker.record_success("m")
    assert tracker.record_failure("m", "provider") is False
    assert not tracker.in_cooldown("m")


def test_failed_probe_reopens_with_doubled_capped_cooldown() -> None:
    clock = Clock()
    tracker = HealthTracker(cooldown_failures=1, cooldown_s=60, clock=clock, max_cooldown_s=200)
    assert tracker.record_failure("m", "provider")
    clock.now += 60
    assert tracker.is_available("m")
    assert tracker.record_failure("m", "provider") is True
    assert tracker.cooldowns()["m"] == 120
    clock.now += 120
    assert tracker.is_available("m")
    assert tracker.record_failure("m", "rate_limit") is True
    assert tracker.cooldowns()["m"] == 200  # capped


def test_failures_while_open_do_not_extend_the_cooldown() -> None:
    clock = Clock()
    tracker = HealthTracker(cooldown_failures=1, cooldown_s=60, clock=clock)
    tracker.record_failure("m", "provider")
    clock.now += 10
    assert tracker.record_failure("m", "provider") is False  # was in flight when it opened
    assert tracker.cooldowns()["m"] == 50


def test_a_probe_that_never_reports_is_released_after_a_cooldown_period() -> None:
    clock = Clock()
    tracker = HealthTracker(cooldown_failures=1, cooldown_s=30, clock=clock)
    tracker.record_failure("m", "provider")
    clock.now += 30
    assert tracker.is_available("m")
    clock.now += 29
    assert tracker.in_cooldown("m")
    clock.now += 1
    assert not tracker.in_cooldown("m")
    assert tracker.is_available("m")


def test_seed_fills_windows_but_never_opens_the_breaker() -> None:
    tracker = HealthTracker(cooldown_failures=2)
    rows = [
        HealthSample("a", True, 1000.0, 200.0, 40.0, None),
        HealthSample("a", False, None, None, None, "provider"),
        HealthSample("a", False, None, None, None, "provider"),
        HealthSample("a", False, None, None, None, "auth"),  # not the model's fault: ignored
        HealthSample("b", True, 300.0, None, None, None),
    ]
    assert tracker.seed(rows) == 4
    stats = tracker.stats("a")
    assert stats.samples == 3
    assert stats.success_rate == 1 / 3
    assert stats.latency_p50 == 1000.0 and stats.ttft_p50 == 200.0 and stats.tokens_per_s == 40.0
    assert not tracker.in_cooldown("a")
    assert tracker.stats("b").ttft_p50 is None
    assert tracker.stats("b").samples > 0


def test_positional_rows_from_the_database_work() -> None:
    tracker = HealthTracker()
    row: tuple[Any, ...] = ("m", 1, 120.5, 30.0, 88.0, None)  # what a sqlite row looks like
    tracker.seed([HealthSample(*row)])
    assert tracker.stats("m").latency_p50 == 120.5


def test_changed_since_names_the_models_changed_and_the_snapshot_follows() -> None:
    health = HealthTracker()
    health.record_success("a", latency_ms=100.0)
    start = health.version
    first = health.snapshot()
    health.record_success("b", latency_ms=200.0)
    health.record_failure("a", "provider")
    health.record_failure("a", "auth")  # not the model's fault: no change
    assert health.changed_since(start) == {"a", "b"}
    assert health.changed_since(health.version) == set()
    second = health.snapshot()
    assert second is not first and first["a"].samples == 1  # an earlier snapshot stays
    assert second["a"] == health.stats("a") and second["b"] == health.stats("b")
    health.seed([HealthSample("c", True, 50.0)])
    assert health.changed_since(start) is None  # a seed may change every model
    assert health.snapshot()["c"].samples == 1
