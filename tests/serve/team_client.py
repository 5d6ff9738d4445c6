"""A separate client process for the team test: `python -m tests.serve.team_client URLS TOKEN
N GO_FILE` sends N chat requests, alternating between the comma-separated proxy URLs, and
prints a JSON object counting the answers by status code."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import httpx


def main(argv: list[str]) -> int:
    urls, token, n, go = argv[0].split(","), argv[1], int(argv[2]), Path(argv[3])
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)  # start together with the other clients
    counts: Counter[int] = Counter()
    with httpx.Client(timeout=60, headers={"Authorization": f"Bearer {token}"}) as client:
        for i in range(n):
            response = client.post(
                f"{urls[i % len(urls)]}/v1/chat/completions",
                json={
                    "model": "openai/gpt-4o-mini",
                    "max_tokens": 64,
                    "messages": [{"role": "user", "content": f"question {i} of {argv[4]}"}],
                },
            )
            counts[response.status_code] += 1
    print(json.dumps({str(k): v for k, v in counts.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
