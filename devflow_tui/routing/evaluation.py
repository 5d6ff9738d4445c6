"""How well the classifier does on labelled prompts: accuracy, confusion, languages, worst misses.

Used by `devflow eval-routing FILE.jsonl` (a user's own labelled traffic) and by
`benchmarks/routing_accuracy.py` (the Arena-Hard development and held-out splits). One line of
the file is a JSON object with `prompt` and `task_type`, and optionally `complexity`, `lang`
("en"/"it"; detected when absent) and `id`. A bad file raises `LabelledFileError` naming the
line and what to write instead.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from devflow_tui.errors import DevflowError, ErrorCategory
from devflow_tui.filekinds import Problem, UnreadableText, read_user_text
from devflow_tui.routing.classifier import COMPLEXITIES, Classification, TaskClassifier
from devflow_tui.types import TASK_TYPES

WORST_MISSES = 10
_ORDER = {"low": 0, "medium": 1, "high": 2}


class LabelledFileError(DevflowError):
    """A labelled-prompts file that cannot be read as one JSON object per line."""

    category = ErrorCategory.USER


class LabelledPrompt(BaseModel):
    """One labelled prompt."""

    prompt: str
    task_type: str
    complexity: str | None = None
    lang: str | None = None
    id: str | None = None


class Miss(BaseModel):
    """A prompt the classifier got wrong, with what it said and why."""

    prompt: str
    lang: str
    expected_task: str
    got_task: str
    expected_complexity: str | None
    got_complexity: str
    signals: list[str]
    severity: int


class Figures(BaseModel):
    """Accuracy figures for one group of prompts (all, or one language)."""

    prompts: int
    task_accuracy: float
    complexity_labelled: int
    complexity_accuracy: float | None
    low_high_swaps: int
    low_high_swap_rate: float | None


class EvalReport(BaseModel):
    """Everything `eval-routing` prints."""

    overall: Figures
    languages: dict[str, Figures]
    task_confusion: dict[str, dict[str, int]] = Field(
        description="expected task type -> predicted task type -> count"
    )
    complexity_confusion: dict[str, dict[str, int]]
    worst_misses: list[Miss]


def split_of(prompt_id: str, dev_share: float = 0.7) -> str:
    """ "dev" or "held-out" by a stable hash of the id; a translation ("…-it") follows its original.

    The first byte of sha256(id) against `dev_share` x 256: stable across runs and machines.
    """
    first = _digest(prompt_id)[0]
    return "dev" if first < round(dev_share * 256) else "held-out"


def fold_of(prompt_id: str, folds: int) -> int:
    """A cross-validation fold in 0..folds-1, from another byte of the same hash."""
    return _digest(prompt_id)[1] % folds


def _digest(prompt_id: str) -> bytes:
    base = prompt_id[:-3] if prompt_id.endswith("-it") else prompt_id
    return hashlib.sha256(base.encode("utf-8")).digest()


MAX_FILE_BYTES = 64 * 1024 * 1024  # far more labelled prompts than anyone labels by hand
MAX_REPORTED_ERRORS = 10


def load_labelled(path: Path) -> list[LabelledPrompt]:
    """Read a labelled JSONL file; raises `LabelledFileError` on anything unusable, naming
    every bad line (up to `MAX_REPORTED_ERRORS`) and what to write instead."""
    text = _read_text(path)
    rows: list[LabelledPrompt] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(_parse_line(path, number, line))
        except LabelledFileError as exc:
            errors.append(str(exc))
    if errors:
        more = len(errors) - MAX_REPORTED_ERRORS
        shown = errors[:MAX_REPORTED_ERRORS] + (
            [f"… and {more} more bad lines"] if more > 0 else []
        )
        raise LabelledFileError("\n".join(shown))
    if not rows:
        raise LabelledFileError(
            f"{path}: no labelled prompts; write one JSON object per line, e.g. "
            '{"prompt": "hi!", "task_type": "chat", "complexity": "low"}'
        )
    return rows


def _read_text(path: Path) -> str:
    """The file as text: UTF-8 with or without a byte-order mark, at most `MAX_FILE_BYTES`;
    only a regular file (`filekinds.read_user_text`)."""
    try:
        return read_user_text(path, MAX_FILE_BYTES, encoding="utf-8-sig")
    except UnreadableText as exc:
        problem = _UNREADABLE[exc.problem].format(
            detail=exc.detail, megabytes=MAX_FILE_BYTES // (1024 * 1024)
        )
        raise LabelledFileError(f"{path}: {problem}") from None


# What to say when the file cannot be read, per `UnreadableText.problem`.
_UNREADABLE: dict[Problem, str] = {
    "not a file": "is {detail}; give a JSONL file of labelled prompts",
    "missing": "no such file; give a JSONL file of labelled prompts",
    "unreadable": "cannot read it ({detail})",
    "too large": "larger than {megabytes} MB; split it into smaller files and score each",
    "not UTF-8": "not UTF-8 text (byte {detail}); convert it, e.g. with iconv -t UTF-8",
}


def _parse_line(path: Path, number: int, line: str) -> LabelledPrompt:
    where = f"{path}, line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LabelledFileError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise LabelledFileError(f"{where}: expected a JSON object with prompt and task_type")
    prompt, task, complexity = data.get("prompt"), data.get("task_type"), data.get("complexity")
    # Labels in any case ("Coding", "LOW"), as people type them.
    task = task.strip().lower() if isinstance(task, str) else task
    complexity = complexity.strip().lower() if isinstance(complexity, str) else complexity
    if not isinstance(prompt, str) or not prompt.strip():
        raise LabelledFileError(f'{where}: missing or empty "prompt" (a string)')
    if not _encodable(prompt):
        raise LabelledFileError(
            f'{where}: "prompt" has a lone surrogate escape (such as \\ud800), which is no '
            "text; fix or drop that escape"
        )
    if task is None:
        raise LabelledFileError(f'{where}: missing "task_type"; add one of {", ".join(TASK_TYPES)}')
    if task not in TASK_TYPES:
        raise LabelledFileError(
            f"{where}: task_type {task!r} is not one of {', '.join(TASK_TYPES)}"
        )
    if complexity is not None and complexity not in COMPLEXITIES:
        raise LabelledFileError(
            f"{where}: complexity {complexity!r} is not one of {', '.join(COMPLEXITIES)}"
        )
    lang, row_id = data.get("lang"), data.get("id")
    if lang is not None and (not isinstance(lang, str) or not _encodable(lang)):
        raise LabelledFileError(
            f'{where}: "lang" must be a language code such as "en" or "it", not {lang!r}'
        )
    return LabelledPrompt(
        prompt=prompt,
        task_type=task,
        complexity=complexity,
        lang=lang.strip().lower() or None if lang is not None else None,
        id=str(row_id).encode("utf-8", "replace").decode("utf-8") if row_id is not None else None,
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _figures(results: Sequence[tuple[LabelledPrompt, str, str]]) -> Figures:
    total = len(results)
    task_hits = sum(1 for row, task, _ in results if row.task_type == task)
    labelled = [(row.complexity, got) for row, _, got in results if row.complexity]
    hits = sum(1 for want, got in labelled if want == got)
    swaps = sum(1 for want, got in labelled if {want, got} == {"low", "high"})
    return Figures(
        prompts=total,
        task_accuracy=task_hits / total if total else 0.0,
        complexity_labelled=len(labelled),
        complexity_accuracy=hits / len(labelled) if labelled else None,
        low_high_swaps=swaps,
        low_high_swap_rate=swaps / len(labelled) if labelled else None,
    )


def evaluate(
    rows: Iterable[LabelledPrompt], classifier: TaskClassifier | None = None
) -> EvalReport:
    """Classify every row and compare with its labels."""
    classifier = classifier or TaskClassifier()
    return report_of((row, classifier.classify(row.prompt)) for row in rows)


def report_of(results: Iterable[tuple[LabelledPrompt, Classification]]) -> EvalReport:
    """Compare each row's labels with what a classifier said about it (`evaluate`, or the
    cross-validated classifications of `routing.training.cross_validate`)."""
    figures: list[tuple[LabelledPrompt, str, str]] = []
    by_lang: dict[str, list[tuple[LabelledPrompt, str, str]]] = {}
    task_confusion: dict[str, Counter[str]] = {t: Counter() for t in TASK_TYPES}
    complexity_confusion: dict[str, Counter[str]] = {c: Counter() for c in COMPLEXITIES}
    misses: list[Miss] = []
    for row, got in results:
        lang = row.lang or got.language
        result = (row, got.task_type, got.complexity)
        figures.append(result)
        by_lang.setdefault(lang, []).append(result)
        task_confusion[row.task_type][got.task_type] += 1
        if row.complexity:
            complexity_confusion[row.complexity][got.complexity] += 1
        severity = 2 * (row.task_type != got.task_type)
        if row.complexity:
            severity += abs(_ORDER[row.complexity] - _ORDER[got.complexity])
        if severity:
            misses.append(
                Miss(
                    prompt=row.prompt,
                    lang=lang,
                    expected_task=row.task_type,
                    got_task=got.task_type,
                    expected_complexity=row.complexity,
                    got_complexity=got.complexity,
                    signals=list(got.signals),
                    severity=severity,
                )
            )
    misses.sort(key=lambda m: (-m.severity, len(m.prompt)))
    return EvalReport(
        overall=_figures(figures),
        languages={lang: _figures(group) for lang, group in sorted(by_lang.items())},
        task_confusion={k: dict(v) for k, v in task_confusion.items() if v},
        complexity_confusion={k: dict(v) for k, v in complexity_confusion.items() if v},
        worst_misses=misses[:WORST_MISSES],
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _confusion(what: str, labels: Sequence[str], confusion: dict[str, dict[str, int]]) -> list[str]:
    lines = ["", f"{what} confusion (rows: label, columns: classifier)"]
    lines.append(" " * 11 + "".join(f"{label[:9]:>10}" for label in labels))
    for want in labels:
        if want in confusion:
            row = confusion[want]
            lines.append(f"{want:<11}" + "".join(f"{row.get(got, 0):>10}" for got in labels))
    return lines


def render_report(report: EvalReport) -> str:
    """The report as plain text for the terminal."""
    lines = ["group      prompts  task    complexity  low<->high swaps"]
    groups = {"all": report.overall, **report.languages}
    for name, fig in groups.items():
        swaps = f"{fig.low_high_swaps} ({_pct(fig.low_high_swap_rate)})"
        lines.append(
            f"{name:<10} {fig.prompts:>7}  {_pct(fig.task_accuracy):<7} "
            f"{_pct(fig.complexity_accuracy):<11} {swaps}"
        )
    lines += _confusion("task type", TASK_TYPES, report.task_confusion)
    if report.complexity_confusion:
        lines += _confusion("complexity", COMPLEXITIES, report.complexity_confusion)
    if report.worst_misses:
        lines += ["", "worst misses"]
        for miss in report.worst_misses:
            prompt = " ".join(miss.prompt.split())
            prompt = prompt if len(prompt) <= 90 else prompt[:89] + "…"
            label = f"{miss.expected_task}/{miss.expected_complexity or '?'}"
            lines.append(f"- [{miss.lang}] {label} -> {miss.got_task}/{miss.got_complexity}")
            lines.append(f"  {prompt}")
            lines.append(f"  signals: {', '.join(miss.signals[:6])}")
    return "\n".join(lines)
