"""The other commands: route, models, auth, note, context show, report, sim config errors."""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from click.testing import CliRunner

from devflow_tui.cli import main
from devflow_tui.sim import SimServer
from tests.cli.conftest import Invoke


def test_route_json_sends_nothing(devflow: Invoke, sim: SimServer) -> None:
    result = devflow("route", "--json", "Prove that the square root of 2 is irrational")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["task_type"] == "reasoning"
    assert data["model"] == data["candidates"][0]["model"]
    assert {"model", "score", "estimated_cost_usd", "reason"} <= data["candidates"][0].keys()
    assert data["signals"]
    assert isinstance(data["fallbacks"], list) and data["fallbacks"]
    assert not [r for r in sim.requests if r.path == "/chat/completions"]


def test_route_overrides(devflow: Invoke) -> None:
    cheap = json.loads(
        devflow(
            "route", "--json", "--cost-priority", "1", "--task", "coding", "fix this bug"
        ).stdout
    )
    strong = json.loads(
        devflow(
            "route",
            "--json",
            "--cost-priority",
            "0",
            "--performance-priority",
            "1",
            "--task",
            "coding",
            "fix this bug",
        ).stdout
    )
    assert cheap["task_type"] == strong["task_type"] == "coding"
    price = {c["model"]: c["estimated_cost_usd"] for c in cheap["candidates"]}
    assert cheap["model"] != strong["model"]
    assert price[cheap["model"]] is not None


def test_route_text_output(devflow: Invoke) -> None:
    result = devflow("route", "ciao, come stai?")
    assert result.exit_code == 0
    assert "task: chat" in result.stdout
    assert "model:" in result.stdout


def test_route_rejects_bad_priority(devflow: Invoke) -> None:
    result = devflow("route", "--cost-priority", "3", "x")
    assert result.exit_code == 2


def test_models_lists_catalog_with_prices(devflow: Invoke) -> None:
    result = devflow("models", "--json", "--refresh")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"] == "live"
    nano = next(m for m in data["models"] if m["id"] == "openai/gpt-5-nano")
    assert nano["prompt_per_million_usd"] == "0.05"
    assert nano["completion_per_million_usd"] == "0.4"
    assert devflow("models").stdout.splitlines()[0].endswith("per million tokens")


def test_models_text_shows_measured_health(devflow: Invoke) -> None:
    """The README promises measured health in `models`; only --json had it."""
    asked = json.loads(devflow("ask", "--json", "hello there").stdout)
    lines = devflow("models").stdout.splitlines()
    served = next(line for line in lines if line.split()[0] == asked["model"])
    assert "health 100% ok, p50 " in served
    other = next(line for line in lines if line.split()[0] == "openai/gpt-5-nano")
    assert "health no data yet" in other


def test_auth_set_status_clear(devflow: Invoke, fake_key: str) -> None:
    home = Path(os.environ["DEVFLOW_HOME"])
    result = devflow("auth", "set", input=fake_key + "\n", key=False)
    assert result.exit_code == 0, result.stderr
    assert fake_key not in result.stdout
    assert fake_key[-4:] in result.stdout
    cred = home / "credentials"
    assert cred.read_text().strip() == fake_key
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    status = devflow("auth", "status", key=False)
    assert status.exit_code == 0
    assert "from file" in status.stdout
    assert "label" in status.stdout
    assert fake_key not in status.stdout
    as_json = devflow("auth", "status", "--json", key=False)  # README: --json where data
    assert as_json.exit_code == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["key"].endswith(fake_key[-4:]) and document["source"] == "file"
    assert "usage" in document["openrouter"] and fake_key not in as_json.stdout
    cleared = devflow("auth", "clear", key=False)
    assert cleared.exit_code == 0
    assert not cred.exists()
    assert devflow("auth", "status", key=False).exit_code == 2


def test_auth_set_rejects_junk(devflow: Invoke) -> None:
    result = devflow("auth", "set", "--key", "not a key", key=False)
    assert result.exit_code == 2


def test_auth_status_with_rejected_key(devflow: Invoke, sim: SimServer, fake_key: str) -> None:
    sim.config.valid_keys = {"sk-or-v1-someoneelse"}
    result = devflow("auth", "status")
    assert result.exit_code == 3
    assert fake_key not in result.stderr


def test_notes_round_trip_and_injection(devflow: Invoke, sim: SimServer) -> None:
    assert devflow("note", "list").stdout.startswith("No notes")
    added = devflow("note", "add", "Always answer with type hints")
    assert added.exit_code == 0
    devflow("note", "add", "--global", "Prefer metric units")
    listed = json.loads(devflow("note", "list", "--json").stdout)
    assert {n["text"] for n in listed} == {"Always answer with type hints", "Prefer metric units"}
    result = devflow("ask", "--json", "write a python add function")
    assert "Always answer with type hints" in json.dumps(sim.requests[-1].json)
    assert any(c["kind"] == "note" for c in json.loads(result.stdout)["context"])
    note_id = str(listed[0]["id"])
    assert devflow("note", "rm", note_id).exit_code == 0
    assert devflow("note", "rm", note_id).exit_code == 2


def test_context_show_json(devflow: Invoke, tmp_path: Path, sim: SimServer) -> None:
    src = tmp_path / "app.py"
    src.write_text("API_KEY=sk-or-v1-" + "ab" * 20 + "\nprint('hi')\n")
    result = devflow("context", "show", "--json", "--context", str(src), "review @" + str(src))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["sources"][-1]["kind"] == "file"
    assert data["secrets_removed"] == sum(data["secrets_by_kind"].values()) >= 1
    assert data["total_tokens"] <= data["budget_tokens"] <= data["context_length"]
    assert data["context_tokens"] == sum(s["tokens_after"] for s in data["sources"])
    assert data["messages"][-1]["role"] == "user"
    assert all(None not in m.values() for m in data["messages"])  # as sent: no null fields
    assert "ab" * 20 not in result.stdout
    assert not [r for r in sim.requests if r.path == "/chat/completions"]
    text = devflow("context", "show", "--context", str(src), "x")
    assert text.stdout.startswith("For ") and "window" in text.stdout
    assert "app.py" in text.stdout and "secret" in text.stdout and "total" in text.stdout


def test_context_show_reads_the_prompt_from_stdin(devflow: Invoke) -> None:
    """`context show -` sent "-" as the prompt, so "exactly what would be sent" was false for
    a piped prompt (`ask -` and `route -` read stdin)."""
    result = devflow("context", "show", "--json", "-", input="Write a poem about the sea\n")
    assert result.exit_code == 0, result.stderr
    last = json.loads(result.stdout)["messages"][-1]["content"]
    assert "Write a poem about the sea" in last and last != "-"


def test_context_show_missing_file(devflow: Invoke, tmp_path: Path) -> None:
    result = devflow("context", "show", "--context", str(tmp_path / "nope.py"), "x")
    assert result.exit_code in (2, 6)
    assert "nope.py" in result.stderr
    assert "Traceback" not in result.stderr


def test_handoff_without_claude_data_is_clear(devflow: Invoke) -> None:
    result = devflow("handoff")
    assert result.exit_code == 2
    assert "CLAUDE_CONFIG_DIR" in result.stderr


def test_sim_bad_config(devflow: Invoke, tmp_path: Path) -> None:
    bad = tmp_path / "sim.toml"
    bad.write_text("time_scale = 'fast'\n")
    result = devflow("sim", "--config", str(bad))
    assert result.exit_code == 2
    assert "sim.toml" in result.stderr


@pytest.mark.parametrize("by", ["model", "task", "day", "client"])
def test_report_json_after_requests(devflow: Invoke, by: str, tmp_path: Path) -> None:
    devflow("ask", "write a python add function")
    devflow("ask", "ciao!")
    csv_path = tmp_path / "r.csv"
    result = devflow("report", "--json", "--by", by, "--csv", str(csv_path))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["totals"]["requests"] == 2
    assert {"by_model", "by_task", "savings", "recommendations", "budgets"} <= data.keys()
    assert csv_path.read_text().count("\n") >= 2
    assert devflow("report").exit_code == 0
    from_rows = devflow("report", "--json", "--by", by, "--from-rows")
    assert json.loads(from_rows.stdout) == {**data, "generated_at": ANY, "window_start": ANY}


def test_report_on_a_damaged_database_is_one_message(devflow: Invoke, isolated_env: Path) -> None:
    """A page of the day roll-up overwritten: `report` gave two chained tracebacks (the
    read's, then its snapshot's COMMIT); it gives the store's message, as `ask` does."""
    import sqlite3

    devflow("ask", "write a python add function")
    db = isolated_env / "devflow.db"
    conn = sqlite3.connect(db)
    sql = "SELECT rootpage FROM sqlite_master WHERE name = 'rollup_day'"
    (page,) = conn.execute(sql).fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as fh:
        fh.seek((page - 1) * size)
        fh.write(b"\x42" * size)
    for args in (("report",), ("report", "--json"), ("report", "--by", "day")):
        result = devflow(*args)
        assert result.exit_code == 2, result.stderr
        assert "not a valid SQLite database" in result.stderr
        assert "Traceback" not in result.stderr


def test_report_text_counts_refused_requests(
    devflow: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After budget refusals the text said "3 requests, 100% ok": the refusals were nowhere."""
    assert devflow("ask", "hello there").exit_code == 0
    monkeypatch.setenv("OPENROUTER_COST_BUDGET_USD", "0.0000001")
    for _ in range(2):
        refused = devflow("ask", "--no-cache", "-m", "deepseek/deepseek-v3.2-exp", "hello again")
        assert refused.exit_code != 0, refused.stdout
    first = devflow("report").stdout.splitlines()[0]
    assert first == "Since 30d: 3 requests (1 ok, 2 refused), 100% of those sent ok, 0 cache hits"


def test_report_shows_key_credit_limit(devflow: Invoke, sim: SimServer) -> None:
    from decimal import Decimal

    sim.config.key_limit = Decimal("25")
    devflow("ask", "hello")
    data = json.loads(devflow("report", "--json").stdout)
    key = [b for b in data["budgets"] if b["name"] == "openrouter-key"]
    assert key and Decimal(key[0]["limit_usd"]) == Decimal("25")
    text = devflow("report").stdout
    assert "openrouter-key" in text


def test_closed_stdout_is_a_quiet_exit(sim: SimServer, fake_key: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    env = {
        **os.environ,
        "OPENROUTER_BASE_URL": sim.base_url,
        "OPENROUTER_API_KEY": fake_key,
    }
    code = "import sys; from devflow_tui.cli import main; sys.argv = ['devflow', 'models']; main()"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is already gone, like `| head -1` after its line
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert done.returncode == 1  # click's documented quiet exit on a closed pipe
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "damage",
    [
        lambda k: k[:20] + "\n" + k[20:],  # a line break inside
        lambda k: "\u201c" + k + "\u201d",  # smart quotes from a document
        lambda k: k[:-1] + "\u00e9",  # a non-ASCII letter
        lambda k: k[:10] + "\x07" + k[10:],  # a control character
    ],
)
def test_malformed_key_is_refused_before_sending_and_never_shown(
    devflow: Invoke,
    sim: SimServer,
    fake_key: str,
    isolated_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: Callable[[str], str],
) -> None:
    bad = damage(fake_key)
    monkeypatch.setenv("OPENROUTER_API_KEY", bad)
    for args in (("auth", "status"), ("ask", "hi"), ("models",)):
        result = CliRunner().invoke(main, list(args))
        assert result.exit_code == 2, (args, result.output)
        assert "OPENROUTER_API_KEY" in result.stderr and "Traceback" not in result.output
        assert fake_key[9:30] not in result.output + caplog.text
    assert [r for r in sim.requests if r.path != "/models"] == []
    stored = CliRunner().invoke(main, ["auth", "set", "--key", bad])
    assert stored.exit_code == 2 and fake_key[9:30] not in stored.output
    home = isolated_env
    assert not (home / "credentials").exists()
    if (home / "devflow.db").exists():
        assert fake_key[9:30].encode() not in (home / "devflow.db").read_bytes()


@pytest.mark.parametrize("blocker", ["file", "read-only"])
def test_auth_set_with_an_unusable_home_is_a_clear_error(
    fake_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, blocker: str
) -> None:
    home = tmp_path / "home"
    if blocker == "file":
        home.write_text("")  # DEVFLOW_HOME names a file, not a folder
    else:
        home.mkdir()
        monkeypatch.setattr(os, "open", _read_only_open(home))  # root ignores chmod
    monkeypatch.setenv("DEVFLOW_HOME", str(home))
    result = CliRunner().invoke(main, ["auth", "set", "--key", fake_key])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and fake_key not in result.output
    assert str(home) in result.stderr


def _read_only_open(home: Path) -> Callable[..., int]:
    """os.open as on a read-only file system for files created under `home`."""
    real = os.open

    def fake(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(str(home)) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real(path, flags, *args, **kwargs)

    return fake
