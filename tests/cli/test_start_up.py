"""What `devflow ask` loads, as its own process: only what a plain request uses.

The start-up time itself is measured by benchmarks/ask_process.py, never asserted here; these
tests keep the choices that figure depends on from regressing unnoticed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devflow_tui.cli import end_process
from devflow_tui.sim import Fault, SimServer
from tests.sim_fixture import sim  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
# Runs the console script's entry point, then reports what the process holds as it ends.
CHILD = """
import atexit, gc, json, sys
def report():
    from devflow_tui.openrouter import wire
    from pydantic.plugin import _loader
    sys.stderr.write("\\nSTATE " + json.dumps({
        "modules": sorted(sys.modules),
        "frozen": gc.get_freeze_count(),
        "collector_on": gc.isenabled(),
        "generation_built": bool(wire.GenerationResponse.__pydantic_complete__),
        "plugins_looked_for": _loader._plugins is not None,
    }) + "\\n")
atexit.register(report)
sys.argv = ["devflow", *sys.argv[1:]]
from devflow_tui.cli import run
run()
"""
NOT_ON_THE_ASK_PATH = (
    "textual",
    "sqlite_utils",
    "starlette",
    "uvicorn",
    "psycopg",
    "keyring",
    "pathspec",
    "rich",
    "devflow_tui.sim",
    "devflow_tui.tui",
    "devflow_tui.serve",
    "devflow_tui.openrouter.relay",  # the proxy's pass-through
    "devflow_tui.openrouter.sse_bytes",
)


def run_child(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a safety net against a hung child, not a timing assertion
        check=False,
    )


def state_of(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """What the child reported from its exit handler (which therefore ran)."""
    line = next(x for x in done.stderr.splitlines() if x.startswith("STATE "))
    return dict(json.loads(line.removeprefix("STATE ")))


def run_ask(env: dict[str, str]) -> dict[str, object]:
    done = run_child(env, "ask", "--no-cache", "hello")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("[simulated answer from ")
    return state_of(done)


def test_a_plain_ask_loads_and_builds_only_what_it_uses(
    sim: SimServer,  # noqa: F811
    fake_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENROUTER_BASE_URL", sim.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run_ask(env)  # the first run creates the database (migrations use sqlite-utils)
    state = run_ask(env)

    modules = state["modules"]
    assert isinstance(modules, list)
    assert [m for m in modules if m.startswith(NOT_ON_THE_ASK_PATH)] == []
    # Response models a plain request never parses build no validator.
    assert state["generation_built"] is False
    # No installed package's entry points were read looking for pydantic plugins.
    assert state["plugins_looked_for"] is False
    # As its own process, ask froze its start-up objects and turned the collector back on.
    assert isinstance(state["frozen"], int) and state["frozen"] > 0
    assert state["collector_on"] is True


def test_ask_as_its_own_process_ends_with_its_records_written(
    sim: SimServer,  # noqa: F811
    fake_key: str,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`ask` ends its process without the interpreter's teardown (cli.end_process): the answer
    is all on stdout, the exit code is the command's, the exit handlers ran, and every request
    is in the database once the process is gone, the failed one included."""
    monkeypatch.setenv("OPENROUTER_BASE_URL", sim.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    answered = run_child(env, "ask", "--no-cache", "write a python add function")
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.endswith("\n") and "def " in answered.stdout
    state_of(answered)
    # The server rejects the next request (HTTP 400): a failed request to record.
    sim.add_fault(Fault(kind="http_error", status=400, message="not a valid model ID"))
    refused = run_child(env, "ask", "--no-cache", "--model", "openai/gpt-4o-mini", "hello")
    assert refused.returncode == 6, refused.stderr
    assert "not a valid model ID" in refused.stderr
    state_of(refused)

    conn = sqlite3.connect(isolated_env / "devflow.db")
    try:
        rows = conn.execute("SELECT status, requested_model FROM requests ORDER BY ts").fetchall()
    finally:
        conn.close()
    assert [status for status, _ in rows] == ["ok", "error"]
    assert rows[1][1] == "openai/gpt-4o-mini"


def test_end_process_leaves_the_exit_to_python_while_another_thread_runs() -> None:
    exits: list[int] = []
    release = threading.Event()
    worker = threading.Thread(target=release.wait)
    worker.start()
    try:
        end_process(SystemExit(0), exit_now=exits.append)
    finally:
        release.set()
        worker.join()
    assert exits == []


def test_end_process_leaves_a_message_to_python() -> None:
    exits: list[int] = []
    end_process(SystemExit("a message Python prints itself"), exit_now=exits.append)
    assert exits == []
