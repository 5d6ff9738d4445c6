"""Classifier accuracy on the Arena-Hard prompts, development and held-out splits.

Run: `.venv/bin/python benchmarks/routing_accuracy.py [--split dev|held-out|both] [--data DIR]
[--misses] [--cv]`. DIR (default `benchmarks/data/arena-hard`, see its README for the
attribution) holds `arena-hard-en.jsonl` and `arena-hard-it.jsonl`: 500 real Chatbot Arena
prompts from Arena-Hard v0.1 (Apache-2.0) labelled per the routing taxonomy, and 100 Italian
translations. Each prompt goes to a split by a stable hash of its id (70 % dev, 30 % held
out; a translation follows its original, see `routing.evaluation.split_of`). The rules and
the task and complexity models were tuned and trained on the dev split only; the held-out
figures are the honest ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devflow_tui.routing.evaluation import (
    LabelledPrompt,
    evaluate,
    load_labelled,
    render_report,
    report_of,
    split_of,
)
from devflow_tui.routing.training import cross_validate

EXTRA = Path(__file__).parent.parent / "tests" / "routing"

DEFAULT_DATA = Path(__file__).parent / "data" / "arena-hard"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", choices=("dev", "held-out", "both"), default="dev")
    parser.add_argument(
        "--misses",
        action="store_true",
        help="print the worst misses too (with --cv: the cross-validated ones, with the "
        "confusion matrices)",
    )
    parser.add_argument(
        "--cv",
        action="store_true",
        help="5-fold cross-validated figures on the dev split (the honest dev figures; the "
        "shipped models were trained on the whole dev split, so their dev figures are a fit)",
    )
    args = parser.parse_args()
    splits = ("dev", "held-out") if args.split == "both" else (args.split,)
    for split in splits:
        for lang in ("en", "it"):
            rows = load_labelled(args.data / f"arena-hard-{lang}.jsonl")
            rows = [r for r in rows if r.id and split_of(r.id) == split]
            for row in rows:
                row.lang = lang
            report = evaluate(rows)
            note = " (a training fit for the learned stage; --cv for the honest figures)"
            print(f"== {split} split, {lang}" + (note if split == "dev" else ""))
            text = render_report(report)
            print(text if args.misses else text.split("\n\nworst misses")[0])
            print()
    if args.cv:
        _cross_validated(args.data, misses=args.misses)
    return 0


def _cross_validated(data: Path, *, misses: bool = False) -> None:
    rows: list[LabelledPrompt] = []
    for lang in ("en", "it"):
        for row in load_labelled(data / f"arena-hard-{lang}.jsonl"):
            if row.id and split_of(row.id) == "dev":
                row.lang = lang
                rows.append(row)
    extra = [
        *load_labelled(EXTRA / "labelled_prompts.jsonl"),
        *load_labelled(EXTRA / "holdout_prompts.jsonl"),
    ]
    results = cross_validate(rows, extra)
    print("== dev split, 5-fold cross-validation (models retrained without the fold)")
    for lang in ("en", "it"):
        report = report_of((row, got) for row, got in results if row.lang == lang)
        fig = report.overall
        print(
            f"{lang}: task {fig.task_accuracy:.1%}, complexity {fig.complexity_accuracy or 0:.1%}, "
            f"low<->high swaps {fig.low_high_swap_rate or 0:.1%} ({fig.prompts} prompts)"
        )
        if misses:  # the cross-validated confusion and worst misses: what to work on
            print(render_report(report).split("\n\n", 1)[1], end="\n\n")


if __name__ == "__main__":
    sys.exit(main())
