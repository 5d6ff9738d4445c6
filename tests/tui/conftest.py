"""Fixtures for the dashboard tests: settings under tmp_path and app factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from devflow_tui.config import Settings, load_settings
from devflow_tui.tui.app import DevflowApp
from tests.sim_fixture import sim  # noqa: F401  (the fixture, for test_against_sim.py)
from tests.tui.recorded_gateway import ReplayGateway


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def replay(settings: Settings) -> Iterator[ReplayGateway]:
    gateway = ReplayGateway(settings)
    try:
        yield gateway
    finally:
        gateway.store.close()


@pytest.fixture
def make_app(settings: Settings, replay: ReplayGateway) -> Callable[..., DevflowApp]:
    def make(**kwargs: Any) -> DevflowApp:
        async def factory(_settings: Settings, *, demo: bool | None = None) -> ReplayGateway:
            return replay

        return DevflowApp(settings, gateway_factory=factory, **kwargs)

    return make
