"""Client overhead benchmark: OpenRouterClient against a bare httpx.AsyncClient.

Run: `.venv/bin/python benchmarks/client_overhead.py [--requests 300] [--streams 200]`.
Starts the simulated server in-process with `time_scale=0` (no simulated latency), then sends
the same requests with a bare `httpx.AsyncClient` (non-streamed: `json.loads` of the body;
streamed: splitting `data:` lines until `[DONE]`) and with `OpenRouterClient` (validation,
error mapping, retry wrapper, rate limiter, attempt records; once more with the call log on).
Runs are interleaved request by request so both sides see the same machine state; overhead is
the paired difference per request (median) and the difference of the p95s. Streams have 32
content chunks. Target: median overhead < 0.5 ms per request (non-streamed). Exits 1 when the
target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from devflow_tui.config import load_settings
from devflow_tui.openrouter.calllog import CallLog
from devflow_tui.openrouter.client import OpenRouterClient, StreamDone
from devflow_tui.openrouter.ratelimit import RateLimiter
from devflow_tui.openrouter.wire import ChatMessage, ChatRequest
from devflow_tui.sim import SimConfig, SimServer

TARGET_MS = 0.5
CHUNKS = 32
MODEL = "openai/gpt-4o-mini"
BENCH_KEY = "sk-or-v1-benchmark-not-a-real-key"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def bare_chat(http: httpx.AsyncClient, body: dict[str, Any]) -> int:
    response = await http.post("/chat/completions", json=body)
    data = json.loads(response.content)
    return len(data["choices"][0]["message"]["content"])


async def bare_stream(http: httpx.AsyncClient, body: dict[str, Any]) -> int:
    chunks = 0
    async with http.stream("POST", "/chat/completions", json=body) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            payload = json.loads(data)
            if payload["choices"] and payload["choices"][0]["delta"].get("content"):
                chunks += 1
    return chunks


async def client_chat(client: OpenRouterClient, request: ChatRequest) -> int:
    return len((await client.chat(request)).text)


async def client_stream(client: OpenRouterClient, request: ChatRequest) -> int:
    chunks = 0
    async for item in client.stream_chat(request):
        if not isinstance(item, StreamDone):
            chunks += 1
    return chunks


async def timed(call: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.perf_counter()
    out = await call()
    return (time.perf_counter() - start) * 1000, out


def report(label: str, bare: list[float], ours: list[float], per: int = 1) -> float:
    diffs = [(o - b) / per for o, b in zip(ours, bare, strict=True)]
    med_b, med_o = statistics.median(bare), statistics.median(ours)
    p95_b, p95_o = percentile(bare, 0.95), percentile(ours, 0.95)
    unit = "per chunk" if per > 1 else "per request"
    print(
        f"{label:<28} bare median {med_b:7.3f} ms  client median {med_o:7.3f} ms  "
        f"ratio {med_o / med_b:5.2f}x | p95 bare {p95_b:7.3f}  client {p95_o:7.3f}  "
        f"ratio {p95_o / p95_b:5.2f}x"
    )
    # Median of the paired differences; p95 as the difference of the two p95s (a p95 of
    # paired differences mostly measures scheduler noise from the server thread).
    print(
        f"{'':<28} overhead {unit}: median {statistics.median(diffs):7.4f} ms, "
        f"p95 {(p95_o - p95_b) / per:7.4f} ms"
    )
    return statistics.median(diffs)


async def run(requests: int, streams: int) -> float:
    config = SimConfig(time_scale=0.0, answer_tokens=CHUNKS, chunk_tokens=1)
    with SimServer(config) as sim, tempfile.TemporaryDirectory() as tmp:
        # The benchmark's own settings, whatever the user's config file says.
        os.environ["DEVFLOW_CONFIG"] = os.path.join(tmp, "no-config.toml")
        settings = load_settings(cli={"base_url": sim.base_url, "max_retries": 0, "home": tmp})
        unlimited = RateLimiter(10**9, 1.0, 64)
        request = ChatRequest(
            model=MODEL, messages=[ChatMessage(role="user", content="hi there")], max_tokens=64
        )
        body = request.payload()
        stream_body = {**body, "stream": True}
        log = CallLog(Path(tmp) / "api.jsonl", max_bytes=5_000_000, level="INFO")
        headers = {"Authorization": f"Bearer {BENCH_KEY}"}
        async with (
            httpx.AsyncClient(base_url=sim.base_url + "/", headers=headers) as http,
            OpenRouterClient(settings, api_key=BENCH_KEY, rate_limiter=unlimited) as client,
            OpenRouterClient(
                settings, api_key=BENCH_KEY, rate_limiter=unlimited, call_log=log
            ) as logged,
        ):
            stream_request = request.model_copy(update={"stream": True})
            # Warm-up: connections, imports, pydantic validators.
            for _ in range(20):
                await bare_chat(http, body)
                await client_chat(client, request)
                await client_chat(logged, request)
                assert await bare_stream(http, stream_body) == CHUNKS
                assert await client_stream(client, stream_request) == CHUNKS
            bare: list[float] = []
            ours: list[float] = []
            ours_logged: list[float] = []
            for _ in range(requests):
                bare.append((await timed(lambda: bare_chat(http, body)))[0])
                ours.append((await timed(lambda: client_chat(client, request)))[0])
                ours_logged.append((await timed(lambda: client_chat(logged, request)))[0])
            s_bare: list[float] = []
            s_ours: list[float] = []
            for _ in range(streams):
                s_bare.append((await timed(lambda: bare_stream(http, stream_body)))[0])
                s_ours.append((await timed(lambda: client_stream(client, stream_request)))[0])
        log.close()
    print(
        f"client overhead vs bare httpx ({requests} requests, {streams} streams of {CHUNKS} chunks)"
    )
    median = report("non-streamed", bare, ours)
    report("non-streamed + call log", bare, ours_logged)
    report(f"streamed ({CHUNKS} chunks), whole", s_bare, s_ours)
    report(f"streamed ({CHUNKS} chunks)", s_bare, s_ours, per=CHUNKS)
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--streams", type=int, default=200)
    args = parser.parse_args()
    median = asyncio.run(run(args.requests, args.streams))
    verdict = "met" if median < TARGET_MS else "MISSED"
    print(f"target: median overhead < {TARGET_MS} ms per request: {verdict} ({median:.4f} ms)")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
