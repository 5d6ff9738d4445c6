"""A reusable `sim` fixture: a started simulated OpenRouter server with no sleeping.

Use it from any test folder::

    from tests.sim_fixture import sim  # noqa: F401

    def test_something(sim: SimServer) -> None:
        httpx.get(f"{sim.base_url}/models")
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devflow_tui.sim import SimConfig, SimServer


@pytest.fixture
def sim() -> Iterator[SimServer]:
    """A SimServer on 127.0.0.1 (random port) with `time_scale=0.0`, stopped afterwards."""
    server = SimServer(SimConfig(time_scale=0.0)).start()
    try:
        yield server
    finally:
        server.stop()
