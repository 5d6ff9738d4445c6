"""Fixtures for the proxy tests: the simulated OpenRouter, and `devflow serve` in front of it
on 127.0.0.1 (ephemeral ports), with settings and data under tmp_path."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette

from devflow_tui.accounting.records import RequestRow
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import Settings, load_settings
from devflow_tui.serve.app import create_app
from devflow_tui.serve.server import BackgroundProxy
from devflow_tui.serve.tokens import ProxyTokens
from devflow_tui.sim import SimServer
from tests.sim_fixture import sim  # noqa: F401


@dataclass
class Proxy:
    """A running proxy, its token, settings and the simulator behind it."""

    url: str
    token: str
    settings: Settings
    sim: SimServer
    app: Starlette

    def rows(self, settle_s: float = 30.0, *, expect: int = 0) -> list[RequestRow]:
        """Every recorded request, oldest first, once none is still being finished.

        The proxy queues a request's closing job as its last byte goes to the client, so a
        client sees the end first: wait for the recorder's queue, then for rows still
        running (a client that hung up). A short request without a budget has no row at all
        until its closing job has run, so a caller that knows how many requests it sent says
        so with `expect`. Bounded polling; no time is asserted."""
        gateway = self.app.state.proxy.gateway
        deadline = time.monotonic() + settle_s
        while True:
            if gateway is not None:
                gateway.recorder.flush()
            with AnalyticsStore(self.settings.db_path) as store:
                rows = list(reversed(store.recent_requests(10_000)))
            settled = len(rows) >= expect and all(row.status != "running" for row in rows)
            if settled or time.monotonic() > deadline:
                return rows
            time.sleep(0.02)

    def upstream(self, path: str) -> list[dict[str, Any]]:
        """Bodies the simulator received on `path`."""
        return [r.json for r in self.sim.requests if r.path == path]


ProxyFactory = Callable[..., Proxy]


@pytest.fixture
def make_proxy(sim: SimServer, fake_key: str) -> Iterator[ProxyFactory]:  # noqa: F811
    """Start proxies with setting overrides (e.g. a budget); all stopped at the end."""
    running: list[BackgroundProxy] = []

    def factory(**overrides: Any) -> Proxy:
        cli = {
            "base_url": sim.base_url,
            "api_key": fake_key,
            "max_retries": 0,
            "backoff_base_s": 0.0,
            **overrides,
        }
        settings = load_settings(cli=cli)
        tokens = ProxyTokens.load(settings.home)
        app = create_app(settings, tokens)
        proxy = BackgroundProxy(app).start()
        running.append(proxy)
        return Proxy(proxy.url, tokens.default, settings, sim, app)

    yield factory
    for proxy in running:
        proxy.stop()


@pytest.fixture
def proxy(make_proxy: ProxyFactory) -> Proxy:
    return make_proxy()
