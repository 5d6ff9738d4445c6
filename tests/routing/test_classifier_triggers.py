"""The classifier's shortcuts: the pattern gates (`_triggers`: a rule's pattern is skipped
only on a text where it cannot match, so the decisions are those of searching every pattern)
and the bullet-line count tried only at line starts."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from pathlib import Path

import pytest

from devflow_tui.routing import classifier as classifier_module
from devflow_tui.routing.classifier import (
    _BULLET,
    TaskClassifier,
    _bullet_lines,
    _triggers,
    _word_hits,
    scanned,
)

ROOT = Path(__file__).resolve().parents[2]
TRICKY = [
    "C++ write code for me",
    "#include <stdio.h> write a function",
    "x+write a program in C#",
    "rewrite this, make it more formal",
    "İstanbul: write a python script",
    "Could you compare A or a better B? vs. C",
    "A pair of two dice and the three dice",
    "What's 2+2? what is your name",
    "tell me: step by step, pros and cons, km/h",
    "scrivi un programma; è meglio così? cos'è",
    "preWRITE precreate write_x _write",
]


def _texts() -> list[str]:
    texts = list(TRICKY)
    for name in ("tests/routing/labelled_prompts.jsonl", "tests/routing/holdout_prompts.jsonl"):
        lines = (ROOT / name).read_text("utf-8").splitlines()
        texts += [json.loads(line)["prompt"] for line in lines if line.strip()]
    return texts


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bfoo\b|bar baz", (frozenset({"foo"}), frozenset(), ("bar baz",))),
        (r"\b(?:write|make me) (?:a|an)", (frozenset({"write", "make"}), frozenset(), ())),
        (r"\b(?:write|create)\w*", (frozenset(), frozenset({"write", "create"}), ())),
        (r"\bfoos?x|tells? the", (frozenset(), frozenset({"foo"}), ("tell",))),
        (r"\bquant[ie] |km/h", (frozenset(), frozenset({"quant"}), ("km/h",))),
        (r"^\W*hello|\bfoo", None),  # an anchored alternative: always searched
        (r"\b\d+ words", None),
        (r"\b(?:a|b)?c", None),  # an optional group: nothing required
        (r"\b(?:what(?:'s| is)|who) ", None),  # an alternative that is not a plain word
        (r"[xy] = 1", None),
    ],
)
def test_triggers_are_what_every_match_starts_with_or_contains(
    pattern: str, expected: tuple[frozenset[str], frozenset[str], tuple[str, ...]] | None
) -> None:
    assert _triggers(pattern, 0) == expected
    assert _triggers(pattern, re.I) is None  # case-folded: literals are not the text's


def test_a_gated_pattern_is_skipped_only_where_it_cannot_match() -> None:
    checked = skipped = 0
    for text in _texts():
        lower = scanned(text).lower()
        _, possible = _word_hits(classifier_module._TOKEN.findall(lower))
        for number, rule in enumerate(classifier_module._RULES):
            if not rule.gated or rule.find is None:
                continue
            passes = number in possible or any(c in lower for c in rule.contains)
            skipped += not passes
            if rule.find(lower) is not None:
                checked += 1
                assert passes, (rule.label, text)
    assert checked > 50  # the texts exercise the gates
    assert skipped > 10 * checked  # and the gates spare most searches


def test_gated_rules_decide_as_searching_every_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = TaskClassifier()
    texts = _texts()
    gated = [classifier.classify(text) for text in texts]
    ungated = tuple(dataclasses.replace(rule, gated=False) for rule in classifier_module._RULES)
    monkeypatch.setattr(classifier_module, "_RULES", ungated)
    assert [classifier.classify(text) for text in texts] == gated


def test_bullet_lines_counts_what_findall_finds() -> None:
    rnd = random.Random(7)
    pieces = ["- ", "* ", "• ", "1. ", "12) ", "  ", "\n", "\n\n", "x", "-", "3", " ", "\t", "a b"]
    texts = [*_texts(), "", "\n", "- a", "-\n-\nx", "\n- a\n  2) b\n\n* c", "1.\n2.\n"]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 40))) for _ in range(3000)]
    for text in texts:
        assert _bullet_lines(text) == len(_BULLET.findall(text)), repr(text)
    assert sum(_bullet_lines(text) for text in texts) > 1000  # bullets were there to count
