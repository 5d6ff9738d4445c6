"""The bundled model catalog snapshot: the router's offline catalog and the simulator's `/models`.

`devflow_tui/data/models_snapshot.json` holds a `/models` response (`{"data": [...]}`) for a
chosen set of well-known models, with OpenRouter's published prices as decimal strings per
token. The top-level `snapshot_date` key says when it was taken; clients ignore it.

How to refresh it: fetch `https://openrouter.ai/api/v1/models` (no key needed), keep only the
entries whose `id` is already in the snapshot (add new ids deliberately, keeping at least one
reasoning, one free, one vision and one small-context model), write them back in the same
order under `"data"`, and set `"snapshot_date"` to the day of the fetch.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SNAPSHOT_FILE = "models_snapshot.json"


def _read_snapshot() -> dict[str, Any]:
    # Resolved from the devflow_tui package so it works both from a checkout and a wheel
    # (where data/ ships as package data of devflow_tui).
    text = resources.files("devflow_tui").joinpath("data", SNAPSHOT_FILE).read_text("utf-8")
    payload: dict[str, Any] = json.loads(text)
    return payload


def load_snapshot() -> list[dict[str, Any]]:
    """The raw `/models` entries of the bundled snapshot (a fresh copy on every call)."""
    data: list[dict[str, Any]] = _read_snapshot()["data"]
    return data


def snapshot_date() -> str:
    """The day the bundled snapshot was taken (ISO format)."""
    return str(_read_snapshot()["snapshot_date"])
