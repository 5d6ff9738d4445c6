"""`devflow ask`: streaming, JSON, exit codes, stdin, and no traceback on any failure."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from devflow_tui import cli
from devflow_tui.accounting.database import SqliteBackend
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.cli import CollectorPaused
from devflow_tui.sim import Fault, SimServer
from tests.cli.conftest import Invoke

ASK_KEYS = {
    "text",
    "model",
    "requested_model",
    "task_type",
    "complexity",
    "fallbacks",
    "attempts",
    "usage",
    "cost_usd",
    "cost_source",
    "latency_ms",
    "ttft_ms",
    "generation_id",
    "complete",
    "cache_hit",
    "budget",
    "context",
}


def test_ask_streams_plain_text(devflow: Invoke) -> None:
    result = devflow("ask", "write a haiku about rain")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("[simulated answer from ")
    assert result.stderr == ""


def test_ask_json_has_every_documented_key(devflow: Invoke, sim: SimServer) -> None:
    result = devflow("ask", "--json", "--no-stream", "Explain how a B-tree index works")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data.keys() >= ASK_KEYS
    assert data["model"] == sim.requests[-1].json["model"]
    assert data["cost_source"] == "reported"
    assert data["usage"]["prompt_tokens"] > 0
    assert data["complete"] is True
    assert data["attempts"] == [
        {
            "model": data["model"],
            "status": 200,
            "error": None,
            "latency_ms": data["attempts"][0]["latency_ms"],
        }
    ]
    assert isinstance(data["cost_usd"], str)


def test_ask_reads_stdin(devflow: Invoke, sim: SimServer) -> None:
    result = devflow("ask", "-", "--json", input="Scrivi una poesia sul mare d'inverno")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["task_type"] == "creative"
    assert "Scrivi una poesia" in json.dumps(sim.requests[-1].json)


def test_no_key_exits_2_with_guidance(devflow: Invoke) -> None:
    result = devflow("ask", "hello", key=False)
    assert result.exit_code == 2
    assert "devflow auth set" in result.stderr
    assert "--demo" in result.stderr


def test_demo_flag_works_without_key(devflow: Invoke) -> None:
    result = devflow("ask", "--demo", "--json", "hello", key=False)
    assert result.exit_code == 0, result.stderr
    assert "[simulated answer" in json.loads(result.stdout)["text"]


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, 3), (402, 4), (403, 6), (400, 6), (503, 5), (429, 5)],
)
def test_exit_codes(devflow: Invoke, sim: SimServer, status: int, code: int, fake_key: str) -> None:
    sim.add_fault(Fault(kind="http_error", status=status, times=None))
    result = devflow("ask", "--model", "openai/gpt-4o-mini", "hello")
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("devflow: ")
    assert fake_key not in result.stderr + result.stdout


def test_cut_off_stream_prints_what_arrived_and_exits_5(devflow: Invoke, sim: SimServer) -> None:
    sim.add_fault(Fault(kind="abrupt_close", after_chunks=4))
    result = devflow("ask", "--model", "openai/gpt-4o-mini", "tell me a story")
    assert result.exit_code == 5
    assert result.stdout.startswith("[simulated answer")
    assert "cut off" in result.stderr


def test_cut_off_json_marks_incomplete(devflow: Invoke, sim: SimServer) -> None:
    sim.add_fault(Fault(kind="mid_stream_error", after_chunks=2, status=502))
    result = devflow("ask", "--json", "--model", "openai/gpt-4o-mini", "tell me a story")
    assert result.exit_code == 5
    data = json.loads(result.stdout)
    assert data["complete"] is False
    assert data["text"]


def test_empty_prompt_is_a_usage_error(devflow: Invoke) -> None:
    result = devflow("ask", "-", input="   \n")
    assert result.exit_code == 2
    assert "empty" in result.stderr


def test_bad_setting_exits_2_naming_it(devflow: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_MAX_RETRIES", "abc")
    result = devflow("ask", "hello")
    assert result.exit_code == 2
    assert "OPENROUTER_MAX_RETRIES" in result.stderr
    assert "Traceback" not in result.stderr


def test_budget_refusal_exits_4(
    devflow: Invoke, sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_COST_BUDGET_USD", "0.0000001")
    result = devflow("ask", "--model", "anthropic/claude-opus-4.1", "hello")
    assert result.exit_code == 4
    assert "budget" in result.stderr
    assert not [r for r in sim.requests if r.path == "/chat/completions"]


@pytest.mark.parametrize("limit", ["0", "0.0000001"])
def test_a_budget_no_routed_model_fits_exits_4_naming_it(
    devflow: Invoke, sim: SimServer, monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    monkeypatch.setenv("OPENROUTER_COST_BUDGET_USD", limit)
    config = Path(os.environ["DEVFLOW_CONFIG"])
    free = "meta-llama/llama-3.3-70b-instruct:free"  # the one model $0 pays for
    config.write_text(config.read_text() + f'[routing]\nexcluded_models = ["{free}"]\n')
    result = devflow("ask", "hello")
    assert result.exit_code == 4, result.stderr
    assert "total budget" in result.stderr
    assert "No model can take" not in result.stderr
    assert not [r for r in sim.requests if r.path == "/chat/completions"]


def test_context_file_is_injected_and_listed(
    devflow: Invoke, sim: SimServer, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("The deploy script lives in tools/deploy.sh\n")
    result = devflow("ask", "--json", "--context", str(notes), "where is the deploy script?")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert any("notes.md" in c["source"] for c in data["context"])
    assert "tools/deploy.sh" in json.dumps(sim.requests[-1].json)


def test_cache_hit_reported(devflow: Invoke, sim: SimServer) -> None:
    first = devflow("ask", "--json", "What is a monad?")
    second = devflow("ask", "--json", "What is a monad?")
    assert json.loads(first.stdout)["cache_hit"] is False
    assert json.loads(second.stdout)["cache_hit"] is True
    third = devflow("ask", "--json", "--no-cache", "What is a monad?")
    assert json.loads(third.stdout)["cache_hit"] is False
    assert len([r for r in sim.requests if r.path == "/chat/completions"]) == 2


def test_database_from_a_newer_devflow_is_refused_before_sending(
    devflow: Invoke, sim: SimServer, isolated_env: Path
) -> None:
    assert devflow("note", "add", "keep me").exit_code == 0
    conn = sqlite3.connect(isolated_env / "devflow.db")
    conn.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 0)")
    conn.commit()
    conn.close()
    result = devflow("ask", "hello")
    assert result.exit_code == 2
    assert "written by a newer version of devflow" in result.stderr
    assert sim.requests == []


@pytest.mark.parametrize("mode", [[], ["--no-stream"], ["--json"]])
def test_full_disk_mid_stream_still_prints_the_answer_and_exits_5(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch, mode: list[str]
) -> None:
    """The disk fills up once the request row is written: every later write fails as SQLite
    reports it ("database or disk is full"). The answer still reaches the user."""
    real_begin = AnalyticsStore.begin_request
    real_run = SqliteBackend.run
    full: list[bool] = []

    def begin(self: AnalyticsStore, *args: Any, **kwargs: Any) -> str:
        request_id = real_begin(self, *args, **kwargs)
        full.append(True)
        return request_id

    def run(self: SqliteBackend, statement: Any, wait_s: float | None = None) -> Any:
        if full:
            raise sqlite3.OperationalError("database or disk is full")
        return real_run(self, statement, wait_s)

    monkeypatch.setattr(AnalyticsStore, "begin_request", begin)
    monkeypatch.setattr(SqliteBackend, "run", run)
    result = devflow("ask", "--no-cache", *mode, "write a haiku about rain")
    assert result.exit_code == 5, result.output
    if mode == ["--json"]:
        document = json.loads(result.stdout)
        assert document["status"] == "unrecorded" and "disk is full" in document["error"]
        answer = document["text"]
    else:
        answer = result.stdout
    assert answer.startswith("[simulated answer from ")
    assert "could not be recorded" in result.stderr and "disk is full" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["ask", "route"])
def test_in_another_program_the_collector_is_left_as_it_was(devflow: Invoke, command: str) -> None:
    """Called in-process (as here), `ask` and `route` pause the collector for start-up only
    and freeze nothing: the caller's objects stay in the collector's view."""
    frozen_before = gc.get_freeze_count()
    assert gc.isenabled()
    result = devflow(command, "hello")
    assert result.exit_code == 0, result.stderr
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before


@pytest.mark.parametrize("freeze", [False, True])
def test_collector_paused_for_start_up_then_resumed(freeze: bool) -> None:
    frozen_before = gc.get_freeze_count()
    try:
        with CollectorPaused(freeze=freeze) as collector:
            assert not gc.isenabled()
            kept = [object() for _ in range(10)]
            collector.resume()
            assert gc.isenabled()
            assert (gc.get_freeze_count() > frozen_before) is freeze
            collector.resume()  # a second resume (and leaving the block) changes nothing
        assert gc.isenabled() and kept
    finally:
        gc.unfreeze()
        gc.enable()


def test_collector_left_disabled_when_the_caller_had_disabled_it() -> None:
    frozen_before = gc.get_freeze_count()
    gc.disable()
    try:
        with CollectorPaused(freeze=True) as collector:
            collector.resume()
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen_before
    finally:
        gc.enable()


def test_the_devflow_program_runs_main_as_its_own_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def fake_main(**kwargs: Any) -> None:
        seen.update(kwargs, routed="exec" in vars(dataclasses))

    monkeypatch.setattr(cli, "main", fake_main)
    # Set, then removed: the monkeypatch then restores the process's own value afterwards.
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "restored afterwards")
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS")
    cli.run()
    # While it ran, dataclasses compiled through devflow's code cache; not after.
    assert seen == {"obj": {cli.OWN_PROCESS: True}, "routed": True}
    assert "exec" not in vars(dataclasses)
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")  # the user's own choice wins
    cli.run()
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == ""
