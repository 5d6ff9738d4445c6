"""`devflow serve` as its own process on a free 127.0.0.1 port, for tests and benchmarks that
need several instances (each one process, as on separate machines)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

_START_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_serve(env: dict[str, str], cwd: str) -> tuple[subprocess.Popen[str], str]:
    """Start `devflow serve` with `env` (its DEVFLOW_HOME, key, base URL, database...) and
    wait until /health says ok; returns the process and its URL. Its output is kept in a pipe
    (read it with `communicate()` after stopping it)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from devflow_tui.cli import main; main()",
            "serve",
            "--port",
            str(port),
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/health", timeout=2).json().get("status") == "ok":
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"devflow serve did not start: {proc.communicate()[1][-2000:]}")
