"""Prometheus metrics of the proxy (`GET /metrics`): requests, errors, cost and latency
histograms per model, with the client and API as labels where they matter.

prometheus-client writes the text exposition format and keeps the histograms; each proxy
has its own registry, so two in one process (tests, the dashboard) never mix counts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from devflow_tui.gateway.events import RequestOutcome

CONTENT_TYPE = CONTENT_TYPE_LATEST
_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


class ProxyMetrics:
    """Counters and histograms, fed one finished request at a time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "devflow_proxy_requests",
            "Requests answered by devflow serve.",
            ["api", "client", "model", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "devflow_proxy_errors",
            "Requests that ended in an error, by error category.",
            ["api", "client", "model", "category"],
            registry=self.registry,
        )
        self.cost = Counter(
            "devflow_proxy_cost_usd",
            "Known cost in USD (reported by OpenRouter, else estimated from the catalog).",
            ["client", "model"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "devflow_proxy_request_duration_seconds",
            "Time from sending upstream to the end of the answer.",
            ["model"],
            buckets=_SECONDS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "devflow_proxy_time_to_first_token_seconds",
            "Time to the first piece of a streamed answer.",
            ["model"],
            buckets=_SECONDS,
            registry=self.registry,
        )

    def observe(self, api: str, client: str, outcome: RequestOutcome) -> None:
        """Count one finished request."""
        model = outcome.model or outcome.requested_model or "none"
        self.requests.labels(api, client, model, outcome.status).inc()
        if outcome.status in ("error", "refused"):
            self.errors.labels(api, client, model, outcome.error_category or "unknown").inc()
        if outcome.cost_usd is not None:
            self.cost.labels(client, model).inc(float(outcome.cost_usd))
        if outcome.latency_ms is not None and outcome.status == "ok":
            self.latency.labels(model).observe(outcome.latency_ms / 1000)
        if outcome.ttft_ms is not None and outcome.status == "ok":
            self.ttft.labels(model).observe(outcome.ttft_ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
