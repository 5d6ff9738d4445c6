"""The composition root builds a gateway and closes, through one exit stack, what it opened."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devflow_tui.accounting.cache import ResponseCache
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.compose import demo_settings, open_gateway
from devflow_tui.config import ensure_home, load_settings
from devflow_tui.errors import ConfigError
from devflow_tui.gateway.pipeline import GatewayRequest
from devflow_tui.sim import SimServer


async def test_demo_mode_keeps_its_own_database() -> None:
    settings = load_settings(cli={"demo_time_scale": 0.0})
    async with await open_gateway(settings, demo=True) as gateway:
        assert gateway.demo and gateway.catalog_source == "simulated"
        assert gateway.settings.db_path.parent == settings.home / "demo"
        outcome = await gateway.run(GatewayRequest(prompt="hello"))
        assert outcome.status == "ok"
    assert not settings.db_path.exists()


async def test_leaving_the_gateway_stops_the_simulator_it_started() -> None:
    settings = load_settings(cli={"demo_time_scale": 0.0})
    async with await open_gateway(settings, demo=True) as gateway:
        base_url = gateway.settings.base_url
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base_url}/models")).status_code == 200
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{base_url}/models")


async def test_a_failure_while_opening_stops_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[SimServer] = []
    original = SimServer.start

    def start(self: SimServer) -> SimServer:
        started.append(self)
        return original(self)

    monkeypatch.setattr(SimServer, "start", start)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    settings = load_settings(cli={"demo_time_scale": 0.0, "home": not_a_folder})
    with pytest.raises(ConfigError, match=r"cannot be used as a folder|is not a folder"):
        await open_gateway(settings, demo=True)
    assert len(started) == 1 and not started[0].running


async def test_opening_purges_expired_cached_answers() -> None:
    settings = load_settings(cli={"demo_time_scale": 0.0})
    demo = demo_settings(settings)
    ensure_home(demo)
    store = AnalyticsStore(demo.db_path)
    try:
        old = ResponseCache(store, ttl_s=60, clock=lambda: 1_000.0)  # expired long ago
        old.put("k", text="answer", model="m", cost_usd=None)
        fresh = ResponseCache(store, ttl_s=3600)
        fresh.put("k2", text="answer", model="m", cost_usd=None)
    finally:
        store.close()
    async with await open_gateway(settings, demo=True) as gateway:
        assert gateway.cache.get("k2") is not None
        with gateway.store.transaction() as conn:
            keys = [row[0] for row in conn.execute("SELECT key FROM response_cache")]
    assert keys == ["k2"]
