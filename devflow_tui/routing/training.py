"""Trains the classifier's second stage (the task and complexity models in `routing.learned`);
pure Python.

    python -m devflow_tui.routing.training --arena DIR --extra tests/routing/labelled_prompts.jsonl
        --out devflow_tui/data/router_model.json

`--arena DIR` reads `arena-hard-en.jsonl` and `arena-hard-it.jsonl` and keeps only their
development split (`evaluation.split_of`), so the held-out split stays unseen. Extra files are
the project's own labelled prompts. Multinomial logistic regression, AdaGrad, L2; features
seen fewer than `min_count` times and weights that stay near zero are dropped, which keeps the
shipped file small.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devflow_tui.routing.classifier import COMPLEXITIES, Classification, TaskClassifier
from devflow_tui.routing.evaluation import LabelledPrompt, fold_of, load_labelled, split_of
from devflow_tui.routing.learned import LinearModel, RouterModel
from devflow_tui.types import TASK_TYPES


@dataclass(frozen=True)
class TrainingSettings:
    """Hyper-parameters; the defaults of `TASK` and `COMPLEXITY` were chosen by 5-fold
    cross-validation on the development split.

    Plain (unweighted) classes: weighting the rare "high" up made it too frequent and cost
    accuracy and low<->high swaps.
    """

    epochs: int = 10
    learning_rate: float = 0.1
    l2: float = 1e-3
    min_count: int = 2
    prune_below: float = 0.02
    seed: int = 7
    balance: bool = False  # weight classes by 1/sqrt(frequency)


TASK = TrainingSettings(epochs=20)
COMPLEXITY = TrainingSettings(l2=1e-2)


def train_linear(
    samples: Sequence[tuple[set[str], str]],
    labels: Sequence[str],
    settings: TrainingSettings | None = None,
) -> LinearModel:
    """Fit a `LinearModel` to (features, label) pairs."""
    settings = settings or TrainingSettings()
    counts: Counter[str] = Counter()
    for found, _ in samples:
        counts.update(found)
    index = {
        name: i for i, name in enumerate(n for n, c in counts.items() if c >= settings.min_count)
    }
    k = len(labels)
    label_index = {label: i for i, label in enumerate(labels)}
    freq = Counter(label for _, label in samples)
    class_weight = [
        (math.sqrt(len(samples) / (k * freq[label])) if settings.balance else 1.0)
        if freq[label]
        else 0.0
        for label in labels
    ]
    weights = [[0.0] * k for _ in index]
    squares = [[1e-8] * k for _ in index]
    bias = [0.0] * k
    bias_sq = [1e-8] * k
    rows = [([index[n] for n in found if n in index], label_index[y]) for found, y in samples]
    rnd = random.Random(settings.seed)
    lr, l2 = settings.learning_rate, settings.l2
    for _ in range(settings.epochs):
        rnd.shuffle(rows)
        for active, y in rows:
            totals = list(bias)
            for f in active:
                row = weights[f]
                for j in range(k):
                    totals[j] += row[j]
            top = max(totals)
            exps = [math.exp(t - top) for t in totals]
            norm = sum(exps)
            scale = class_weight[y]
            grad = [scale * (e / norm - (1.0 if j == y else 0.0)) for j, e in enumerate(exps)]
            for j in range(k):
                bias_sq[j] += grad[j] * grad[j]
                bias[j] -= lr * grad[j] / math.sqrt(bias_sq[j])
            for f in active:
                row, sq = weights[f], squares[f]
                for j in range(k):
                    g = grad[j] + l2 * row[j]
                    sq[j] += g * g
                    row[j] -= lr * g / math.sqrt(sq[j])
    kept = {
        name: tuple(weights[i])
        for name, i in index.items()
        if max(abs(w) for w in weights[i]) >= settings.prune_below
    }
    return LinearModel(labels=tuple(labels), bias=tuple(bias), weights=kept)


def complexity_samples(
    rows: Sequence[LabelledPrompt], classifier: TaskClassifier
) -> list[tuple[set[str], str]]:
    """(features, complexity) for every row with a complexity; the task is the labelled one."""
    return [
        (classifier.complexity_features(row.prompt, row.task_type), row.complexity)
        for row in rows
        if row.complexity
    ]


def task_samples(
    rows: Sequence[LabelledPrompt], classifier: TaskClassifier
) -> list[tuple[set[str], str]]:
    """(features, task type) for every row."""
    return [(classifier.task_features(row.prompt), row.task_type) for row in rows]


def training_rows(arena: Path | None, extra: Sequence[Path]) -> list[LabelledPrompt]:
    """The development split of the Arena-Hard files plus the extra files."""
    rows: list[LabelledPrompt] = []
    if arena is not None:
        for lang in ("en", "it"):
            for row in load_labelled(arena / f"arena-hard-{lang}.jsonl"):
                if row.id and split_of(row.id) == "dev":
                    rows.append(row)
    for path in extra:
        rows.extend(load_labelled(path))
    return rows


def train_complexity_model(
    rows: Sequence[LabelledPrompt], settings: TrainingSettings | None = None
) -> LinearModel:
    """The complexity model for these rows."""
    samples = complexity_samples(rows, TaskClassifier(model=None))
    return train_linear(samples, COMPLEXITIES, settings or COMPLEXITY)


def train_task_model(
    rows: Sequence[LabelledPrompt], settings: TrainingSettings | None = None
) -> LinearModel:
    """The task-type model for these rows."""
    samples = task_samples(rows, TaskClassifier(model=None))
    return train_linear(samples, TASK_TYPES, settings or TASK)


def train_router_model(rows: Sequence[LabelledPrompt], trained_on: str) -> RouterModel:
    """Both models for these rows."""
    return RouterModel(
        complexity=train_complexity_model(rows),
        task=train_task_model(rows),
        trained_on=trained_on,
    )


def cross_validate(
    rows: Sequence[LabelledPrompt],
    extra: Sequence[LabelledPrompt] = (),
    folds: int = 5,
) -> list[tuple[LabelledPrompt, Classification]]:
    """(row, classification) for every row, each classified with models that did not see it
    (nor its translation); `extra` rows are always in the training part."""

    def fold(row: LabelledPrompt) -> int:
        return fold_of(row.id or row.prompt, folds)

    results: list[tuple[LabelledPrompt, Classification]] = []
    for k in range(folds):
        train = [r for r in rows if fold(r) != k] + list(extra)
        classifier = TaskClassifier(model=train_router_model(train, f"fold {k}"))
        for row in rows:
            if fold(row) == k:
                results.append((row, classifier.classify(row.prompt)))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the router's second stage.")
    parser.add_argument("--arena", type=Path, help="folder with arena-hard-{en,it}.jsonl")
    parser.add_argument("--extra", type=Path, nargs="*", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = training_rows(args.arena, args.extra)
    trained_on = (
        f"{len(rows)} prompts: the 70% development split of Arena-Hard v0.1 prompts "
        "(lm-sys/arena-hard-auto, Apache-2.0) labelled per the routing taxonomy, with Italian "
        "translations, and the project's own labelled prompts"
    )
    task, complexity = train_task_model(rows), train_complexity_model(rows)
    data = {"trained_on": trained_on, "task": task.to_json(), "complexity": complexity.to_json()}
    args.out.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False), "utf-8")
    sizes = f"{len(task.weights)} task and {len(complexity.weights)} complexity"
    print(f"{args.out}: {sizes} features, {len(rows)} prompts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
