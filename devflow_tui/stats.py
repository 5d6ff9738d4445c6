"""The one formula for each performance figure: generation time, tokens per second and
percentiles. The pipeline (per request), the report's rollups, the dashboard's charts and the
routing health tracker all compute these figures here, so they cannot disagree.

Tokens per second is completion tokens over generation time (latency minus time to first
token), summed over the requests that count: successful, not served from the cache, with both
timings known and some time spent generating. A cache hit has no generation at all; counting it
would add its tokens over no time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


def generation_ms(latency_ms: float | None, ttft_ms: float | None) -> float | None:
    """Time spent generating after the first token; None when unknown or not positive."""
    if latency_ms is None or ttft_ms is None or latency_ms <= ttft_ms:
        return None
    return latency_ms - ttft_ms


def tokens_per_s(tokens: int, gen_ms: float | None) -> float | None:
    """Tokens over generation time; None without generation time."""
    if not gen_ms or gen_ms <= 0:
        return None
    return tokens / (gen_ms / 1000)


@dataclass
class Throughput:
    """Tokens per second over many requests: total tokens over total generation time."""

    tokens: int = 0
    gen_ms: float = 0.0

    def add(
        self,
        completion_tokens: int,
        latency_ms: float | None,
        ttft_ms: float | None,
        *,
        ok: bool = True,
        cache_hit: bool = False,
    ) -> None:
        """Count one request, if it is one that counts (see the module's docstring)."""
        gen = generation_ms(latency_ms, ttft_ms)
        if ok and not cache_hit and gen is not None:
            self.tokens += completion_tokens
            self.gen_ms += gen

    @property
    def rate(self) -> float | None:
        return tokens_per_s(self.tokens, self.gen_ms)


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100): the smallest value with at least p % of the
    values at or below it; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]
