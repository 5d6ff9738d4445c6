"""Every routing decision over the labelled and Arena-Hard prompts, as JSON lines: a change
that should only make routing faster must leave this output byte for byte the same.

Run: `.venv/bin/python benchmarks/routing_decisions.py OUT.jsonl` in each tree (or with
`PYTHONPATH=<other tree>`), then `cmp` the two files. For each of the 746 prompts: the
classification (with and without the learned stage, with a previous turn and a large
context), and the decision on the synthetic 400-model catalog of `benchmarks/routing.py` and
on the bundled catalog snapshot, under varied criteria (priorities, max_tokens with and without
thinking room, a budget, a required capability, preferred, pinned, excluded and stronger-than
models, a context no window fits); between prompts a request is recorded in the health data
(sometimes three failures, which open a breaker), on an injected clock. Each decision's
candidates with their scores, reasons and costs, fallbacks, exclusions and warnings.
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from routing import (  # this folder is on the path when run
    load_prompts,
    seeded_health,
    synthetic_catalog,
)

from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.classifier import Classification, TaskClassifier
from devflow_tui.routing.health import HealthTracker
from devflow_tui.routing.selector import ModelSelector, RoutingDecision, SelectionCriteria

PRIORITIES = [(0.5, 0.5), (1.0, 0.0), (0.0, 1.0), (0.7, 0.3), (0.95, 0.1)]


def _classification(found: Classification) -> list[Any]:
    return [
        found.task_type,
        found.complexity,
        list(found.signals),
        found.language,
        found.prompt_tokens,
        dict(found.scores),
    ]


def _decision(decision: RoutingDecision) -> dict[str, Any]:
    return {
        "candidates": [
            [
                c.model.id,
                c.score,
                c.quality,
                c.reason,
                str(c.estimated_cost_usd),
                str(c.worst_case_cost_usd),
            ]
            for c in decision.candidates
        ],
        "fallbacks": decision.fallbacks,
        "excluded": decision.excluded,
        "warnings": decision.warnings,
        "expected_output_tokens": decision.expected_output_tokens,
        "pool_size": decision.pool_size,
        "resolved_names": decision.resolved_names,
        "summary": decision.exclusion_summary,
    }


def _variants(i: int, prompt_tokens: int, ids: list[str]) -> list[dict[str, Any]]:
    variants: list[dict[str, Any]] = [{"max_output_tokens": 2048}, {}]
    extra: list[tuple[int, dict[str, Any]]] = [
        (3, {"max_output_tokens": 200}),
        (4, {"remaining_budget_usd": Decimal("0.01")}),
        (6, {"required_capabilities": frozenset({"tools"})}),
        (8, {"preferred_models": [ids[i % len(ids)]]}),
        (9, {"pinned_model": ids[(i * 3) % len(ids)]}),
        (10, {"excluded_models": [ids[(i * 5) % len(ids)]]}),
        (11, {"stronger_than": ids[(i * 7) % len(ids)]}),
        (13, {"context_tokens": prompt_tokens + 150_000}),
    ]
    variants += [change for every, change in extra if i % every == 0]
    return variants


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    prompts = load_prompts("tests/routing/labelled_prompts.jsonl") + load_prompts(
        "benchmarks/data/arena-hard/arena-hard-en.jsonl",
        "benchmarks/data/arena-hard/arena-hard-it.jsonl",
    )
    classifier, rules = TaskClassifier(), TaskClassifier(model=None)
    now = [1000.0]
    setups: list[tuple[str, list[str], HealthTracker, ModelSelector]] = []
    for name, catalog in (
        ("synthetic", synthetic_catalog(400)),
        ("bundled", ModelCatalog.bundled()),
    ):
        health = seeded_health(catalog, clock=lambda: now[0])
        setups.append((name, [m.id for m in catalog], health, ModelSelector(catalog, health)))
    with Path(args[0]).open("w", encoding="utf-8") as out:
        for i, prompt in enumerate(prompts):
            context = (i % 7) * 3000
            found = classifier.classify(prompt, context_tokens=context)
            history = [prompts[i - 1]] if i else []
            big = 40_000 if i % 5 == 0 else 0
            record: dict[str, Any] = {
                "prompt": i,
                "classification": _classification(found),
                "rules alone": _classification(rules.classify(prompt)),
                "after a turn": _classification(
                    classifier.classify(prompt, history=history, context_tokens=big)
                ),
            }
            for name, ids, health, selector in setups:
                cost, performance = PRIORITIES[i % len(PRIORITIES)]
                base: dict[str, Any] = {
                    "task_type": found.task_type,
                    "complexity": found.complexity,
                    "cost_priority": cost,
                    "performance_priority": performance,
                    "context_tokens": found.prompt_tokens + context,
                }
                record[name] = [
                    _decision(selector.select(SelectionCriteria(**{**base, **change})))
                    for change in _variants(i, found.prompt_tokens, ids)
                ]
                answered = ids[(i * 7) % len(ids)]
                if i % 17 == 0:
                    for _ in range(3):
                        health.record_failure(answered, "provider")
                else:
                    health.record_success(answered, latency_ms=1000.0 + i % 50, ttft_ms=300)
                now[0] += 1.0
            out.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    print(f"{len(prompts)} prompts' decisions written to {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
