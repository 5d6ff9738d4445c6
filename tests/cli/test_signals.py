"""`devflow` as a real process: killed, terminated, hung up or interrupted while it waits.

These run the CLI in a child process (signals need one) against the simulated server of the
test process, and read the child's database afterwards."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from devflow_tui.cli import main
from devflow_tui.serve.tokens import ProxyTokens
from devflow_tui.sim import Fault, SimServer
from tests.serve.serve_process import start_serve
from tests.sim_fixture import sim  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 30.0  # a safety net against a hung child, not a timing assertion
# A child of a background job starts with SIGINT ignored (and Python then never raises
# KeyboardInterrupt); a user's terminal delivers it, so the child gets Python's own handler.
CHILD = (
    "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from devflow_tui.cli import main; main()"
)


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env


@pytest.fixture
def child_env(
    sim: SimServer,  # noqa: F811
    fake_key: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The environment of a child `devflow`: the sim as OpenRouter and a $5 budget."""
    (tmp_path / "config.toml").write_text('max_retries = 0\n[budget]\nlimit_usd = "5"\n')
    monkeypatch.setenv("OPENROUTER_BASE_URL", sim.base_url)
    monkeypatch.setenv("OPENROUTER_API_KEY", fake_key)
    yield dict(os.environ, PYTHONPATH=str(REPO))


def spawn(env: dict[str, str], *args: str, stdin: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, *args],
        cwd=REPO,
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []  # tables not created yet
    finally:
        conn.close()


def wait_until(condition: object, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():  # type: ignore[operator]
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "the child never got there"
        time.sleep(0.02)


def start_stuck_ask(
    env: dict[str, str],
    sim: SimServer,  # noqa: F811
    db: Path,
    *options: str,
) -> subprocess.Popen[bytes]:
    """An ask whose model never sends its first token, once its request row is running."""
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=120_000, times=None))
    proc = spawn(env, "ask", *options, "--no-cache", "write a haiku about rain")
    wait_running(proc, db)
    return proc


def wait_running(proc: subprocess.Popen[Any], db: Path) -> None:
    """Until the child's request row is written as running (its answer not yet come)."""
    running = f"SELECT 1 FROM requests WHERE status = 'running' AND pid = {proc.pid}"  # noqa: S608
    wait_until(lambda: query(db, running), proc)


def stop_like_ctrl_c(proc: subprocess.Popen[bytes], number: int, db: Path) -> None:
    """Send `number`: the child must stop as Ctrl-C stops it, its request recorded."""
    proc.send_signal(number)
    _, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 128 + number, err.decode()
    assert f"stopped by {signal.Signals(number).name}" in err.decode()
    assert "Traceback" not in err.decode()
    assert query(db, "SELECT status FROM requests") == [("cancelled",)]
    assert query(db, "SELECT count(*) FROM budget_reservations") == [(0,)]


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_an_ask_like_ctrl_c(
    child_env: dict[str, str],
    sim: SimServer,  # noqa: F811
    home: Path,
    number: signal.Signals,
) -> None:
    db = home / "devflow.db"
    stop_like_ctrl_c(start_stuck_ask(child_env, sim, db), number, db)


def test_ask_into_a_closed_pipe_records_its_request_as_cancelled(
    child_env: dict[str, str],
    home: Path,
) -> None:
    """`devflow ask … | head -1`: the reader goes away mid-answer. The request used to be
    left `running` (later "interrupted", cost unknown, its budget hold kept) because the
    write's BrokenPipeError skipped the pipeline's closing of the books."""
    db = home / "devflow.db"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is already gone, like `| head -1` after its line
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, "ask", "--no-cache", "write a haiku about rain"],
            cwd=REPO,
            env=child_env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=DEADLINE_S,
            check=False,
        )
    finally:
        os.close(write_end)
    err = done.stderr.decode()
    assert done.returncode == 1, err  # the documented quiet exit of a closed stdout
    assert "Traceback" not in err
    rows = query(db, "SELECT status, cost_source, error_category FROM requests")
    assert rows == [("cancelled", "estimated", "cancelled")]
    assert query(db, "SELECT count(*) FROM budget_reservations") == [(0,)]


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_ask_json_stopped_still_prints_its_object(
    child_env: dict[str, str],
    sim: SimServer,  # noqa: F811
    home: Path,
    number: signal.Signals,
) -> None:
    """`ask --json` stopped mid-request printed nothing on stdout: a script got no object."""
    db = home / "devflow.db"
    proc = start_stuck_ask(child_env, sim, db, "--json")
    proc.send_signal(number)
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 128 + number, err.decode()
    document = json.loads(out)
    assert document["status"] == "cancelled" and document["complete"] is False
    assert query(db, "SELECT status FROM requests") == [("cancelled",)]


def _mcp_call(proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
    proc.stdin.flush()


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_mcp_mid_tool_call_like_ctrl_c(
    child_env: dict[str, str],
    sim: SimServer,  # noqa: F811
    home: Path,
    number: signal.Signals,
) -> None:
    """They used to kill `devflow mcp` outright, its tool call's request left running."""
    db = home / "devflow.db"
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=120_000, times=None))
    proc = spawn(child_env, "mcp", stdin=subprocess.PIPE)
    hello = {"protocolVersion": "2025-03-26", "capabilities": {}}
    _mcp_call(
        proc,
        {
            "id": 1,
            "method": "initialize",
            "params": {**hello, "clientInfo": {"name": "test", "version": "1"}},
        },
    )
    assert proc.stdout is not None and b'"id":1' in proc.stdout.readline()
    _mcp_call(proc, {"method": "notifications/initialized"})
    ask = {"name": "ask", "arguments": {"prompt": "write a haiku about rain"}}
    _mcp_call(proc, {"id": 2, "method": "tools/call", "params": ask})
    wait_running(proc, db)
    stop_like_ctrl_c(proc, number, db)


def test_sighup_stops_serve_gracefully_and_its_stream_is_recorded(
    child_env: dict[str, str],
    sim: SimServer,  # noqa: F811
    home: Path,
) -> None:
    """SIGHUP (the terminal `devflow serve` runs in closed) killed the proxy on the spot, the
    request it was streaming left running; SIGTERM already stopped it gracefully."""
    db = home / "devflow.db"
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=120_000, times=None))
    proc, url = start_serve(child_env, str(REPO))
    token = ProxyTokens.load(home).default
    body = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "a haiku"}]}

    def client() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with httpx.stream(
                "POST", f"{url}/v1/chat/completions", json=body, headers=headers, timeout=60
            ) as response:
                for _ in response.iter_bytes():
                    pass
        except httpx.HTTPError:
            pass  # the proxy went away mid-answer, as it should

    streaming = threading.Thread(target=client, daemon=True)
    streaming.start()
    wait_running(proc, db)
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=DEADLINE_S)
    streaming.join(timeout=DEADLINE_S)
    # uvicorn ends a graceful stop by re-raising the signal: the shell sees 128 + 1.
    assert proc.returncode == -signal.SIGHUP, err
    assert "Traceback" not in err
    assert query(db, "SELECT status FROM requests") == [("cancelled",)]
    assert query(db, "SELECT count(*) FROM budget_reservations") == [(0,)]


def test_killed_asks_are_counted_and_release_their_budget_at_the_next_report(
    child_env: dict[str, str],
    sim: SimServer,  # noqa: F811
    home: Path,
) -> None:
    db = home / "devflow.db"
    for _ in range(3):
        proc = start_stuck_ask(child_env, sim, db)
        proc.kill()
        proc.communicate(timeout=DEADLINE_S)
        sim.clear_faults()
    # Each new ask already released what the previous, killed one held; the last one's
    # row and reservation wait for the next command.
    assert query(db, "SELECT count(*) FROM budget_reservations") == [(1,)]
    assert query(db, "SELECT status, count(*) FROM requests GROUP BY 1") == [
        ("interrupted", 2),
        ("running", 1),
    ]

    result = CliRunner().invoke(main, ["report", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert query(db, "SELECT status FROM requests") == [("interrupted",)] * 3
    assert query(db, "SELECT count(*) FROM budget_reservations") == [(0,)]
    assert json.loads(result.stdout)["totals"]["failed"] == 3


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd) == str(path) for fd in fds.iterdir())
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to see open files")
@pytest.mark.parametrize("args", [("note", "add", "second"), ("ask", "--no-cache", "hello")])
def test_ctrl_c_while_waiting_for_the_database_lock_exits_130(
    child_env: dict[str, str], home: Path, args: tuple[str, ...]
) -> None:
    db = home / "devflow.db"
    holder_ready = CliRunner().invoke(main, ["note", "add", "first"], catch_exceptions=False)
    assert holder_ready.exit_code == 0
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        proc = spawn(child_env, *args)
        wait_until(lambda: _has_open(proc.pid, db), proc)
        time.sleep(0.2)  # let it reach the wait; any later moment must give the same result
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
