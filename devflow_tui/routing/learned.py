"""The classifier's second stage: two small linear models over words, stems, cues and rule scores.

Multinomial logistic regressions read sparse binary features of a prompt:
- the task model: its words, their first five letters (a crude stemmer shared by English and
  Italian: "algorithm"/"algoritmo" -> "algor"), a length bucket and the rule scores of the first
  stage, and gives the task type; the classifier follows it over the rules only when it is
  confident (see `TaskClassifier.classify`);
- the complexity model: no words, about fifty structure cues of the first stage (the size of
  the deliverable, proofs, algorithmic difficulty, requirements and limits, how long the request
  is apart from what is pasted...), the task and the rule scores: word weights memorised the
  development prompts.
Both were chosen by 5-fold cross-validation on the development split. Weights are a JSON file in
the package (`devflow_tui/data/router_model.json`), written by `routing.training`; run time is
pure Python dictionary lookups, no download, no network.

Every prediction can say which features pulled it towards the winning label, so the decision
stays explainable: `Prediction.evidence`.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

WORD_CHARS = 1500  # words are read from the first 1,500 characters
STEM = 5  # a word longer than this also counts by its first STEM letters
_TOKEN = re.compile(r"[a-zàèéìíòóùç0-9_+#']+")
_LENGTH_BUCKETS = (8, 20, 50, 150, 500)
_KNOWN_WORDS_KEPT = 50_000  # tokens whose known features are kept (`known_features`)


def _length_bucket(words: int) -> str:
    for bound in _LENGTH_BUCKETS:
        if words < bound:
            return f"len:<{bound}"
    return f"len:>={_LENGTH_BUCKETS[-1]}"


def words_of(lower: str) -> list[str]:
    """The words the models read: the first `WORD_CHARS` characters, numbers as "<num>"."""
    tokens = [
        # A token's only digits are 0-9 (`_TOKEN`), so `isdecimal` is "all digits".
        "<num>" if t.isdecimal() else t.strip("'")
        for t in _TOKEN.findall(lower[:WORD_CHARS])
    ]
    return [t for t in tokens if t]


def features(
    lower: str,
    rule_scores: Mapping[str, float],
    extra: Sequence[str] = (),
    *,
    words: bool = True,
) -> set[str]:
    """The sparse binary features of a lower-cased prompt (plus `extra` names, e.g. the task):
    stems, whole words when `words`, length, a final question mark, the rule scores."""
    tokens = words_of(lower)
    found: set[str] = {f"p:{t[:STEM]}" for t in tokens if len(t) > STEM}
    if words:
        found.update(f"w:{t}" for t in tokens)
    found.add(_length_bucket(len(tokens)))
    if lower.rstrip().endswith("?"):
        found.add("q:ends-with-question")
    found.update(rule_features(rule_scores))
    found.update(extra)
    return found


def rule_features(rule_scores: Mapping[str, float]) -> list[str]:
    """The rule scores as features: "r:<task>" from 1 point, "r:<task>:strong" from 4."""
    found = [f"r:{task}" for task, score in rule_scores.items() if score >= 1.0]
    found.extend(f"r:{task}:strong" for task, score in rule_scores.items() if score >= 4.0)
    return found


@dataclass(frozen=True)
class Prediction:
    """The label, its probability, every label's probability and the strongest evidence."""

    label: str
    probability: float
    probabilities: Mapping[str, float]
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class LinearModel:
    """Multinomial logistic regression over sparse binary features."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: Mapping[str, tuple[float, ...]]
    # Per token of `_TOKEN`: its word and stem features (`words_of`, `features`) that this
    # model has weights for (`known_features`); filled as tokens are met.
    known_words: dict[str, tuple[str, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def known_features(
        self, lower: str, rule_scores: Mapping[str, float], extra: Sequence[str] = ()
    ) -> set[str]:
        """The features of `features(lower, rule_scores, extra)` that this model has weights
        for: the same prediction, without making a name for every word and stem it does not
        know (most of a pasted text's). Each token's features are worked out once."""
        tokens = _TOKEN.findall(lower[:WORD_CHARS])
        unique = set(tokens)
        known = self.known_words
        entries = list(map(known.get, unique))
        if None in entries:  # tokens met for the first time
            entries = [
                self._known_word(t) if e is None else e
                for t, e in zip(unique, entries, strict=True)
            ]
        found = set(itertools.chain.from_iterable(e for e in entries if e is not None))
        words = len(tokens)
        if "'" in lower:  # a token of apostrophes only is no word (`words_of`)
            words -= sum(1 for t in tokens if not t.strip("'"))
        found.add(_length_bucket(words))
        if lower.rstrip().endswith("?"):
            found.add("q:ends-with-question")
        found.update(rule_features(rule_scores))
        found.update(extra)
        return found

    def _known_word(self, token: str) -> tuple[str, ...]:
        """The word and stem features of `token` that this model knows, as `words_of` and
        `features` make them; kept in `known_words` (cleared when it grows large)."""
        word = "<num>" if token.isdecimal() else token.strip("'")
        weights = self.weights
        whole = "w:" + word
        entry: tuple[str, ...] = (whole,) if word and whole in weights else ()
        if len(word) > STEM and (stem := "p:" + word[:STEM]) in weights:
            entry = (stem, *entry)
        if len(self.known_words) >= _KNOWN_WORDS_KEPT:
            self.known_words.clear()
        self.known_words[token] = entry
        return entry

    def predict(self, found: set[str], *, evidence: bool = True) -> Prediction:
        """Softmax over the labels for these features; with `evidence`, the features that
        pulled hardest to the winner too (a caller that shows none can skip that work, or
        ask for it afterwards: `with_evidence`)."""
        weights = self.weights
        active = [name for name in found if name in weights]
        if active:
            # Column sums in C (zip, math.fsum) rather than a Python loop per feature and label.
            # `found` is a set, whose order depends on PYTHONHASHSEED: `fsum` is correctly
            # rounded, so a sum does not depend on the order (`sum` could differ in the last
            # bit from one process to the next, and a probability at a threshold with it).
            columns = zip(*map(weights.__getitem__, active), strict=True)
            totals = [b + math.fsum(col) for b, col in zip(self.bias, columns, strict=True)]
        else:
            totals = list(self.bias)
        top = max(totals)
        exps = [math.exp(t - top) for t in totals]
        norm = sum(exps)
        best = totals.index(top)
        return Prediction(
            label=self.labels[best],
            probability=exps[best] / norm,
            probabilities={label: e / norm for label, e in zip(self.labels, exps, strict=True)},
            evidence=self._evidence(active, best) if evidence else (),
        )

    def with_evidence(self, found: set[str], prediction: Prediction) -> Prediction:
        """`prediction`, made by `predict(found, evidence=False)`, with its evidence: the
        softmax is not worked out again."""
        weights = self.weights
        active = [name for name in found if name in weights]
        best = self.labels.index(prediction.label)
        return dataclasses.replace(prediction, evidence=self._evidence(active, best))

    def _evidence(self, active: Sequence[str], best: int) -> tuple[str, ...]:
        """The (up to three) features that pulled hardest to label `best`, in words: how much
        more each pulls to it than to the average other label, over 0.1. Worked out for the
        winner only (a row's sum and one difference per feature): most features are shown
        once, so keeping every label's pull for later cost more than it saved."""
        weights = self.weights
        others = len(self.labels) - 1
        pull: list[tuple[float, str]] = []
        for name in active:
            row = weights[name]
            w = row[best]
            value = w - (sum(row) - w) / others
            if value > 0.1:
                pull.append((value, name))
        pull.sort(reverse=True)
        return tuple(_show(name) for _, name in pull[:3])

    def to_json(self) -> dict[str, Any]:
        """The JSON shape `routing.training` writes and `from_json` reads."""
        return {
            "labels": list(self.labels),
            "bias": [round(b, 4) for b in self.bias],
            "weights": {k: [round(x, 3) for x in v] for k, v in sorted(self.weights.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearModel:
        """Build from the JSON shape of `to_json`."""
        labels = tuple(str(x) for x in data["labels"])
        return cls(
            labels=labels,
            bias=tuple(float(x) for x in data["bias"]),
            weights={str(k): tuple(float(x) for x in v) for k, v in data["weights"].items()},
        )


_SHOWN = {
    "w": "word '{}'",
    "p": "word '{}…'",
    "rt": "rules say {}",
    "r": "rules: {}",
    "t": "task {}",
    "k": "{}",
    "s": "{}",
}


def _show(name: str) -> str:
    kind, _, value = name.partition(":")
    shown = _SHOWN.get(kind)
    return name if shown is None else shown.format(value)


@dataclass(frozen=True)
class RouterModel:
    """The shipped models and what they were trained on."""

    complexity: LinearModel
    trained_on: str
    task: LinearModel | None = None


@cache
def bundled_model() -> RouterModel | None:
    """The model shipped in the package, or None when the data file is absent."""
    try:
        text = resources.files("devflow_tui.data").joinpath("router_model.json").read_text("utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)
    return RouterModel(
        complexity=LinearModel.from_json(data["complexity"]),
        trained_on=str(data.get("trained_on", "")),
        task=LinearModel.from_json(data["task"]) if "task" in data else None,
    )
