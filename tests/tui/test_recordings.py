"""The recordings the dashboard tests replay are what the real gateway emits today.

Each scenario runs again through `open_gateway` against the simulated server; when the events
differ in kind, order or meaning from the recording, re-record with
`python -m tests.tui.recorded_gateway` and look at the diff.
"""

from __future__ import annotations

from typing import Any

import pytest

from devflow_tui.config import load_settings
from devflow_tui.gateway.events import (
    AttemptFailed,
    AttemptStarted,
    ChunkReceived,
    Failed,
    GatewayEvent,
    RoutingDecided,
)
from devflow_tui.sim import SimConfig, SimServer
from tests.tui.recorded_gateway import SCENARIOS, Recording, record

pytestmark = pytest.mark.timeout(60)


def shape(events: list[GatewayEvent]) -> list[tuple[Any, ...]]:
    """What a recording means, without timings, ids or the text's exact chunking."""
    result: list[tuple[Any, ...]] = []
    for event in events:
        if isinstance(event, ChunkReceived):
            if not result or result[-1][0] != "ChunkReceived":
                result.append(("ChunkReceived",))
        elif isinstance(event, RoutingDecided):
            result.append(("RoutingDecided", event.model, event.task_type, event.fallbacks))
        elif isinstance(event, AttemptStarted):
            result.append(("AttemptStarted", event.model, event.attempt))
        elif isinstance(event, AttemptFailed):
            record_ = event.record
            result.append(("AttemptFailed", record_.model, record_.status, event.next_model))
        elif isinstance(event, Failed):
            result.append(("Failed", event.category))
        else:
            result.append((type(event).__name__,))
    return result


@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_recording_matches_the_real_gateway(name: str, fake_key: str) -> None:
    saved = Recording.load(name)
    with SimServer(SimConfig(time_scale=0.0)) as sim:
        fresh = await record(name, sim, load_settings(), fake_key)
    assert shape(fresh.events) == shape(saved.events)
    assert (fresh.outcome.status, fresh.outcome.model, fresh.outcome.complete) == (
        saved.outcome.status,
        saved.outcome.model,
        saved.outcome.complete,
    )
    streamed = "".join(e.text for e in saved.events if isinstance(e, ChunkReceived))
    assert streamed == saved.outcome.text


def test_recording_round_trips_through_json() -> None:
    saved = Recording.load("coding")
    again = Recording.from_json(saved.to_json())
    assert again.events == saved.events and again.outcome == saved.outcome
