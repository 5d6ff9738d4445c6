"""The README's table of routing decisions is what `devflow route` decides today.

The table ("The decisions for a fixed list of prompts on the bundled catalog") is generated
from `PROMPTS` by `devflow route --json` against the simulated OpenRouter, which serves the
bundled catalog snapshot; a change to the classifier, the selector or the snapshot that moves
a decision fails here, and the failure prints the table as it should read, to paste.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Invoke, devflow  # noqa: F401
from tests.sim_fixture import sim  # noqa: F401

README = Path(__file__).resolve().parents[2] / "README.md"
HEADER = "| prompt | task / complexity | model | why (the router's own reason) |"
WIDTH = 68  # longer prompts are cut to this many characters, the last one "…"

# chat/low, coding low/medium/high, reasoning low/high, creative, analysis, Italian.
PROMPTS = [
    "hi, how are you?",
    "What's the capital of Australia?",
    "What are the most effective ways to deal with stress?",
    "how do I reverse a list in Python?",
    "Write a Python function that merges two sorted lists and add unit tests for it",
    "My FastAPI app returns 422 on every POST with a JSON body; here is the handler: "
    "@app.post('/items') def create(item: Item): return item",
    "Design a distributed, fault-tolerant job scheduler in Go with exactly-once execution, "
    "leader election and persistence",
    "Implement a lock-free concurrent hash map in Rust with resizing",
    "What's 17*23?",
    "If a car travels 120 miles in 2 hours, what is its average speed?",
    "Prove that the square root of 2 is irrational",
    "Prove that every planar graph is 5-colourable, rigorously",
    "Write a short poem about the autumn sea",
    "Draft a professional email seeking your supervisor's feedback on the quarterly report",
    "Compare the pros and cons of remote work for a small software company",
    "Summarise the key arguments for and against a carbon tax, with the evidence on each side",
    "Ciao! Come stai?",
    "Scrivi una funzione Python che conta le parole in un file",
    "Dimostra che esistono infiniti numeri primi",
    "Riassumi i vantaggi e gli svantaggi dell'energia nucleare",
]


def _cut(prompt: str) -> str:
    return prompt if len(prompt) <= WIDTH else prompt[: WIDTH - 1] + "…"


def decision_table(route: Callable[[str], dict[str, object]]) -> list[str]:
    """The table's lines, header first, from `route(prompt)` (the `route --json` object)."""
    lines = [HEADER, "| --- | --- | --- | --- |"]
    for prompt in PROMPTS:
        data = route(prompt)
        candidates = data["candidates"]
        assert isinstance(candidates, list) and candidates, data
        reason = candidates[0]["reason"]
        lines.append(
            f"| {_cut(prompt)} | {data['task_type']} / {data['complexity']} | "
            f"`{data['model']}` | {reason} |"
        )
    return lines


def readme_table() -> list[str]:
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def test_the_readme_table_is_what_route_decides(devflow: Invoke) -> None:  # noqa: F811
    def route(prompt: str) -> dict[str, object]:
        result = devflow("route", "--json", prompt)
        assert result.exit_code == 0, result.stderr
        data: dict[str, object] = json.loads(result.stdout)
        return data

    expected = decision_table(route)
    assert readme_table() == expected, "\n".join(
        ["README's decision table is stale; it should read:", *expected]
    )
