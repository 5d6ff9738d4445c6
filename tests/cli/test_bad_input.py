"""Bad input never produces a traceback: one line naming the problem and the fix, exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

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


def test_unknown_model_warns_and_is_sent(devflow: Invoke, sim: SimServer) -> None:
    result = devflow("ask", "--model", "acme/new-model-9", "hi")
    assert "not in the model catalog" in result.stderr
    assert result.exit_code == 6  # the server rejects the id: a rejected request
    assert sim.requests[-1].json["model"] == "acme/new-model-9"


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
