"""`devflow eval-routing FILE.jsonl`: figures on a small labelled file, JSON, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from devflow_tui.cli import main

ROWS = [
    {
        "prompt": "Write a Python function that reverses a string",
        "task_type": "coding",
        "complexity": "low",
    },
    {"prompt": "hi!", "task_type": "chat", "complexity": "low"},
    {"prompt": "Scrivi una poesia sul mare d'inverno", "task_type": "creative"},
    {
        "prompt": "Prove that there are infinitely many primes",
        "task_type": "analysis",
        "complexity": "low",
    },
]


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_text_report_on_a_small_file(tmp_path: Path) -> None:
    path = _file(tmp_path, [json.dumps(r) for r in ROWS])
    result = CliRunner().invoke(main, ["eval-routing", str(path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "4 labelled prompts" in out
    assert "all              4  75.0%" in out
    assert "task type confusion" in out and "complexity confusion" in out
    assert "worst misses" in out and "analysis/low -> reasoning/high" in out
    assert "\nit " in out and "\nen " in out


def test_json_report(tmp_path: Path) -> None:
    path = _file(tmp_path, [json.dumps(r) for r in ROWS])
    result = CliRunner().invoke(main, ["eval-routing", str(path), "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["overall"]["prompts"] == 4
    assert data["overall"]["task_accuracy"] == 0.75
    assert data["overall"]["low_high_swaps"] == 1
    assert data["languages"]["it"]["prompts"] == 1
    assert data["task_confusion"]["analysis"] == {"reasoning": 1}
    assert data["worst_misses"][0]["expected_task"] == "analysis"


def test_bad_files_are_clear_errors_without_a_traceback(tmp_path: Path) -> None:
    bad = _file(tmp_path, [json.dumps(ROWS[0]), '{"prompt": "x", "task_type": "poetry"}'])
    result = CliRunner().invoke(main, ["eval-routing", str(bad)])
    assert result.exit_code == 2
    assert "line 2: task_type 'poetry' is not one of coding" in result.output
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["eval-routing", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.output
