"""A real Gateway wired to the simulated server on 127.0.0.1 with a database under tmp_path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from devflow_tui.compose import open_gateway
from devflow_tui.config import load_settings
from devflow_tui.gateway.pipeline import Gateway
from devflow_tui.sim import SimServer
from tests.sim_fixture import sim  # noqa: F401

GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def make_gateway(sim: SimServer, fake_key: str) -> AsyncIterator[GatewayFactory]:  # noqa: F811
    """Build gateways against the sim; backoff waits are zero so retries do not sleep."""
    opened: list[Gateway] = []

    async def factory(**overrides: Any) -> Gateway:
        cli: dict[str, Any] = {"base_url": sim.base_url, "backoff_base_s": 0.0, "max_retries": 1}
        cli.update(overrides)
        settings = load_settings(cli=cli)
        gateway = await open_gateway(settings, demo=False, api_key=fake_key)
        opened.append(gateway)
        return gateway

    yield factory
    for gateway in opened:
        await gateway.aclose()
