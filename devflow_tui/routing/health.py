"""Per-model health: rolling success rate and latency, and a circuit breaker.

Windows live in memory (one `deque` per model and metric) and are seeded from the database
at start, so the router knows yesterday's slow model today. The circuit breaker is
in-memory only: a past failure streak does not put a model into cooldown after a restart.

Breaker states per model:
- closed: requests flow; `cooldown_failures` consecutive failures open it;
- open: no requests until `cooldown_s` has passed (`in_cooldown` is True);
- half-open: one probe request may go (`is_available` returns True once and takes the
  probe); its success closes the breaker, its failure re-opens it with the cooldown doubled
  (capped at `max_cooldown_s`). A probe that never reports back is released after one more
  cooldown period, so a cancelled request cannot lock a model out forever.

Only failures that say something about the model count (provider, network, timeout, rate
limit, invalid response). A context-length error, a bad key or no credits are the request's
or the account's fault and do not touch the window nor the breaker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from devflow_tui.stats import percentile

_CHANGE_LOG = 256  # changes remembered for `HealthTracker.changed_since`
HEALTH_CATEGORIES = frozenset({"provider", "network", "timeout", "rate_limit", "invalid_response"})


@dataclass(frozen=True)
class HealthSample:
    """One past attempt, as stored in the database (field order is the row order)."""

    model: str
    ok: bool
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    category: str | None = None


@dataclass(frozen=True)
class ModelHealth:
    """Summary of one model's recent behaviour; None where there is no data."""

    samples: int = 0
    success_rate: float | None = None
    latency_p50: float | None = None
    latency_p95: float | None = None
    ttft_p50: float | None = None
    ttft_p95: float | None = None
    tokens_per_s: float | None = None


_EMPTY = ModelHealth()


@dataclass
class _Breaker:
    consecutive_failures: int = 0
    open_until: float | None = None  # None: closed
    cooldown_s: float = 0.0
    probe_taken_at: float | None = None


@dataclass
class _Windows:
    outcomes: deque[bool]
    latency: deque[float]
    ttft: deque[float]
    tps: deque[float]
    summary: ModelHealth | None = None  # cached until the next record
    breaker: _Breaker = field(default_factory=_Breaker)


class HealthTracker:
    """Rolling per-model statistics and a circuit breaker; thread-compatible, not thread-safe."""

    def __init__(
        self,
        window: int = 50,
        cooldown_failures: int = 3,
        cooldown_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_cooldown_s: float = 900.0,
    ) -> None:
        self.window = window
        self.cooldown_failures = max(1, cooldown_failures)
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max(cooldown_s, max_cooldown_s)
        self._clock = clock
        self._models: dict[str, _Windows] = {}
        self._open: set[str] = set()  # models whose breaker is not closed
        self._snapshot: dict[str, ModelHealth] = {}
        self._snapshot_version = -1
        self.version = 0  # bumps on every change, so callers may cache derived values
        # (version, model) for the latest changes, so callers can update what they derived
        # instead of starting over (`changed_since`); "" for a change to every model.
        self._changes: deque[tuple[int, str]] = deque(maxlen=_CHANGE_LOG)

    def _changed(self, model: str) -> None:
        self.version += 1
        self._changes.append((self.version, model))

    def changed_since(self, version: int) -> set[str] | None:
        """The models whose statistics changed after `version` (from `self.version`), or None
        when that is not known any more (too many changes since, or a `seed`)."""
        if version == self.version:
            return set()
        changes = self._changes
        if version > self.version or not changes or changes[0][0] > version + 1:
            return None
        models: set[str] = set()
        for number, model in reversed(changes):  # newest first: stop at the first seen
            if number <= version:
                break
            if not model:
                return None
            models.add(model)
        return models

    def _windows(self, model: str) -> _Windows:
        windows = self._models.get(model)
        if windows is None:
            size = self.window
            windows = _Windows(
                deque(maxlen=size), deque(maxlen=size), deque(maxlen=size), deque(maxlen=size)
            )
            self._models[model] = windows
        return windows

    # ------------------------------------------------------------------ recording

    def seed(self, rows: Iterable[HealthSample]) -> int:
        """Warm the windows from stored attempts (oldest first); returns how many were used."""
        used = 0
        for row in rows:
            if row.ok:
                self._add_success(row.model, row.latency_ms, row.ttft_ms, row.tokens_per_s)
            elif row.category in HEALTH_CATEGORIES:
                self._windows(row.model).outcomes.append(False)
            else:
                continue
            self._windows(row.model).summary = None
            used += 1
        self._changed("")
        return used

    def _add_success(
        self, model: str, latency_ms: float | None, ttft_ms: float | None, tps: float | None
    ) -> _Windows:
        windows = self._windows(model)
        windows.outcomes.append(True)
        if latency_ms is not None and latency_ms >= 0:
            windows.latency.append(float(latency_ms))
        if ttft_ms is not None and ttft_ms >= 0:
            windows.ttft.append(float(ttft_ms))
        if tps is not None and tps > 0:
            windows.tps.append(float(tps))
        windows.summary = None
        return windows

    def record_success(
        self,
        model: str,
        latency_ms: float | None = None,
        ttft_ms: float | None = None,
        tokens_per_s: float | None = None,
    ) -> None:
        """A request to `model` succeeded; closes its breaker."""
        windows = self._add_success(model, latency_ms, ttft_ms, tokens_per_s)
        windows.breaker = _Breaker()
        self._open.discard(model)
        self._changed(model)

    def record_failure(self, model: str, category: str) -> bool:
        """A request to `model` failed with `category`; True when this opened the breaker."""
        if category not in HEALTH_CATEGORIES:
            return False
        windows = self._windows(model)
        windows.outcomes.append(False)
        windows.summary = None
        self._changed(model)
        breaker = windows.breaker
        now = self._clock()
        if breaker.open_until is not None and now >= breaker.open_until:
            # A failure in half-open state: back to open, for twice as long.
            breaker.cooldown_s = min(self.max_cooldown_s, max(breaker.cooldown_s, 1.0) * 2)
            breaker.open_until = now + breaker.cooldown_s
            breaker.probe_taken_at = None
            breaker.consecutive_failures += 1
            return True
        if breaker.open_until is not None:
            return False  # already open (a request that was in flight when it opened)
        breaker.consecutive_failures += 1
        if breaker.consecutive_failures >= self.cooldown_failures:
            breaker.cooldown_s = self.cooldown_s
            breaker.open_until = now + self.cooldown_s
            self._open.add(model)
            return True
        return False

    # ------------------------------------------------------------------ queries

    def in_cooldown(self, model: str) -> bool:
        """True while the breaker is open, or half-open with its probe already in flight."""
        windows = self._models.get(model)
        if windows is None:
            return False
        breaker = windows.breaker
        if breaker.open_until is None:
            return False
        now = self._clock()
        if now < breaker.open_until:
            return True
        if breaker.probe_taken_at is None:
            return False
        # A probe that never reported back is given up on after one cooldown period.
        return now - breaker.probe_taken_at < max(breaker.cooldown_s, 1.0)

    def is_available(self, model: str) -> bool:
        """May a request go to `model` now? In half-open state, True once (that is the probe)."""
        if self.in_cooldown(model):
            return False
        windows = self._models.get(model)
        if windows is not None and windows.breaker.open_until is not None:
            windows.breaker.probe_taken_at = self._clock()
        return True

    def has_open_breakers(self) -> bool:
        """True when any model's breaker is open or half-open (a cheap pre-check)."""
        return bool(self._open)

    def cooldowns(self) -> dict[str, float]:
        """Models currently in cooldown and the seconds left (0 while a probe is in flight)."""
        now = self._clock()
        result: dict[str, float] = {}
        for model in self._open:
            if self.in_cooldown(model):
                until = self._models[model].breaker.open_until or now
                result[model] = max(0.0, until - now)
        return result

    def snapshot(self) -> dict[str, ModelHealth]:
        """Statistics of every model with data (cached until the next change; do not mutate).
        After a change a new dict is returned, with only the changed models summarised again."""
        if self._snapshot_version != self.version:
            changed = self.changed_since(self._snapshot_version)
            if changed is None:
                self._snapshot = {model: self.stats(model) for model in self._models}
            else:
                snapshot = dict(self._snapshot)
                for model in changed:
                    snapshot[model] = self.stats(model)
                self._snapshot = snapshot
            self._snapshot_version = self.version
        return self._snapshot

    def stats(self, model: str) -> ModelHealth:
        """Rolling statistics for `model` (all None when nothing is known)."""
        windows = self._models.get(model)
        if windows is None:
            return _EMPTY
        if windows.summary is None:
            windows.summary = self._summarise(windows)
        return windows.summary

    @staticmethod
    def _summarise(windows: _Windows) -> ModelHealth:
        outcomes = windows.outcomes
        latency, ttft, tps = windows.latency, windows.ttft, windows.tps
        return ModelHealth(
            samples=len(outcomes),
            success_rate=(sum(outcomes) / len(outcomes)) if outcomes else None,
            latency_p50=percentile(latency, 50),
            latency_p95=percentile(latency, 95),
            ttft_p50=percentile(ttft, 50),
            ttft_p95=percentile(ttft, 95),
            tokens_per_s=percentile(tps, 50),
        )
