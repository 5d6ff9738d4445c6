"""Parse raw SSE text as the simulator wrote it (tests check the framing byte for byte)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass
class Event:
    kind: str  # "comment", "data" or "done"
    comment: str = ""
    data: Any = None


def parse_sse(text: str) -> list[Event]:
    """Events of an SSE body; each must be one line followed by a blank line (LF only)."""
    assert "\r" not in text
    assert text.endswith("\n\n") or text == ""
    events: list[Event] = []
    for block in text.split("\n\n")[:-1]:
        assert "\n" not in block, f"multi-line event: {block!r}"
        if block.startswith(":"):
            events.append(Event("comment", comment=block[1:].strip()))
        elif block == "data: [DONE]":
            events.append(Event("done"))
        else:
            assert block.startswith("data: "), block
            events.append(Event("data", data=json.loads(block[6:], parse_float=Decimal)))
    return events


def data_events(text: str) -> list[dict[str, Any]]:
    """Only the JSON payloads of an SSE body."""
    return [event.data for event in parse_sse(text) if event.kind == "data"]


def content_of(text: str) -> str:
    """The streamed content, joined."""
    parts = []
    for payload in data_events(text):
        for choice in payload.get("choices", []):
            parts.append(choice.get("delta", {}).get("content") or "")
    return "".join(parts)
