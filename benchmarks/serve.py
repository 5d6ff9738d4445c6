"""Proxy benchmark: what `devflow serve` adds over calling the simulated OpenRouter directly,
per request and per streamed chunk, at 1, 10 and 100 concurrent streams; side by side with
LiteLLM's proxy and claude-code-router when they are installed; and the proxy's memory.

Run: `.venv/bin/python benchmarks/serve.py [--rounds 3] [--install-peers] [--no-peers]
[--other-tree DIR] [--claude-code-body]` (`--other-tree` also runs the `devflow serve` of
another checkout, say main's, side by side: a change's effect measured in one run;
`--claude-code-body` sends every system a request the size of Claude Code's, system blocks
and 24 tool definitions, about 80 KB, instead of a one-word prompt).

Every system streams the same answer (60 tokens in 20 chunks) from the same simulator, which
answers instantly (`time_scale=0`), so the difference to the direct call is the proxy's own
cost. The systems take turns round by round, so load from elsewhere falls on all of them
alike, and each proxy's CPU time per request is printed too (from /proc), which a loaded
machine disturbs far less than latency. Each proxy runs as its own process; the load
generator and the simulator share this one. `--install-peers` installs the peers into
~/.cache/devflow-tui/bench-peers (litellm[proxy] from PyPI in its own venv,
@musistudio/claude-code-router from npm); without them their rows say "not installed".
Target: median added latency under 1 ms per request at 1 stream, below both peers at every
level; under 100 MB resident at 100 streams.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devflow_tui.sim import SimConfig, SimServer

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path.home() / ".cache" / "devflow-tui" / "bench-peers"
LITELLM = PEERS / "litellm-venv" / "bin" / "litellm"
CCR = PEERS / "ccr" / "node_modules" / ".bin" / "ccr"
MODEL = "openai/gpt-4o-mini"
TOKEN = "dfp-benchmark-token"  # noqa: S105 - a local token the benchmark sets itself
FAKE_KEY = "sk-or-v1-" + "fa1e" * 16
LITELLM_KEY = "sk-litellm-benchmark-" + "0" * 16  # its proxy refuses to start without one
LEVELS = (1, 10, 100)


@dataclass
class Target:
    """One way to stream the answer: a URL, a body and headers."""

    name: str
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    baseline: str | None = None  # the direct target it is compared with


def claude_code_body() -> dict[str, Any]:
    """An Anthropic Messages request shaped and sized like Claude Code's: two system blocks,
    24 tool definitions with JSON schemas, thinking, metadata, and a user turn with a
    system reminder before the prompt (about 80 KB of JSON)."""
    schema = {
        "type": "object",
        "properties": {
            f"param_{i}": {"type": "string", "description": "What this parameter does. " * 4}
            for i in range(6)
        },
        "required": ["param_0"],
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    tools = [
        {
            "name": f"Tool{i}",
            "description": "Use this tool to do one thing. " * 40,
            "input_schema": schema,
        }
        for i in range(24)
    ]
    reminder = "<system-reminder>Keep this in mind. " * 30 + "</system-reminder>"
    return {
        "model": MODEL,
        "max_tokens": 200,
        "stream": True,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": "You help users with software engineering tasks. " * 150},
        ],
        "tools": tools,
        "metadata": {"user_id": "user_benchmark_session_1"},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": reminder}, {"type": "text", "text": "hi"}],
            }
        ],
    }


def as_chat(body: dict[str, Any]) -> dict[str, Any]:
    """The same request in the OpenAI chat shape (system message, function tools)."""
    system = "\n".join(block["text"] for block in body["system"])
    tools = [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool["description"],
                "parameters": tool["input_schema"],
            },
        }
        for tool in body["tools"]
    ]
    user = "\n".join(part["text"] for part in body["messages"][0]["content"])
    return {
        "model": MODEL,
        "stream": True,
        "tools": tools,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout_s:.0f} s")


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MB, from /proc."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


# ---------------------------------------------------------------------- the proxies


def start_devflow(
    sim_url: str, work: Path, tree: Path = ROOT, name: str = "devflow"
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = work / f"{name}.toml"
    # Every request is the same: the response cache would answer them all (a cache hit is
    # not what this measures), so it is off.
    config.write_text(
        "rate_limit_requests = 1000000\nmax_concurrency = 512\nmax_retries = 0\n"
        "[cache]\nenabled = false\n"
    )
    env = {
        **os.environ,
        "DEVFLOW_HOME": str(work / f"{name}-home"),
        "DEVFLOW_CONFIG": str(config),
        "OPENROUTER_BASE_URL": sim_url,
        "OPENROUTER_API_KEY": FAKE_KEY,
        "DEVFLOW_PROXY_TOKEN": TOKEN,
        "PYTHONPATH": str(tree),
    }
    code = "from devflow_tui.cli import run; run()"  # as the `devflow` program runs
    # Started in `tree`: `python -c` puts the working directory first on sys.path, ahead of
    # PYTHONPATH, so from another checkout it would import that checkout's devflow instead.
    process = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port)],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until_up(f"http://127.0.0.1:{port}/health")
    return process, port


def start_litellm(sim_url: str, work: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    if not LITELLM.exists():
        return None
    port = free_port()
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: bench\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {sim_url}\n"
        f"      api_key: {FAKE_KEY}\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  telemetry: false\n"
    )
    env = {
        **os.environ,
        "LITELLM_LOG": "ERROR",
        "DISABLE_SCHEMA_UPDATE": "true",
        "LITELLM_MASTER_KEY": LITELLM_KEY,
    }
    process = subprocess.Popen(
        [str(LITELLM), "--config", str(config), "--port", str(port), "--host", "127.0.0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health/liveliness", timeout_s=120)
    except RuntimeError:
        process.kill()
        return None
    return process, port


def start_ccr(sim_url: str, work: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    if not CCR.exists() or shutil.which("node") is None:
        return None
    port = free_port()
    home = work / "ccr-home"
    (home / ".claude-code-router").mkdir(parents=True)
    config = {
        "PORT": port,
        "LOG": False,
        "NON_INTERACTIVE_MODE": True,
        "Providers": [
            {
                "name": "sim",
                "api_base_url": f"{sim_url}/chat/completions",
                "api_key": FAKE_KEY,
                "models": [MODEL],
            }
        ],
        "Router": {"default": f"sim,{MODEL}"},
    }
    (home / ".claude-code-router" / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "HOME": str(home)}
    process = subprocess.Popen(
        [str(CCR), "start"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/", timeout_s=60)
    except RuntimeError:
        process.kill()
        return None
    return process, port


def install_peers() -> None:
    PEERS.mkdir(parents=True, exist_ok=True)
    if not LITELLM.exists():
        venv = PEERS / "litellm-venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=False)
    if not CCR.exists() and shutil.which("npm"):
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(PEERS / "ccr"),
                "--no-audit",
                "--no-fund",
                "@musistudio/claude-code-router",
            ],
            check=False,
        )


# ---------------------------------------------------------------------- load


async def one_stream(client: httpx.AsyncClient, target: Target) -> tuple[float, int]:
    """Seconds from sending to the end of the stream, and how many SSE data events came."""
    started = time.perf_counter()
    events = 0
    async with client.stream("POST", target.url, json=target.body, headers=target.headers) as r:
        if r.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {r.status_code} {(await r.aread())[:200]!r}")
        async for line in r.aiter_lines():
            if line.startswith("data:"):
                events += 1
    return time.perf_counter() - started, events


@dataclass
class Measured:
    """One target at one concurrency level: stream times, SSE events per stream, failures."""

    times: list[float] = field(default_factory=list)
    chunks: int = 0
    failure: str | None = None


async def run_level(targets: list[Target], level: int, rounds: int) -> dict[str, Measured]:
    """Every target, round by round in turn (A, B, C, A, B, C, ...), each with its own
    connection pool: on a shared, loaded machine a slow minute hits every target alike,
    which running each target's rounds as one block would not."""
    limits = httpx.Limits(max_connections=level * 2, max_keepalive_connections=level * 2)
    clients = {t.name: httpx.AsyncClient(timeout=60, limits=limits) for t in targets}
    measured = {t.name: Measured() for t in targets}
    try:
        for round_no in range(rounds + 1):  # the first round warms up
            for target in targets:
                entry = measured[target.name]
                if entry.failure is not None:
                    continue
                client = clients[target.name]
                try:
                    results = await asyncio.gather(
                        *(one_stream(client, target) for _ in range(level))
                    )
                except (httpx.HTTPError, RuntimeError) as exc:
                    # A system that drops connections under load: say so, measure the rest.
                    entry.failure = f"{type(exc).__name__} {exc}".strip()
                    continue
                if round_no:
                    entry.times += [t for t, _ in results]
                    entry.chunks = results[0][1]
    finally:
        for client in clients.values():
            await client.aclose()
    return measured


def peer_versions() -> str:
    """The installed peers' versions, as their own package metadata says."""
    found = []
    pips = list((PEERS / "litellm-venv" / "lib").glob("python*/site-packages/litellm-*.dist-info"))
    if pips:
        found.append("LiteLLM " + pips[0].name.removesuffix(".dist-info").split("-")[1])
    package = PEERS / "ccr" / "node_modules" / "@musistudio" / "claude-code-router" / "package.json"
    if package.exists():
        found.append("claude-code-router " + str(json.loads(package.read_text())["version"]))
    return ", ".join(found) or "no peers installed"


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PeakSampler:
    """Samples a process's resident memory while a load runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid)[0])

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds per concurrency level")
    parser.add_argument("--install-peers", action="store_true")
    parser.add_argument("--no-peers", action="store_true", help="only devflow and the direct calls")
    parser.add_argument("--other-tree", type=Path, help="also run this checkout's devflow serve")
    parser.add_argument(
        "--claude-code-body",
        action="store_true",
        help="send a Claude-Code-sized request (system blocks, 24 tools) instead of one word",
    )
    args = parser.parse_args()
    if args.install_peers:
        install_peers()
    config = SimConfig(time_scale=0.0, answer_tokens=60, chunk_tokens=3)
    chat: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    messages: dict[str, Any] = {**chat, "max_tokens": 200}
    if args.claude_code_body:
        messages = claude_code_body()
        chat = as_chat(messages)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    with SimServer(config) as sim, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        key = {"Authorization": f"Bearer {FAKE_KEY}"}
        devflow, port = start_devflow(sim.base_url, work)
        processes.append(("devflow serve", devflow))
        targets = [
            Target("direct /chat/completions", f"{sim.base_url}/chat/completions", chat, key),
            Target("direct /messages", f"{sim.base_url}/messages", messages, key),
            Target(
                "devflow serve (OpenAI)",
                f"http://127.0.0.1:{port}/v1/chat/completions",
                chat,
                auth,
                "direct /chat/completions",
            ),
            Target(
                "devflow serve (Anthropic)",
                f"http://127.0.0.1:{port}/v1/messages",
                messages,
                auth,
                "direct /messages",
            ),
        ]
        if args.other_tree is not None:
            other, other_port = start_devflow(
                sim.base_url, work, args.other_tree.resolve(), "other"
            )
            processes.append(("other devflow serve", other))
            base = f"http://127.0.0.1:{other_port}/v1"
            targets.append(
                Target(
                    "other devflow serve (OpenAI)",
                    f"{base}/chat/completions",
                    chat,
                    auth,
                    "direct /chat/completions",
                )
            )
            targets.append(
                Target(
                    "other devflow serve (Anthropic)",
                    f"{base}/messages",
                    messages,
                    auth,
                    "direct /messages",
                )
            )
        peers: list[tuple[str, Callable[[str, Path], Any]]] = [
            ("LiteLLM proxy", start_litellm),
            ("claude-code-router", start_ccr),
        ]
        missing: list[str] = []
        if args.no_peers:
            peers = []
        for name, start in peers:
            started = start(sim.base_url, work)
            if started is None:
                missing.append(name)
                continue
            process, peer_port = started
            processes.append((name, process))
            if name == "LiteLLM proxy":
                body = {**chat, "model": "bench"}
                url = f"http://127.0.0.1:{peer_port}/v1/chat/completions"
                master = {"Authorization": f"Bearer {LITELLM_KEY}"}
                targets.append(Target(name, url, body, master, "direct /chat/completions"))
            else:
                url = f"http://127.0.0.1:{peer_port}/v1/messages"
                body = {**messages, "model": "claude-sonnet-4-5"}
                targets.append(Target(name, url, body, {}, "direct /chat/completions"))
        try:
            note = f"Claude-Code-sized ({len(json.dumps(messages)) // 1000} KB)"
            report(
                targets,
                processes,
                args.rounds,
                missing,
                note if args.claude_code_body else "one word",
            )
        finally:
            for _name, process in processes:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()


def report(
    targets: list[Target],
    processes: list[tuple[str, subprocess.Popen[bytes]]],
    rounds: int,
    missing: list[str],
    body_note: str,
) -> None:
    pid_of = {name: p.pid for name, p in processes}
    owner_of = {
        t.name: next((n for n in pid_of if t.name.startswith(n + " (") or t.name == n), None)
        for t in targets
    }
    medians: dict[tuple[str, int], float] = {}
    chunks_of: dict[str, int] = {}
    peaks: dict[str, float] = {}
    cpu_per_request: dict[tuple[str, int], float] = {}
    failures: list[str] = []
    # Every system once through a few requests first, outside the figures: imports done on
    # first use (devflow's relay, node's JIT) are start-up, not a request's cost.
    asyncio.run(run_level(targets, 2, 3))
    for level in LEVELS:
        # At least 100 streams per system and level (10 rounds of 10, 100 of 1): at 10
        # streams 30 were too few for a median steadier than the differences it compares.
        level_rounds = max(rounds, 100 // level)
        samplers = [PeakSampler(pid) for pid in pid_of.values()] if level == 100 else []
        cpu_before = {name: cpu_s(pid) for name, pid in pid_of.items()}
        for sampler in samplers:
            sampler.__enter__()
        try:
            measured = asyncio.run(run_level(targets, level, level_rounds))
        finally:
            for sampler in samplers:
                sampler.__exit__()
        for sampler, name in zip(samplers, pid_of, strict=False):
            peaks[name] = sampler.peak
        for name, pid in pid_of.items():
            served = sum(
                len(measured[t.name].times) + level  # the warm-up round counts too
                for t in targets
                if owner_of[t.name] == name and measured[t.name].failure is None
            )
            if served:
                cpu_per_request[(name, level)] = (cpu_s(pid) - cpu_before[name]) / served * 1000
        for target in targets:
            entry = measured[target.name]
            if entry.failure is not None:
                failures.append(f"{target.name} at {level} streams: {entry.failure}")
                continue
            medians[(target.name, level)] = statistics.median(entry.times) * 1000
            chunks_of[target.name] = entry.chunks
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; {peer_versions()}")
    print(f"request bodies: {body_note}")
    print("median ms per streamed request (added over the direct call; per chunk)")
    header = f"{'system':<32}" + "".join(f"{f'{n} stream(s)':>30}" for n in LEVELS)
    print(header)
    for target in targets:
        cells = []
        for level in LEVELS:
            ms = medians.get((target.name, level))
            base = medians.get((target.baseline or "", level))
            if ms is None or (target.baseline is not None and base is None):
                cells.append("failed")
            elif base is None:
                cells.append(f"{ms:9.2f}")
            else:
                added = ms - base
                per_chunk = added / max(chunks_of.get(target.name, 1), 1)
                cells.append(f"{ms:9.2f} (+{added:7.2f}; {per_chunk:6.3f})")
        print(f"{target.name:<32}" + "".join(f"{c:>30}" for c in cells))
    print("CPU ms per request of each proxy process (user + system; steadier under load)")
    for name in pid_of:
        cells = [
            f"{cpu_per_request[(name, n)]:9.2f}" if (name, n) in cpu_per_request else "failed"
            for n in LEVELS
        ]
        print(f"{name:<32}" + "".join(f"{c:>30}" for c in cells))
    for name in missing:
        print(f"{name:<32} not installed or did not start (see --install-peers)")
    for name, peak in peaks.items():
        print(f"{name}: peak resident memory at 100 streams {peak:.1f} MB")
    for failure in failures:
        print(f"failed: {failure}")
    load = os.getloadavg()
    print(f"load average during the run: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
