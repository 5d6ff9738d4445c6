"""What the simulated server saw: one record per request, with secrets masked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devflow_tui.redaction import mask_key


@dataclass
class RecordedRequest:
    """One request as the server saw it (the Authorization header is masked)."""

    method: str
    path: str  # relative to /api/v1, e.g. "/chat/completions" (same as Fault.path)
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    json: Any
    time: float  # wall-clock seconds when received
    status: int | None = None  # HTTP status sent (None: no response, e.g. abrupt close)
    stream: bool = False
    cancelled: bool = False  # the client went away before the answer was complete
    model: str | None = None  # the model that served, after fallbacks
    attempted: list[str] = field(default_factory=list)  # models tried, in order
    generation_id: str | None = None
    chunks_sent: int = 0  # content chunks written
    faults: list[str] = field(default_factory=list)  # kinds of the faults applied
    done: bool = False  # the handler has finished with this request


def masked_headers(raw: Any) -> dict[str, str]:
    """Request headers with lower-cased names and the Authorization key masked."""
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if name.lower() == "authorization":
            scheme, _, key = str(value).partition(" ")
            value = f"{scheme} {mask_key(key.strip())}" if key else mask_key(str(value))
        headers[name.lower()] = str(value)
    return headers
