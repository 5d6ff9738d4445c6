"""eval-routing's engine: reading labelled files, figures, confusion, worst misses, the split."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from devflow_tui.routing import evaluation
from devflow_tui.routing.evaluation import (
    LabelledFileError,
    evaluate,
    load_labelled,
    render_report,
    split_of,
)

ROWS = [
    {"prompt": "hi!", "task_type": "chat", "complexity": "low"},
    {"prompt": "Write a Python function that reverses a string", "task_type": "coding"},
    {"prompt": "Scrivi una poesia sul mare d'inverno", "task_type": "creative", "lang": "it"},
    # Deliberately mislabelled: a proof labelled as low chat is a miss of severity 4.
    {
        "prompt": "Prove that there are infinitely many primes",
        "task_type": "chat",
        "complexity": "low",
    },
]


def _write(tmp_path: Path, rows: Sequence[object]) -> Path:
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", "utf-8")
    return path


def test_figures_confusion_languages_and_worst_misses(tmp_path: Path) -> None:
    report = evaluate(load_labelled(_write(tmp_path, ROWS)))
    assert report.overall.prompts == 4
    assert report.overall.task_accuracy == pytest.approx(3 / 4)
    assert report.overall.complexity_labelled == 2
    assert report.overall.low_high_swaps == 1  # the proof is high, labelled low
    assert report.task_confusion["chat"] == {"chat": 1, "reasoning": 1}
    assert set(report.languages) == {"en", "it"}
    assert report.languages["it"].prompts == 1 and report.languages["it"].task_accuracy == 1.0
    worst = report.worst_misses[0]
    assert (worst.expected_task, worst.got_task, worst.got_complexity) == (
        "chat",
        "reasoning",
        "high",
    )
    assert worst.severity == 4 and worst.signals
    text = render_report(report)
    assert "75.0%" in text and "worst misses" in text and "Prove that" in text


def test_bad_files_name_the_line_and_the_fix(tmp_path: Path) -> None:
    cases: list[tuple[list[object] | str, str]] = [
        ("not json at all", "line 1: not valid JSON"),
        ([["a list"]], "expected a JSON object"),
        ([{"task_type": "chat"}], 'missing or empty "prompt"'),
        ([{"prompt": "x", "task_type": "smalltalk"}], "is not one of coding"),
        ([{"prompt": "x", "task_type": "chat", "complexity": "huge"}], "complexity 'huge'"),
        ("", "no labelled prompts"),
    ]
    for content, message in cases:
        path = tmp_path / "bad.jsonl"
        text = content if isinstance(content, str) else "\n".join(json.dumps(c) for c in content)
        path.write_text(text, "utf-8")
        with pytest.raises(LabelledFileError, match=message):
            load_labelled(path)
    with pytest.raises(LabelledFileError, match="no such file"):
        load_labelled(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"prompt": "caf\xe9"}')
    with pytest.raises(LabelledFileError, match="UTF-8"):
        load_labelled(tmp_path / "latin1.jsonl")


def test_files_as_people_write_them(tmp_path: Path) -> None:
    """A byte-order mark, labels in capitals and language codes in any case are read."""
    path = tmp_path / "mixed.jsonl"
    lines = [
        {"prompt": "hi!", "task_type": "Chat", "complexity": "LOW", "lang": "EN"},
        {"prompt": "ciao, come stai?", "task_type": "chat", "lang": " it "},
    ]
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(json.dumps(x) for x in lines).encode())
    rows = load_labelled(path)
    assert [(r.task_type, r.complexity, r.lang) for r in rows] == [
        ("chat", "low", "en"),
        ("chat", None, "it"),
    ]
    assert set(evaluate(rows).languages) == {"en", "it"}  # "EN" and a detected "en" are one


def test_every_bad_line_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"prompt": "hi", "task_type": "chat"})
    bad = [
        json.dumps({"prompt": "hi"}),
        json.dumps({"prompt": "hi", "task_type": "chat", "lang": 5}),
        json.dumps({"prompt": "\ud800", "task_type": "chat"}),
    ]
    path.write_text("\n".join([good, *bad, good]), "utf-8")
    with pytest.raises(LabelledFileError) as caught:
        load_labelled(path)
    message = str(caught.value)
    assert 'line 2: missing "task_type"; add one of coding' in message
    assert 'line 3: "lang" must be a language code' in message
    assert "line 4" in message and "surrogate" in message
    path.write_text("\n".join(["not json"] * 25), "utf-8")
    with pytest.raises(LabelledFileError, match="and 15 more bad lines"):
        load_labelled(path)
    monkeypatch.setattr(evaluation, "MAX_FILE_BYTES", 100)
    path.write_text("\n".join([good] * 10), "utf-8")
    with pytest.raises(LabelledFileError, match=r"larger than .* MB; split it"):
        load_labelled(path)
    path.write_text(good.ljust(100), "utf-8")  # the bound itself
    assert len(load_labelled(path)) == 1
    path.write_text(good.ljust(101), "utf-8")
    with pytest.raises(LabelledFileError, match="larger than"):
        load_labelled(path)
    with pytest.raises(LabelledFileError, match="is a directory"):
        load_labelled(tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)  # reading it would block until a writer came
    with pytest.raises(LabelledFileError, match=r"is a named pipe \(FIFO\)"):
        load_labelled(fifo)
    with pytest.raises(LabelledFileError, match="is a device"):
        load_labelled(Path("/dev/zero"))


def test_split_is_stable_and_keeps_translations_with_their_original() -> None:
    ids = [f"arenahard-{i:032x}" for i in range(400)]
    dev = [i for i in ids if split_of(i) == "dev"]
    assert 0.6 < len(dev) / len(ids) < 0.8
    assert all(split_of(i + "-it") == split_of(i) for i in ids)
    assert split_of(ids[0]) == split_of(ids[0])
