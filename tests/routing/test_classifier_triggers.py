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
    _distributed,
    _literal_inside,
    _literal_start,
    _Split,
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
    "see src/app/main.py, the Dockerfile and 50% of the README.md",
    "give me 5 catchy names, 10 nomi, in one sentence: what's the git command? what is 17*23",
    "wordshow that step by step in 2000 words\n\nimport os\nwhy?",
    "İstanbul ſ K metà due 3.5 e 1,2 and twenty-two",
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


@pytest.mark.parametrize(
    ("block", "flags", "expected"),
    [
        (r"haiku(?<=\bhaiku)\b", 0, ("haiku",)),
        (r"una(?<=\buna) riga\b", 0, ("una riga",)),  # a look-behind takes no text
        (r"names? for", 0, ("name",)),  # the optional letter is not in every match
        (r"\.(?<=\w\.)[a-z_]", 0, (".",)),
        (r"\*\*kwargs", 0, ("**kwargs",)),
        (r"(?:write(?<=\bwrite)|make(?<=\bmake)) a\b", 0, ("write", "make")),
        (r"(?:a|b)?c", 0, ()),  # an optional group: nothing required
        (r"(?:a|\d)x", 0, ()),  # an alternative without a literal start
        (r"\d+x", 0, ()),
        (r"a{2}", 0, ()),
        (r"^\s*import", 0, ()),
        ("abc", re.I, ()),  # case-folded: the text may have "ABC"
    ],
)
def test_literal_start_is_what_every_match_starts_with(
    block: str, flags: int, expected: tuple[str, ...]
) -> None:
    assert _literal_start(block, flags) == expected


def _subjects(rule: classifier_module._Rule) -> list[str]:
    """What `_score` searches a rule's pattern in, over every test text."""
    heads = [scanned(text) for text in _texts()]
    return [head.lower() for head in heads] if rule.on_lower else heads


def test_a_split_block_is_skipped_only_where_it_cannot_match() -> None:
    """`_Split.gates`: on every test text, each block's every match contains its gate's
    text, and the gates spare most searches."""
    checked = skipped = 0
    for rule in classifier_module._RULES:
        split = getattr(rule.find, "__self__", None)
        if not isinstance(split, _Split):
            continue
        for subject in _subjects(rule):
            for block, gate in zip(split.blocks, split.gates, strict=True):
                starts = (gate,) if isinstance(gate, str) else gate
                skipped += bool(gate) and not any(s in subject for s in starts)
                for found in block.finditer(subject) if gate else ():
                    checked += 1
                    assert any(s in found.group() for s in starts), (block.pattern, subject)
    assert checked > 100
    assert skipped > 10 * checked


def test_a_rule_pre_check_finds_something_wherever_the_rule_matches() -> None:
    """`needs` and `requires`: a rule is searched only where its pre-check finds something."""
    checked = 0
    for rule in classifier_module._RULES:
        if rule.needs is None or rule.find is None:
            continue
        for subject in _subjects(rule):
            if rule.find(subject) is not None:
                checked += 1
                assert rule.needs.search(subject) is not None, (rule.label, subject)
    assert checked > 20


# The patterns the complexity cues and the word problems were first written as; the module
# searches rewritten ones, which must find what these find.
_LIGHT_AS_WRITTEN = re.compile(
    r"\b(?:haiku|slogan|tagline|one[- ]line|una riga|in one sentence|in una frase|quick"
    r"|veloce|short summary|breve riassunto|names? for|nomi per|nome di|\d+ (?:catchy )?names"
    r"|\w+ nomi|what(?:'s| is) the difference|che differenza|qual(?: è|'è) la differenza"
    r"|how do i|how to|come faccio|come si"
    r"|what's the \w+ command|regex|one-liner|quanto fa|what(?:'s| is) \d+)\b"
)
_SENTENCE_AS_WRITTEN = re.compile(r"[.?!;](?:\s|$)|\n")
_NUMBER_AS_WRITTEN = re.compile(
    r"(?<![\w.])\d+(?:[.,]\d+)?|\b(?:two|three|four|five|six|seven|eight|nine|ten|twelve|twenty"
    r"|hundred|half|twice|due|tre|quattro|cinque|sei|sette|otto|nove|dieci|dodici|venti|cento"
    r"|met[àa]|doppio)\b"
)
_WORD_AS_WRITTEN = re.compile(r"[a-zàèéìíòóùç']+", re.I)


def _cue_texts() -> list[str]:
    rnd = random.Random(11)
    texts: list[str] = []
    for text in _texts():
        lower = scanned(text).lower()
        texts += [text, scanned(text), lower, lower[:400]]
        for _ in range(2):
            start = rnd.randrange(len(text) + 1)
            texts.append(text[start : start + rnd.randrange(1, 120)])
    return [
        *texts,
        *("", "\n", "a.", "x nomi", " nomi", "what is 4", "one-liner", "qual è il punto"),
        *("what is the difference", "qual'è la differenza", "che differenza c'è"),
    ]


def test_rewritten_cue_patterns_find_what_the_written_ones_find() -> None:
    cm = classifier_module
    for text in _cue_texts():
        assert bool(cm._LIGHT(text)) == bool(_LIGHT_AS_WRITTEN.search(text)), text
        assert len(cm._SENTENCE.findall(text)) == len(_SENTENCE_AS_WRITTEN.findall(text)), text
        numbers = len(cm._DIGITS.findall(text)) + len(cm._NUMBER_WORDS.findall(text))
        assert numbers == len(_NUMBER_AS_WRITTEN.findall(text)), text
        assert cm._WORD.findall(text) == _WORD_AS_WRITTEN.findall(text), text
        splitter = cm._PASTED if cm._CODE_FIRST.match(text) else cm._PASTED_LATER
        assert splitter.split(text) == cm._PASTED.split(text), text
        if cm._DEMANDING_PATTERN.search(text):
            assert any(phrase in text for phrase in cm._DEMANDING_TEXTS), text
    every = "".join(map(chr, range(0x110000)))  # the spelled-out class is re.I's, exactly
    assert cm._WORD.sub("", every) == _WORD_AS_WRITTEN.sub("", every)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (r"\d(?<=\b\d)\d*[a-z]\^\d", "^"),
        (r"^\s+at [\w.$<>]+\(", "at "),
        (r"(?:two(?<=\btwo)|the(?<=\bthe)) dice\b", " dice"),  # after the group
        (r"a?bc+d", "b"),  # the longest run of characters every match has
        (r"x{2}yz", "yz"),
        (r"[xyn]\s*[-+=<>]\s*\d", ""),
        (r"ab|cd", ""),  # alternatives
        (r"(?i)abc", ""),  # case-folded
    ],
)
def test_literal_inside_is_in_every_match(block: str, expected: str) -> None:
    assert _literal_inside(block, 0) == expected


@pytest.mark.parametrize(
    ("branch", "expected"),
    [
        (
            r"(?:write(?<=\bwrite)|make(?<=\bmake)) a\b",
            [r"write(?<=\bwrite) a\b", r"make(?<=\bmake) a\b"],
        ),
        (r"(?:a|b)?c", [r"(?:a|b)?c"]),  # an optional group
        (r"(?:a|\d)x", [r"(?:a|\d)x"]),  # an alternative without a literal start
        (r"(?:ab)c", [r"(?:ab)c"]),  # no alternatives
        (r"x(?:a|b)", [r"x(?:a|b)"]),
    ],
)
def test_a_group_of_literal_alternatives_is_distributed(branch: str, expected: list[str]) -> None:
    assert _distributed(branch) == expected


def test_prefixes_find_every_start_of_a_word() -> None:
    """`_Prefixes.find` stops early, at the first length no start begins with the word's
    start: it finds what looking every length up finds."""
    stems = classifier_module._BY_STEM
    words = {t for text in _texts() for t in classifier_module._TOKEN.findall(text.lower())}
    words |= {"implement", "implementation", "im", "refactoring", "debugger", "ottimizzazione"}
    found = 0
    for word in words:
        every = [
            number
            for length, starts in stems.by_length
            if length <= len(word)
            for number in starts.get(word[:length], ())
        ]
        assert stems.find(word) == every, word
        found += bool(every)
    assert found > 20
