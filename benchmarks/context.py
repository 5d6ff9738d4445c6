"""Benchmark: find, parse and fit a large Claude Code session for a 128k-token model.

Builds sessions of 1, 5, 10 and 20 MB in a temporary Claude data directory (records shaped like
Claude Code 2.1.x: hook progress records, thinking + text + tool_use lines sharing a message id,
tool results from a few lines to 5,000 lines, file-history snapshots), then times
`resolve_session("latest")` + `parse_session` + `session_source` + `assemble` (which scrubs
secrets) and prints the median of several runs (wall and CPU time) and the growth per MB.
Target (the original design's budget for context preparation): < 100 ms for 5 MB, judged on
CPU time so that a busy shared machine does not fail it.

When the `bpe-openai` package is importable (it is not a project dependency: it ships OpenAI's
cl100k/o200k vocabularies, so it works offline), the benchmark also compares the token estimate
of the request it sent with those real tokenizers.

Run: `.venv/bin/python benchmarks/context.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from devflow_tui.context.assembly import assemble
from devflow_tui.context.claude_sessions import (
    parse_session,
    project_slug,
    resolve_session,
    session_source,
)
from devflow_tui.context.tokens import estimate_tokens

SIZES_MB = (1, 5, 10, 20)
CONTEXT_LENGTH = 128_000
MAX_OUTPUT = 4_096
TARGET_MS_5MB = 100.0


def _envelope(kind: str, parent: str | None, cwd: str, session: str, n: int) -> dict[str, Any]:
    return {
        "parentUuid": parent,
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.39",
        "gitBranch": "main",
        "type": kind,
        "uuid": str(uuid.UUID(int=n)),
        "timestamp": f"2026-02-12T16:{(n // 60) % 60:02d}:{n % 60:02d}.000Z",
    }


def build_session(path: Path, cwd: str, size_bytes: int) -> None:
    """Write a synthetic session of about `size_bytes` to `path`."""
    session = path.stem
    counter = 0
    parent: str | None = None
    written = 0
    exchange = 0
    code_line = "    result = compute_value(item, options=options)  # keep the order stable\n"
    with path.open("w", encoding="utf-8") as handle:

        def emit(record: dict[str, Any]) -> None:
            nonlocal written
            line = json.dumps(record, ensure_ascii=False) + "\n"
            handle.write(line)
            written += len(line.encode("utf-8"))

        while written < size_bytes:
            exchange += 1
            counter += 1
            hook = _envelope("progress", parent, cwd, session, counter)
            hook["data"] = {"type": "hook_progress", "hookEvent": "UserPromptSubmit"}
            emit(hook)
            parent = hook["uuid"]
            counter += 1
            user = _envelope("user", parent, cwd, session, counter)
            user["message"] = {
                "role": "user",
                "content": f"Step {exchange}: refactor module_{exchange}.py and run the tests.",
            }
            emit(user)
            parent = user["uuid"]
            message_id = f"msg_{exchange:024d}"
            tool_id = f"toolu_{exchange:024d}"
            blocks: list[dict[str, Any]] = [
                {"type": "thinking", "thinking": "Plan the change. " * 20, "signature": "x" * 200},
                {"type": "text", "text": f"I will edit module_{exchange}.py and run pytest."},
                {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": "Bash",
                    "input": {"command": "pytest -q"},
                },
            ]
            for block in blocks:
                counter += 1
                assistant = _envelope("assistant", parent, cwd, session, counter)
                assistant["message"] = {
                    "model": "claude-opus-4-6",
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [block],
                    "usage": {"input_tokens": 3, "output_tokens": 120},
                }
                emit(assistant)
                parent = assistant["uuid"]
            lines = 5000 if exchange % 25 == 0 else 20 + (exchange * 37) % 180
            output = code_line * lines
            counter += 1
            result = _envelope("user", parent, cwd, session, counter)
            result["message"] = {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": tool_id, "content": output}],
            }
            result["toolUseResult"] = {"stdout": output, "stderr": "", "interrupted": False}
            emit(result)
            parent = result["uuid"]
            emit({"type": "file-history-snapshot", "messageId": message_id, "snapshot": {}})


def _compare_with_real_tokenizers(text: str, estimate: int) -> None:
    try:
        bpe = importlib.import_module("bpe_openai")
    except ImportError:
        print("token estimate vs real tokenizers: skipped (bpe-openai not installed)")
        return
    for name in ("cl100k_base", "o200k_base"):
        real = len(bpe.get_encoding(name).encode(text))
        print(f"token estimate vs {name}: {estimate:,} / {real:,} = {estimate / real:.3f}")


def _time_once(project: Path, root: Path) -> tuple[float, float, int, int, str]:
    start = time.perf_counter()
    cpu_start = time.process_time()
    path = resolve_session("latest", project, root)
    session = parse_session(path)
    source = session_source(session)
    assembled = assemble(
        [source],
        context_length=CONTEXT_LENGTH,
        max_output_tokens=MAX_OUTPUT,
        system_prompt="You continue a coding session.",
        prompt="Summarise where we are and what is left.",
    )
    elapsed = (time.perf_counter() - start) * 1000
    cpu = (time.process_time() - cpu_start) * 1000
    assert assembled.total_tokens + MAX_OUTPUT <= CONTEXT_LENGTH
    sent = "\n".join(str(message.content) for message in assembled.messages)
    return elapsed, cpu, session.turn_count, assembled.total_tokens, sent


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per size; exit 1 if the 5 MB target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    results: dict[int, float] = {}
    cpu_results: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for size in SIZES_MB:
            project = base / f"project-{size}"
            project.mkdir()
            root = base / f"claude-{size}"
            folder = root / "projects" / project_slug(project)
            folder.mkdir(parents=True)
            path = folder / f"{uuid.uuid4()}.jsonl"
            build_session(path, str(project), size * 1_000_000)
            timings: list[float] = []
            cpu_times: list[float] = []
            turns = tokens = 0
            sent = ""
            for _ in range(args.runs):
                elapsed, cpu, turns, tokens, sent = _time_once(project, root)
                timings.append(elapsed)
                cpu_times.append(cpu)
            results[size] = statistics.median(timings)
            cpu_results[size] = statistics.median(cpu_times)
            # CPU time is printed too: on a shared, loaded machine wall time mostly measures load.
            print(
                f"{size:>3} MB  median {results[size]:8.1f} ms wall, "
                f"{cpu_results[size]:8.1f} ms cpu  "
                f"({args.runs} runs, {turns} turns, {tokens} prompt tokens sent)"
            )
    size_ratio = SIZES_MB[-1] // SIZES_MB[0]
    for label, table in (("wall", results), ("cpu", cpu_results)):
        growth = table[SIZES_MB[-1]] / table[SIZES_MB[0]]
        per_mb = ", ".join(f"{size} MB {table[size] / size:.1f}" for size in SIZES_MB)
        print(
            f"growth ({label}) {SIZES_MB[0]} -> {SIZES_MB[-1]} MB: x{growth:.1f} time for "
            f"x{size_ratio} size; ms per MB: {per_mb}"
        )
    _compare_with_real_tokenizers(sent, estimate_tokens(sent))
    # Judged on CPU time: the work is single-threaded and reads from the page cache, so on an
    # idle machine wall time equals CPU time, while on a shared one it mostly measures the load.
    ok = cpu_results[5] < TARGET_MS_5MB
    print(
        f"5 MB target < {TARGET_MS_5MB:.0f} ms: {'met' if ok else 'MISSED'} "
        f"({cpu_results[5]:.1f} ms cpu, {results[5]:.1f} ms wall)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
