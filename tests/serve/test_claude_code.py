"""Claude Code itself against `devflow serve` in front of the simulated OpenRouter.

`make test` installs `@anthropic-ai/claude-code` with npm into a cache folder outside the repo
(DEVFLOW_CLAUDE_CODE_DIR); its native binary comes in the optional platform package and runs
from node_modules. Without npm, or when the install failed, this test skips and says why.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import devflow_tui
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.cli import main
from tests.conftest import show_at_end
from tests.serve.conftest import Proxy, ProxyFactory

ROOT = Path(devflow_tui.__file__).resolve().parent.parent

CACHE = Path(
    os.environ.get("DEVFLOW_CLAUDE_CODE_DIR")
    or Path.home() / ".cache" / "devflow-tui" / "claude-code"
)


def _binary() -> Path | None:
    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "")
    modules = CACHE / "node_modules"
    for candidate in (
        modules / "@anthropic-ai" / f"claude-code-linux-{arch}" / "claude",
        modules / ".bin" / "claude",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _skip_reason() -> str:
    if shutil.which("npm") is None:
        return "npm is not installed, so `make test` could not install Claude Code"
    return (
        f"Claude Code is not installed in {CACHE} (run `make test`, which installs it with "
        "npm; the npm registry may have been unreachable)"
    )


CLAUDE = _binary()


@pytest.mark.skipif(CLAUDE is None, reason=_skip_reason())
def test_claude_code_answers_through_the_proxy(make_proxy: ProxyFactory, tmp_path: Path) -> None:
    # Claude's model names go to the same Anthropic model through OpenRouter (a paid one,
    # so the recorded cost is more than $0).
    proxy = make_proxy(serve={"models": {"claude-*": "passthrough"}})
    done = _claude(proxy, tmp_path, "say hello")
    show_at_end("Claude Code's answer through devflow serve", done.stdout.strip())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[simulated answer from " in done.stdout
    messages = proxy.upstream("/messages")
    assert messages and messages[0]["tools"], "Claude Code sends its tool definitions"
    assert all(m["model"].startswith("anthropic/claude-") for m in messages)
    report = CliRunner().invoke(main, ["report", "--by", "client", "--json", "--since", "all"])
    assert report.exit_code == 0, report.stderr
    by_client = {g["key"]: g for g in json.loads(report.stdout)["by_client"]}
    claude = by_client["claude-code"]
    assert claude["requests"] >= 1 and claude["ok"] >= 1
    assert claude["cost_usd"] is not None and float(claude["cost_usd"]) > 0


@pytest.mark.skipif(CLAUDE is None, reason=_skip_reason())
def test_claude_code_delegates_through_devflow_mcp(
    make_proxy: ProxyFactory, tmp_path: Path, fake_key: str
) -> None:
    proxy = make_proxy()
    server = {
        "command": sys.executable,
        "args": ["-c", "from devflow_tui.cli import main; main()", "mcp"],
        "env": {
            "DEVFLOW_HOME": str(proxy.settings.home),
            "DEVFLOW_CONFIG": os.environ["DEVFLOW_CONFIG"],
            "OPENROUTER_BASE_URL": proxy.sim.base_url,
            "OPENROUTER_API_KEY": fake_key,
            "PYTHONPATH": str(ROOT),
        },
    }
    config = json.dumps({"mcpServers": {"devflow": server}})
    prompt = "Delegate this with mcp__devflow__ask: write a haiku about rivers"
    extra = ["--mcp-config", config, "--allowedTools", "mcp__devflow__ask"]
    done = _claude(proxy, tmp_path, prompt, extra)
    assert done.returncode == 0, done.stderr[-2000:]
    with AnalyticsStore(proxy.settings.db_path) as store:
        clients = [row.client for row in store.recent_requests(50)]
    assert "mcp" in clients and "claude-code" in clients, (clients, done.stdout[-2000:])
    results = [
        block
        for body in proxy.upstream("/messages")
        for message in body["messages"]
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result" and "simulated answer" in json.dumps(block)
    ]
    assert results, "Claude Code sent devflow's answer back as the tool result"


def _claude(
    proxy: Proxy, tmp_path: Path, prompt: str, extra: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    assert CLAUDE is not None
    home = tmp_path / "claude-home"
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": proxy.url,
        "ANTHROPIC_AUTH_TOKEN": proxy.token,
        "ANTHROPIC_API_KEY": "",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        # Claude Code gives an MCP server 30 s to start by default; a loaded 2-core machine
        # can take longer to start `devflow mcp`, and the tool is then silently missing.
        "MCP_TIMEOUT": "90000",
    }
    return subprocess.run(
        [str(CLAUDE), "-p", prompt, *(extra or [])],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
