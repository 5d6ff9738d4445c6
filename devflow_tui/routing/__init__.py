"""Routing: which model answers a prompt, and why.

- `catalog`: `ModelCatalog` / `CatalogModel` (exact Decimal prices, capabilities) and
  `CatalogService` (fresh cache -> live /models -> stale cache -> bundled snapshot).
- `classifier`: `TaskClassifier().classify(prompt, history=..., context_tokens=...)`.
- `families`: expected quality per task type (known families + a prior for unknown models).
- `health`: `HealthTracker` (rolling success/latency windows, circuit breaker).
- `selector`: `ModelSelector(catalog, health, settings.routing).select(SelectionCriteria(...))`.
- `fallback`: `next_step(error, ...)`, what to do after a model failed.

Pure CPU and no I/O except `CatalogService`; nothing here imports Textual.
"""
