"""The numbers behind the latency and spend charts: recent requests per model.

A small view model, fed once from the database at start-up and then by each completed
request; the charts read it and never compute anything themselves.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from devflow_tui.stats import Throughput, percentile

if TYPE_CHECKING:
    from devflow_tui.accounting.records import RequestRow
    from devflow_tui.gateway.events import RequestOutcome


@dataclass(frozen=True)
class RequestSample:
    """One finished request as the charts see it."""

    model: str
    ts: float
    latency_ms: float | None
    ttft_ms: float | None
    tokens_per_s: float | None
    cost_usd: Decimal | None
    completion_tokens: int = 0
    cache_hit: bool = False
    ok: bool = True


def throughput(samples: list[RequestSample]) -> float | None:
    """Tokens per second exactly as the report computes it (`devflow_tui.stats`)."""
    total = Throughput()
    for s in samples:
        total.add(s.completion_tokens, s.latency_ms, s.ttft_ms, ok=s.ok, cache_hit=s.cache_hit)
    rate = total.rate
    return round(rate, 1) if rate is not None else None


@dataclass(frozen=True)
class ModelLatency:
    """Percentiles for one model over its recent requests."""

    model: str
    samples: int
    ttft_p50: float | None
    ttft_p95: float | None
    latency_p50: float | None
    latency_p95: float | None
    tokens_per_s: float | None


def sample_from_row(row: RequestRow) -> RequestSample | None:
    """A chart sample from a store row; None for rows that never reached a model."""
    if not row.model:
        return None
    return RequestSample(
        model=row.model,
        ts=row.ts,
        latency_ms=row.latency_ms,
        ttft_ms=row.ttft_ms,
        tokens_per_s=row.tokens_per_s,
        cost_usd=row.cost_usd,
        completion_tokens=row.completion_tokens,
        cache_hit=row.cache_hit,
        ok=row.status == "ok",
    )


def sample_from_outcome(outcome: RequestOutcome, ts: float) -> RequestSample | None:
    """A chart sample from a finished request; None when no model served it."""
    if not outcome.model:
        return None
    return RequestSample(
        model=outcome.model,
        ts=ts,
        latency_ms=outcome.latency_ms,
        ttft_ms=outcome.ttft_ms,
        tokens_per_s=outcome.tokens_per_s,
        cost_usd=outcome.cost_usd,
        completion_tokens=outcome.completion_tokens,
        cache_hit=outcome.cache_hit,
        ok=outcome.status == "ok",
    )


class RequestStats:
    """Recent samples per model (bounded) and the spend series, oldest first."""

    def __init__(self, window: int = 50, spend_points: int = 500) -> None:
        self.window = window
        self._by_model: dict[str, deque[RequestSample]] = {}
        self._spend: deque[tuple[float, Decimal]] = deque(maxlen=spend_points)
        self.total_spend = Decimal(0)
        self.unknown_cost = 0

    def add(self, sample: RequestSample) -> None:
        """Record one finished request."""
        self._by_model.setdefault(sample.model, deque(maxlen=self.window)).append(sample)
        if sample.cost_usd is None:
            self.unknown_cost += 1
        else:
            self.total_spend += sample.cost_usd
        self._spend.append((sample.ts, self.total_spend))

    def extend(self, samples: Iterable[RequestSample]) -> None:
        """Record many requests, in time order."""
        for sample in sorted(samples, key=lambda s: s.ts):
            self.add(sample)

    def __len__(self) -> int:
        return sum(len(samples) for samples in self._by_model.values())

    def models(self) -> list[str]:
        return sorted(self._by_model)

    def latency(self, since: float | None = None) -> list[ModelLatency]:
        """p50/p95 of time to first token and total latency, and tokens/s, per model, over the
        recent requests (only those at or after `since`, unix seconds, when given)."""
        result = []
        for model in self.models():
            samples = [s for s in self._by_model[model] if since is None or s.ts >= since]
            if not samples:
                continue
            ttft = [s.ttft_ms for s in samples if s.ttft_ms is not None]
            total = [s.latency_ms for s in samples if s.latency_ms is not None]
            result.append(
                ModelLatency(
                    model=model,
                    samples=len(samples),
                    ttft_p50=percentile(ttft, 50),
                    ttft_p95=percentile(ttft, 95),
                    latency_p50=percentile(total, 50),
                    latency_p95=percentile(total, 95),
                    tokens_per_s=throughput(samples),
                )
            )
        return result

    def spend_series(self) -> list[tuple[float, Decimal]]:
        """Cumulative spend after each request, as (unix time, USD)."""
        return list(self._spend)
