"""`devflow serve` options, `devflow report --by client`, and spend per client."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devflow_tui.accounting.reports import build_report
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.errors import ConfigError
from devflow_tui.serve.command import banner, bind_port
from devflow_tui.serve.server import _config, _ForegroundServer, is_loopback
from devflow_tui.serve.tokens import ProxyTokens
from tests.cli.conftest import Invoke, devflow  # noqa: F401
from tests.serve.conftest import Proxy


def test_print_env_gives_the_exports(devflow: Invoke, tmp_path: Path) -> None:  # noqa: F811
    result = devflow("serve", "--print-env", "--port", "5151")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "export ANTHROPIC_BASE_URL=http://127.0.0.1:5151\n" in out
    assert "export OPENAI_BASE_URL=http://127.0.0.1:5151/v1\n" in out
    token = out.split("ANTHROPIC_AUTH_TOKEN=")[1].split("\n")[0]
    assert token.startswith("dfp-")
    assert "sk-or-" not in out  # the OpenRouter key never leaves the process


def test_print_env_puts_an_ipv6_host_in_brackets(devflow: Invoke) -> None:  # noqa: F811
    result = devflow("serve", "--print-env", "--host", "::1", "--port", "5151")
    assert result.exit_code == 0, result.stderr
    assert "export ANTHROPIC_BASE_URL=http://[::1]:5151\n" in result.stdout
    assert "export OPENAI_BASE_URL=http://[::1]:5151/v1\n" in result.stdout


def test_new_token_is_labelled(devflow: Invoke) -> None:  # noqa: F811
    result = devflow("serve", "--new-token", "claude-laptop")
    assert result.exit_code == 0
    token = result.stdout.split("ANTHROPIC_AUTH_TOKEN=")[1].split("\n")[0]
    home = Path(__import__("os").environ["DEVFLOW_HOME"])
    assert ProxyTokens.load(home, env={}).label_of(token) == "claude-laptop"
    bad = devflow("serve", "--new-token", "Has Spaces")
    assert bad.exit_code == 2 and "label" in bad.stderr


def test_rotate_revoke_and_list_tokens(devflow: Invoke) -> None:  # noqa: F811
    first = devflow("serve", "--print-env").stdout.split("ANTHROPIC_AUTH_TOKEN=")[1].split()[0]
    assert devflow("serve", "--new-token", "ci").exit_code == 0
    rotated = devflow("serve", "--rotate-token", "default")
    assert rotated.exit_code == 0, rotated.stderr
    second = rotated.stdout.split("ANTHROPIC_AUTH_TOKEN=")[1].split()[0]
    assert second != first and second.startswith("dfp-")
    listed = devflow("serve", "--list-tokens")
    assert listed.exit_code == 0 and "default" in listed.stdout and "ci" in listed.stdout
    assert second not in listed.stdout and second[-4:] in listed.stdout  # masked
    revoked = devflow("serve", "--revoke-token", "ci")
    assert revoked.exit_code == 0 and "401" in revoked.stdout
    assert "ci " not in devflow("serve", "--list-tokens").stdout
    missing = devflow("serve", "--revoke-token", "ci")
    assert missing.exit_code == 2 and "no proxy token labelled 'ci'" in missing.stderr
    last = devflow("serve", "--revoke-token", "default")
    assert last.exit_code == 2 and "--rotate-token default" in last.stderr


def test_serve_without_a_key_says_what_to_do(devflow: Invoke) -> None:  # noqa: F811
    # No key is a configuration error (exit 2), as for `ask`: nothing was refused upstream.
    for command in ("serve", "mcp"):
        result = devflow(command, key=False)
        assert result.exit_code == 2 and "--demo" in result.stderr, command


def test_busy_port_is_a_clear_error(devflow: Invoke) -> None:  # noqa: F811
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = devflow("serve", "--port", str(port))
    assert result.exit_code == 2 and f"127.0.0.1:{port}" in result.stderr
    assert "another --port" in result.stderr


def test_loopback_detection_and_banner(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("192.168.1.10") and not is_loopback("example.org")
    with pytest.raises(ConfigError, match="Cannot listen"), socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        bind_port("127.0.0.1", taken.getsockname()[1])
    from devflow_tui.config import load_settings

    settings = load_settings()
    tokens = ProxyTokens.load(tmp_path, env={})
    text = banner(settings, "127.0.0.1", 4141, tokens, demo=True)
    assert "http://127.0.0.1:4141" in text and tokens.default not in text
    assert "`devflow serve --print-env` prints" in text  # the configured port: no --port
    assert "`devflow serve --print-env --port 5555` prints" in banner(
        settings, "127.0.0.1", 5555, tokens, demo=True
    )


def test_port_0_prints_the_port_it_got(devflow: Invoke) -> None:  # noqa: F811
    """`devflow serve --port 0` binds a free port, and its banner gives that port: as the URL,
    which answers, and in the `--print-env` command, which prints the same URL."""
    devflow_argv = [sys.executable, "-c", "from devflow_tui.cli import main; main()"]
    proc = subprocess.Popen(
        [*devflow_argv, "serve", "--demo", "--port", "0"],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        out = ""
        with selectors.DefaultSelector() as waiting:
            waiting.register(proc.stdout, selectors.EVENT_READ)
            while "prints the exports" not in out:
                assert waiting.select(timeout=100), f"no banner: {out!r}"  # a hang guard
                chunk = os.read(proc.stdout.fileno(), 4096)
                assert chunk, f"devflow serve ended: {out!r}"
                out += chunk.decode()
        found = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", out)
        assert found is not None, out
        url, port = found.group(1), int(found.group(2))
        assert port != 0
        assert httpx.get(f"{url}/health", timeout=30).json()["status"] == "ok"
        command = re.search(r"`devflow (serve --print-env[^`]*)`", out)
        assert command is not None and f"--port {port}" in command.group(1), out
        exports = devflow(*command.group(1).split()).stdout
        assert f"export ANTHROPIC_BASE_URL={url}\n" in exports
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_print_env_with_port_0_says_there_is_no_url_yet(devflow: Invoke) -> None:  # noqa: F811
    for args in (("--print-env",), ("--new-token", "ci")):
        result = devflow("serve", *args, "--port", "0")
        assert result.exit_code == 2 and "Port 0" in result.stderr and "http" not in result.stdout
    assert "ci " not in devflow("serve", "--list-tokens").stdout  # nothing half done


def test_report_by_client_splits_spend(proxy: Proxy) -> None:
    import anthropic
    import openai

    anthropic.Anthropic(base_url=proxy.url, api_key=proxy.token).messages.create(
        model="openai/gpt-4o-mini", max_tokens=200, messages=[{"role": "user", "content": "hi"}]
    )
    for _ in range(2):
        openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.token).chat.completions.create(
            model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert len(proxy.rows(expect=3)) == 3  # the proxy records after the client has its answer
    with AnalyticsStore(proxy.settings.db_path) as store:
        report = build_report(store, since="all", by="client")
    by_client = {g.key: g for g in report.by_client}
    assert by_client["openai-sdk"].requests == 2 and by_client["anthropic-sdk"].requests == 1
    total = sum((g.cost_usd or 0) for g in report.by_client)
    assert total == report.totals.cost_usd
    assert json.loads(report.model_dump_json())["by_client"][0]["latency_p50_ms"] is not None


def test_the_proxy_keeps_idle_connections_longer_than_its_clients() -> None:
    # Equal expiries race: the server closes an idle connection as the client reuses it.
    from starlette.applications import Starlette

    config = _config(Starlette(), "127.0.0.1", 0)
    client_expiry = httpx.Limits().keepalive_expiry
    assert client_expiry is not None and config.timeout_keep_alive > client_expiry + 10


def test_serve_stops_on_sighup_as_on_sigterm_unless_it_is_ignored() -> None:
    """The handlers the foreground proxy runs with (`test_signals.py` sends the signals)."""
    from starlette.applications import Starlette

    server = _ForegroundServer(_config(Starlette(), "127.0.0.1", 0))
    inherited = signal.getsignal(signal.SIGHUP)
    # From a terminal SIGHUP starts with its default action; the test suite itself may run
    # under `nohup` (SIGHUP ignored), so the default is set here rather than assumed.
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        with server.capture_signals():
            assert signal.getsignal(signal.SIGHUP) == server.handle_exit
            assert signal.getsignal(signal.SIGTERM) == server.handle_exit
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # `nohup devflow serve`
        with server.capture_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, inherited)


def test_a_request_cancelled_at_shutdown_is_logged_without_a_traceback() -> None:
    from starlette.applications import Starlette

    _config(Starlette(), "127.0.0.1", 0)
    errors = logging.getLogger("uvicorn.error")
    cancelled = errors.makeRecord(
        "uvicorn.error",
        logging.ERROR,
        __file__,
        1,
        "Exception in ASGI application",
        (),
        (asyncio.CancelledError, asyncio.CancelledError("shutdown"), None),
    )
    failed = errors.makeRecord(
        "uvicorn.error",
        logging.ERROR,
        __file__,
        1,
        "Exception in ASGI application",
        (),
        (ValueError, ValueError("a real bug"), None),
    )
    assert not errors.filter(cancelled)
    assert errors.filter(failed)
