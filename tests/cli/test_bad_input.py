"""Bad input never produces a traceback: one line naming the problem and the fix, exit 2."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from devflow_tui.cli import main
from devflow_tui.sim import SimServer
from tests.cli.conftest import Invoke


def test_stdin_that_is_not_utf8(
    devflow: Invoke, fake_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    result = CliRunner().invoke(main, ["ask", "-"], input=b"hi \xff there")
    assert result.exit_code == 2
    assert "UTF-8" in result.stderr


def test_prompt_with_nul(devflow: Invoke) -> None:
    result = devflow("ask", "-", input="abc\x00def")
    assert result.exit_code == 2
    assert "NUL" in result.stderr


def test_stdin_larger_than_any_window_is_refused(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`devflow route - < /dev/zero` read until memory ran out; now the read is bounded."""
    import devflow_tui.cli as cli

    monkeypatch.setattr(cli, "MAX_STDIN_BYTES", 1024)
    result = devflow("route", "-", input="word " * 300)
    assert result.exit_code == 2
    assert "stdin has more than" in result.stderr and "-c" in result.stderr
    assert devflow("route", "-", input="word " * 200).exit_code == 0  # under the bound
    assert devflow("route", "-", input="x" * 1023 + "\n").exit_code == 0  # the bound itself
    assert devflow("route", "-", input="x" * 1024 + "\n").exit_code == 2


def test_eval_routing_with_a_lone_surrogate(devflow: Invoke, tmp_path: Path) -> None:
    """A JSON escape of half a surrogate pair printed a UnicodeEncodeError traceback."""
    path = tmp_path / "f.jsonl"
    path.write_text('{"prompt": "\\ud800 write a poem", "task_type": "creative"}\n', "utf-8")
    for extra in ((), ("--json",)):
        result = devflow("eval-routing", str(path), *extra, key=False)
        assert result.exit_code == 2
        assert "line 1" in result.stderr and "surrogate" in result.stderr
        assert "Traceback" not in result.output + result.stderr


def test_config_file_not_utf8(devflow: Invoke) -> None:
    Path(os.environ["DEVFLOW_CONFIG"]).write_bytes(b"\xff\xfe")
    result = devflow("route", "hi")
    assert result.exit_code == 2
    assert "not UTF-8" in result.stderr


def test_devflow_home_is_a_file(
    devflow: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("DEVFLOW_HOME", str(blocker))
    for args in (["ask", "hi"], ["report"], ["note", "list"]):
        result = devflow(*args)
        assert result.exit_code == 2, args
        assert "DEVFLOW_HOME" in result.stderr


def test_bad_demo_time_scale(devflow: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVFLOW_DEMO_TIME_SCALE", "abc")
    result = devflow("ask", "--demo", "hi", key=False)
    assert result.exit_code == 2
    assert "DEVFLOW_DEMO_TIME_SCALE" in result.stderr


def test_report_to_unwritable_path(devflow: Invoke, tmp_path: Path) -> None:
    result = devflow("report", "--csv", str(tmp_path / "missing" / "x.csv"))
    assert result.exit_code == 2
    assert "cannot write" in result.stderr


def test_empty_note_refused(devflow: Invoke) -> None:
    result = devflow("note", "add", "   ")
    assert result.exit_code == 2
    assert "empty" in result.stderr


def test_file_value_error_names_file_key_and_line(devflow: Invoke) -> None:
    Path(os.environ["DEVFLOW_CONFIG"]).write_text('# settings\nmax_retries = "abc"\n')
    result = devflow("route", "hi")
    assert result.exit_code == 2
    assert "line 2" in result.stderr
    assert "'max_retries'" in result.stderr


def test_unknown_model_is_an_error_and_not_sent(devflow: Invoke, sim: SimServer) -> None:
    before = len(sim.requests)
    result = devflow("ask", "--model", "acme/new-model-9", "hi")
    assert result.exit_code == 2  # a usage error, found before anything is sent
    assert "'acme/new-model-9' matches nothing in the model catalog" in result.stderr
    assert "devflow models --refresh" in result.stderr  # the fix if the catalog is stale
    assert not [r for r in sim.requests[before:] if r.path == "/chat/completions"]


def test_token_limit_note(devflow: Invoke) -> None:
    result = devflow("ask", "--max-tokens", "5", "--model", "openai/gpt-4o-mini", "write a poem")
    assert result.exit_code == 0
    assert "--max-tokens" in result.stderr
    data = json.loads(
        devflow(
            "ask", "--json", "--max-tokens", "5", "--model", "openai/gpt-4o-mini", "a poem"
        ).stdout
    )
    assert data["complete"] is False and data["finish_reason"] == "length"


def test_auth_set_warns_when_env_key_wins(devflow: Invoke, fake_key: str) -> None:
    other = "sk-or-v1-" + "0b" * 32
    result = devflow("auth", "set", "--key", other)
    assert result.exit_code == 0
    assert "OPENROUTER_API_KEY" in result.stderr and "precedence" in result.stderr
    assert other not in result.stdout + result.stderr
    cleared = devflow("auth", "clear")
    assert "still set" in cleared.stderr


def test_route_without_key_says_it_uses_the_simulator(devflow: Invoke) -> None:
    result = devflow("route", "--json", "hi", key=False)
    assert result.exit_code == 0
    assert "simulated" in result.stderr
    assert json.loads(result.stdout)["catalog_source"] == "simulated"


def test_reconcile_prints_a_table(devflow: Invoke) -> None:
    devflow("ask", "--model", "openai/gpt-4o-mini", "hi")
    result = devflow("reconcile")
    assert result.exit_code == 0, result.stderr
    assert "requests reconciled" in result.stdout
    assert "Decimal(" not in result.stdout
    again = devflow("reconcile")
    assert "Nothing to reconcile" in again.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["ask", "--temperature", "nan", "hi"], "--temperature"),
        (["ask", "--temperature", "inf", "hi"], "--temperature"),
        (["route", "--cost-priority", "nan", "hi"], "--cost-priority"),
        (["route", "--performance-priority", "-inf", "hi"], "--performance-priority"),
        (["note", "rm", str(10**30)], "NOTE_ID"),
        (["ask", "--project", "/no/such/folder", "hi"], "--project"),
        (["handoff", "--project", "/no/such/folder"], "--project"),
    ],
)
def test_impossible_values_are_usage_errors(
    devflow: Invoke, sim: SimServer, args: list[str], named: str
) -> None:
    result = devflow(*args)
    assert result.exit_code == 2, result.output
    assert named in result.stderr and "Traceback" not in result.output
    assert [r for r in sim.requests if r.path == "/chat/completions"] == []


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("OPENROUTER_BASE_URL", "http://127.0.0.1:99999/api/v1", "port"),
        ("DEVFLOW_HOME", "", "DEVFLOW_HOME"),
    ],
)
def test_impossible_settings_name_the_variable(
    devflow: Invoke,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    value: str,
    expected: str,
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv(name, value)
    for args in (["ask", "hi"], ["report"], ["auth", "status"]):
        result = devflow(*args)
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.stderr and name in result.stderr
        assert "Traceback" not in result.output
    assert list(cwd.iterdir()) == []  # nothing written into the current directory


def test_report_while_another_process_holds_the_write_lock(
    devflow: Invoke, isolated_env: Path
) -> None:
    assert devflow("ask", "hello there").exit_code == 0
    holder = sqlite3.connect(isolated_env / "devflow.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # e.g. another devflow in the middle of a write
    try:
        result = devflow("report", "--json")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["requests"] == 1


def test_report_on_a_read_only_database(
    devflow: Invoke, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert devflow("ask", "hello there").exit_code == 0
    db = isolated_env / "devflow.db"
    real_connect = sqlite3.connect

    def read_only(path: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        # A read-only file, as a user without write permission sees it (tests run as root,
        # who may write anything, so SQLite's read-only mode stands in for the permission).
        target = f"file:{db}?mode=ro" if Path(path) == db else path
        if target != path:
            kwargs["uri"] = True
        connection: sqlite3.Connection = real_connect(target, *args, **kwargs)
        return connection

    monkeypatch.setattr(sqlite3, "connect", read_only)
    result = devflow("report", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["totals"]["requests"] == 1
    noted = devflow("note", "add", "cannot be saved")
    assert noted.exit_code == 2 and "Traceback" not in noted.output
    assert "devflow.db" in noted.stderr


def test_a_dashboard_that_crashed_does_not_exit_0(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.app import App

    class Crashing(App[None]):
        def on_mount(self) -> None:
            raise RuntimeError("boom")

    monkeypatch.setattr("devflow_tui.tui.app.create_app", lambda *a, **k: Crashing())
    result = devflow("--demo", key=False)
    assert result.exit_code == 1
