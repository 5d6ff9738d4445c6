"""Routing benchmark: one full decision (classify + select) over a 400-model catalog.

Run: `.venv/bin/python benchmarks/routing.py [--models 400] [--decisions 2000] [--rounds 5]`.
The catalog is synthetic but shaped like OpenRouter's: a quarter known families, the rest
made-up ids; prices over four decades, windows from 8k to 1M, mixed capabilities, health
data for a third of the models. Prompts are the labelled English and Italian test prompts,
cycled, with a few criteria variations. Target: p99 < 1 ms for the whole decision (the
original design asked for 50 ms); exits 1 when it is missed. The 600 real Arena-Hard prompts
(median 136 characters, some pasted files of several thousand) are timed too and reported.

Baselines in the same process, interleaved round by round with the decisions measured: the
rules alone (`TaskClassifier(model=None)`: what the learned stage costs) and a selector that
scores every model (pruning off: what `_best_rows` saves). A fourth run records a request's
outcome in the health data before each decision (untimed), as in use: the selector's cached
score tables are then updated, not reused as they are. Besides wall-clock percentiles the
script prints CPU-time ones (`time.thread_time_ns`), which other work on a loaded machine
disturbs less than the wall clock.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devflow_tui.routing import selector as selector_module
from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.classifier import TaskClassifier
from devflow_tui.routing.health import HealthTracker
from devflow_tui.routing.selector import ModelSelector, SelectionCriteria

TARGET_MS = 1.0
ORIGINAL_BUDGET_MS = 50.0
KNOWN = [
    "anthropic/claude-sonnet-4.5",
    "openai/gpt-5-mini",
    "google/gemini-2.5-flash",
    "deepseek/deepseek-r1",
    "qwen/qwen3-coder",
    "mistralai/codestral-2508",
    "meta-llama/llama-3.3-70b-instruct",
    "x-ai/grok-code-fast-1",
]
FALLBACK_PROMPTS = [
    "Write a Python function that merges two sorted lists",
    "Riassumi i vantaggi e gli svantaggi del lavoro da remoto",
    "Prove that there are infinitely many primes",
    "Scrivi una poesia sul mare d'inverno",
    "hi!",
]


def synthetic_catalog(n: int, seed: int = 3) -> ModelCatalog:
    rnd = random.Random(seed)
    entries: list[dict[str, Any]] = []
    for i in range(n):
        known = i % 4 == 0
        model_id = f"{KNOWN[i % len(KNOWN)]}-v{i}" if known else f"vendor{i % 37}/model-{i}"
        completion = 10 ** rnd.uniform(-7.5, -4.2)
        prompt = completion / rnd.choice([2, 3, 4, 5, 8])
        params = ["max_tokens", "temperature"]
        if rnd.random() < 0.6:
            params += ["tools", "tool_choice"]
        if rnd.random() < 0.3:
            params += ["reasoning", "include_reasoning"]
        if rnd.random() < 0.5:
            params.append("structured_outputs")
        inputs = ["text", "image"] if rnd.random() < 0.4 else ["text"]
        context = rnd.choice([8_192, 32_768, 65_536, 131_072, 200_000, 400_000, 1_048_576])
        free = rnd.random() < 0.05
        entries.append(
            {
                "id": model_id + (":free" if free else ""),
                "name": model_id,
                "created": 1_690_000_000 + rnd.randint(0, 80_000_000),
                "context_length": context,
                "architecture": {"input_modalities": inputs, "output_modalities": ["text"]},
                "pricing": {
                    "prompt": "0" if free else f"{prompt:.12f}",
                    "completion": "0" if free else f"{completion:.12f}",
                },
                "top_provider": {"context_length": context, "max_completion_tokens": 16_384},
                "supported_parameters": params,
            }
        )
    return ModelCatalog.from_raw(entries)


def seeded_health(
    catalog: ModelCatalog, clock: Callable[[], float] = time.monotonic
) -> HealthTracker:
    """Health data for a third of the models: 20 requests each, about 90% of them answered."""
    health = HealthTracker(clock=clock)
    rnd = random.Random(5)
    for model in list(catalog)[::3]:
        for _ in range(20):
            if rnd.random() < 0.9:
                health.record_success(model.id, latency_ms=rnd.uniform(300, 9000), ttft_ms=300)
            else:
                health.record_failure(model.id, "provider")
    return health


def load_prompts(*names: str) -> list[str]:
    """Prompts from JSONL files under the project root (timing only: labels are not read)."""
    root = Path(__file__).resolve().parent.parent
    prompts: list[str] = []
    for name in names:
        path = root / name
        if path.exists():
            lines = path.read_text("utf-8").splitlines()
            prompts += [json.loads(line)["prompt"] for line in lines if line]
    return prompts or FALLBACK_PROMPTS


Clock = Callable[[], int]


def time_decisions(
    prompts: list[str],
    decisions: int,
    classifier: TaskClassifier,
    selector: ModelSelector,
    clock: Clock = time.perf_counter_ns,
    before: Callable[[int], None] | None = None,
) -> tuple[list[float], list[float], list[float]]:
    """Whole-decision, classifier and selector times in ms for `decisions` decisions;
    `before(i)` runs (untimed) before decision `i`."""
    priorities = [(0.5, 0.5), (1.0, 0.0), (0.0, 1.0), (0.7, 0.3)]
    whole: list[float] = []
    classify_only: list[float] = []
    select_only: list[float] = []
    for i in range(decisions):
        prompt = prompts[i % len(prompts)]
        cost, perf = priorities[i % len(priorities)]
        if before is not None:
            before(i)
        t0 = clock()
        result = classifier.classify(prompt, context_tokens=(i % 7) * 3000)
        t1 = clock()
        decision = selector.select(
            SelectionCriteria(
                task_type=result.task_type,
                complexity=result.complexity,
                cost_priority=cost,
                performance_priority=perf,
                context_tokens=result.prompt_tokens + (i % 7) * 3000,
                max_output_tokens=2048,
            )
        )
        t2 = clock()
        assert decision.chosen is not None
        classify_only.append((t1 - t0) / 1e6)
        select_only.append((t2 - t1) / 1e6)
        whole.append((t2 - t0) / 1e6)
    return whole, classify_only, select_only


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def scoring_every_model() -> Iterator[None]:
    """The baseline selector: `_best_rows` gives up, so every survivor is scored."""
    saved = selector_module._best_rows
    selector_module._best_rows = lambda *args: None
    try:
        yield
    finally:
        selector_module._best_rows = saved


def _line(name: str, values: list[float], base: list[float] | None = None) -> str:
    median, p99 = statistics.median(values), percentile(values, 0.99)
    text = f"{name:<34} median {median:.3f} ms, p99 {p99:.3f} ms"
    if base is not None:
        text += f"  ({median / statistics.median(base):.2f}x / {p99 / percentile(base, 0.99):.2f}x)"
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", type=int, default=400)
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    args = parser.parse_args(argv)

    catalog = synthetic_catalog(args.models)
    # The health data's clock stands still: on the real clock the seeded breakers all closed
    # 60 s after seeding, together, inside whichever timed round was running then (each close
    # rebuilds the selector's tables), so a run's p99 depended on how fast the machine was.
    # In use, breakers open and close one at a time; the "recorded request" run below covers
    # health that changes between decisions.
    health = seeded_health(catalog, clock=lambda: 0.0)
    started = time.perf_counter()
    selector = ModelSelector(catalog, health)
    setup_ms = (time.perf_counter() - started) * 1000
    classifier = TaskClassifier()
    rules = TaskClassifier(model=None)
    prompts = load_prompts("tests/routing/labelled_prompts.jsonl")
    real = load_prompts(
        "benchmarks/data/arena-hard/arena-hard-en.jsonl",
        "benchmarks/data/arena-hard/arena-hard-it.jsonl",
    )

    for prompt in prompts[:50] + real[:50]:  # warm-up: regex caches, the model's weights
        classifier.classify(prompt)
        rules.classify(prompt)

    per_round = max(1, args.decisions // args.rounds)
    runs: dict[str, tuple[list[float], list[float], list[float]]] = {}

    ids = [model.id for model in catalog]

    def record(i: int) -> None:
        """A request answered between two decisions, as in use: the health data changes."""
        health.record_success(ids[(i * 7) % len(ids)], latency_ms=1000.0 + i % 50, ttft_ms=300)

    def run(
        name: str,
        chosen: TaskClassifier,
        clock: Clock,
        before: Callable[[int], None] | None = None,
    ) -> None:
        got = time_decisions(prompts, per_round, chosen, selector, clock, before)
        mine = runs.setdefault(name, ([], [], []))
        for total, part in zip(mine, got, strict=True):
            total.extend(part)

    for _ in range(args.rounds):
        run("wall", classifier, time.perf_counter_ns)
        run("cpu", classifier, time.thread_time_ns)
        run("rules only", rules, time.thread_time_ns)
        with scoring_every_model():
            run("every model scored", classifier, time.thread_time_ns)
        run("after a recorded request", classifier, time.thread_time_ns, record)
    whole, classify_only, select_only = runs["wall"]
    cpu_whole, cpu_classify, cpu_select = runs["cpu"]
    real_whole, _, _ = time_decisions(real, len(real), classifier, selector)
    median = statistics.median(whole)
    p99 = percentile(whole, 0.99)
    print(f"catalog: {len(catalog)} models; selector setup {setup_ms:.1f} ms (once per catalog)")
    print(f"decisions: {len(whole)} over {len(prompts)} prompts, {args.rounds} rounds")
    print(
        f"classify + select: median {median:.3f} ms, p99 {p99:.3f} ms "
        f"({ORIGINAL_BUDGET_MS / median:.0f}x under the original "
        f"{ORIGINAL_BUDGET_MS:.0f} ms budget)"
    )
    print(_line("classifier alone:", classify_only))
    print(_line("selector alone:", select_only))
    print(
        f"real prompts ({len(real)} Arena-Hard, up to {max(map(len, real)):,} characters): "
        f"median {statistics.median(real_whole):.3f} ms, p99 {percentile(real_whole, 0.99):.3f} ms"
    )
    print("CPU time (thread_time), ratios against the same-process baselines:")
    print(_line("  classify + select:", cpu_whole))
    print(_line("  classifier:", cpu_classify, runs["rules only"][1]) + " vs the rules alone")
    scored_all = runs["every model scored"]
    print(_line("  selector:", cpu_select, scored_all[2]) + " vs every model scored")
    print(_line("  rules alone + select:", runs["rules only"][0]))
    print(_line("  every model scored, whole:", scored_all[0]))
    print(_line("  after a recorded request, whole:", runs["after a recorded request"][0]))
    if p99 >= TARGET_MS:
        print(
            f"TARGET MISSED: p99 {p99:.3f} ms >= {TARGET_MS} ms (CPU-time p99 "
            f"{percentile(cpu_whole, 0.99):.3f} ms)"
        )
        return 1
    print(f"target met: p99 < {TARGET_MS} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
