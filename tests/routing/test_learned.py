"""The second stage: features, the linear model, its JSON form, training, the shipped file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from devflow_tui.routing.classifier import COMPLEXITIES, TaskClassifier
from devflow_tui.routing.evaluation import LabelledPrompt, split_of
from devflow_tui.routing.learned import LinearModel, RouterModel, bundled_model, features
from devflow_tui.routing.training import (
    TrainingSettings,
    cross_validate,
    main,
    train_complexity_model,
    train_linear,
    train_task_model,
    training_rows,
)
from devflow_tui.types import TASK_TYPES


def test_features_are_words_lengths_rules_and_extras() -> None:
    found = features("how do i sort 3 lists?", {"coding": 4.5, "chat": 0.2}, ["t:coding"])
    assert {"w:how", "w:sort", "w:<num>", "r:coding", "r:coding:strong", "t:coding"} <= found
    assert "q:ends-with-question" in found and "len:<8" in found
    assert "r:chat" not in found


def test_prediction_gives_probabilities_and_evidence() -> None:
    model = LinearModel(
        labels=("low", "high"),
        bias=(0.0, 0.0),
        weights={"w:prove": (-1.0, 2.0), "w:the": (0.01, 0.0)},
    )
    guess = model.predict({"w:prove", "w:the", "w:unknown"})
    assert guess.label == "high" and guess.probability > 0.9
    assert abs(sum(guess.probabilities.values()) - 1.0) < 1e-9
    assert guess.evidence == ("word 'prove'",)
    quiet = model.predict({"w:prove", "w:the", "w:unknown"}, evidence=False)
    assert (quiet.label, quiet.probabilities, quiet.evidence) == (
        guess.label,
        guess.probabilities,
        (),
    )
    # The evidence asked for afterwards (a task-model override shows it) is the same.
    assert model.with_evidence({"w:prove", "w:the", "w:unknown"}, quiet) == guess
    again = LinearModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.predict({"w:prove"}).label == "high"


def test_known_features_are_the_features_the_model_has_weights_for() -> None:
    """The classifier's fast path (`known_features`) reads what `features` makes, less the
    names the model has no weight for: the same prediction for every labelled prompt and for
    tokens that are numbers, apostrophes only, short and long words, met twice."""
    model = LinearModel(
        labels=("a", "b"),
        bias=(0.0, 0.0),
        weights={
            "w:<num>": (1.0, 0.0),
            "w:sort": (0.5, 0.1),
            "p:algor": (0.0, 2.0),
            "w:it's": (0.3, 0.0),
            "len:<8": (0.2, 0.1),
        },
    )
    for lower in (
        "sort 42 algorithms, it's ' '' x",
        "sort 42 algorithms, it's ' '' x",  # its tokens now known
        "'' ' 7 algoritmo?",
        "",
    ):
        rules = {"coding": 4.5}
        full = features(lower, rules, ("rt:coding",))
        known = model.known_features(lower, rules, ("rt:coding",))
        assert known <= full
        assert known & model.weights.keys() == full & model.weights.keys()
    assert {"w:<num>", "w:sort", "p:algor", "w:it's"} <= model.known_features(
        "sort 42 algorithms, it's", {}
    )
    shipped = bundled_model()
    assert shipped is not None and shipped.task is not None
    lines = Path(__file__).with_name("labelled_prompts.jsonl").read_text("utf-8").splitlines()
    for line in lines[:200]:
        lower = json.loads(line)["prompt"].lower()
        rules = {"analysis": 1.0, "chat": 4.0}
        assert shipped.task.predict(shipped.task.known_features(lower, rules)) == (
            shipped.task.predict(features(lower, rules))
        ), lower


def test_training_learns_a_separable_toy_problem() -> None:
    samples = [({"w:easy", f"w:x{i % 3}"}, "low") for i in range(12)] + [
        ({"w:hard", f"w:x{i % 3}"}, "high") for i in range(12)
    ]
    model = train_linear(samples, ("low", "medium", "high"), TrainingSettings(epochs=5))
    assert model.predict({"w:easy"}).label == "low"
    assert model.predict({"w:hard"}).label == "high"
    noise = model.weights.get("w:x0", (0.0, 0.0, 0.0))
    assert abs(noise[0] - noise[2]) < 0.3  # a word in both classes says little about either


def test_complexity_model_from_labelled_rows_and_the_command(tmp_path: Path) -> None:
    rows = [
        LabelledPrompt(prompt=f"how do I rename a file {i}", task_type="coding", complexity="low")
        for i in range(4)
    ] + [
        LabelledPrompt(
            prompt=f"Design a distributed lock-free scheduler with strict guarantees {i}",
            task_type="coding",
            complexity="high",
        )
        for i in range(4)
    ]
    model = train_complexity_model(rows, TrainingSettings(epochs=5, learning_rate=0.3))
    classifier = TaskClassifier(model=None)
    low = classifier.complexity_features("how do I rename a file", "coding")
    assert model.predict(low).label == "low"
    data = tmp_path / "labelled.jsonl"
    data.write_text("\n".join(r.model_dump_json() for r in rows), "utf-8")
    out = tmp_path / "model.json"
    assert main(["--extra", str(data), "--out", str(out)]) == 0
    saved = json.loads(out.read_text("utf-8"))
    assert "8 prompts" in saved["trained_on"] and saved["complexity"]["labels"][0] == "low"


def test_the_shipped_model_loads_and_says_what_it_learned_from() -> None:
    model = bundled_model()
    assert model is not None
    assert "Apache-2.0" in model.trained_on and "development split" in model.trained_on
    assert model.complexity.labels == ("low", "medium", "high")
    # The complexity model reads a few dozen structure cues, not words.
    assert 20 < len(model.complexity.weights) < 200
    assert not any(name.startswith(("p:", "w:")) for name in model.complexity.weights)
    assert model.task is not None and set(model.task.labels) == set(TASK_TYPES)
    assert 100 < len(model.task.weights) < 20_000


def test_a_confident_task_model_overrides_the_rules_and_says_so() -> None:
    # The rules read "draft ... email" as creative; a model trained on such prompts labelled
    # analysis takes over, and the signal says why.
    rows = [
        LabelledPrompt(
            prompt=f"draft an email memo about quarterly figures {i}", task_type="analysis"
        )
        for i in range(8)
    ] + [
        LabelledPrompt(prompt=f"write a poem about the sea number {i}", task_type="creative")
        for i in range(8)
    ]
    task = train_task_model(rows)
    rules = TaskClassifier(model=None).classify("draft an email memo about quarterly figures")
    assert rules.task_type == "creative"
    model = RouterModel(
        complexity=LinearModel(COMPLEXITIES, (0.0, 0.0, 0.0), {}), trained_on="", task=task
    )
    got = TaskClassifier(model=model).classify("draft an email memo about quarterly figures")
    assert got.task_type == "analysis"
    assert any(
        s.startswith("task model: analysis") and "over the rules' creative" in s
        for s in got.signals
    )
    # A model that agrees with the rules adds nothing.
    poem = TaskClassifier(model=model).classify("write a poem about the sea")
    assert poem.task_type == "creative"
    assert not any(s.startswith("task model") for s in poem.signals)


def test_cross_validation_predicts_each_row_with_a_model_that_did_not_see_it(
    tmp_path: Path,
) -> None:
    rows = [
        LabelledPrompt(
            id=f"p{i}", prompt=f"how do I rename file {i}", task_type="coding", complexity="low"
        )
        for i in range(6)
    ]
    results = cross_validate(rows, folds=3)
    assert sorted(r.id or "" for r, _ in results) == [f"p{i}" for i in range(6)]
    assert {got.complexity for _, got in results} <= {"low", "medium", "high"}
    assert {got.task_type for _, got in results} == {"coding"}
    # --arena reads only the development split of the two files.
    for lang in ("en", "it"):
        lines = [
            json.dumps(
                {
                    "id": f"arenahard-{i:04d}" + ("-it" if lang == "it" else ""),
                    "prompt": f"prompt {i}",
                    "task_type": "chat",
                    "complexity": "low",
                }
            )
            for i in range(40)
        ]
        (tmp_path / f"arena-hard-{lang}.jsonl").write_text("\n".join(lines), "utf-8")
    picked = training_rows(tmp_path, [])
    assert 30 < len(picked) < 80
    assert all(split_of(r.id or "") == "dev" for r in picked)


def test_an_unsure_low_or_high_complexity_becomes_medium() -> None:
    def classifier(weight: float) -> TaskClassifier:
        # One feature, an order for a whole deliverable, pulls from low to high by `weight`.
        complexity = LinearModel(
            COMPLEXITIES, (0.0, 0.0, 0.0), {"s:large-output": (-weight, 0.0, weight)}
        )
        return TaskClassifier(model=RouterModel(complexity=complexity, trained_on=""))

    prompt = "write a program that renames the files in a folder"
    sure = classifier(4.0).classify(prompt)  # high at 98%
    assert sure.complexity == "high"
    unsure = classifier(0.6).classify(prompt)  # high at 54%, below EXTREME_CONFIDENCE
    assert unsure.complexity == "medium"
    assert "unsure between levels: medium" in unsure.signals
    assert any(s.startswith("complexity: high 54%") for s in unsure.signals)


_SAME_IN_EVERY_PROCESS = """
from devflow_tui.routing.classifier import TaskClassifier
from devflow_tui.routing.learned import bundled_model

model = bundled_model()
assert model is not None and model.task is not None
everything = set(model.task.weights)  # every feature at once: thousands of terms per sum
print(repr(sorted(model.task.predict(everything).probabilities.items())))
classifier = TaskClassifier()
for prompt in (
    "Write a Python function that merges two sorted lists and explain its complexity",
    "Riassumi i vantaggi e gli svantaggi del lavoro da remoto, con esempi concreti",
):
    features = classifier.complexity_features(prompt, "coding")
    print(repr(sorted(model.complexity.predict(features).probabilities.items())))
    print(repr(sorted(model.task.predict(classifier.task_features(prompt)).probabilities.items())))
"""


def test_probabilities_are_the_same_whatever_the_hash_seed() -> None:
    """A prediction's features are a set, whose order follows PYTHONHASHSEED: the weights must
    add up to the same floats in every process, or a decision at a threshold could differ."""
    outputs = [
        subprocess.run(
            [sys.executable, "-c", _SAME_IN_EVERY_PROCESS],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0].count("\n") == 5
    assert outputs[0] == outputs[1]
