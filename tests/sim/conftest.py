"""Fixtures for the simulator tests: the shared `sim` server and an authenticated client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devflow_tui.sim import SimServer
from tests.sim_fixture import sim  # noqa: F401


@pytest.fixture
def client(sim: SimServer, fake_key: str) -> Iterator[httpx.Client]:  # noqa: F811
    """An httpx client for the `sim` server, sending the fake key."""
    headers = {"Authorization": f"Bearer {fake_key}"}
    with httpx.Client(base_url=sim.base_url, headers=headers, timeout=10) as http:
        yield http
