"""The proxy traffic screen: the dashboard starts `devflow serve` inside itself (its own
gateway, real HTTP to the simulated OpenRouter) and shows the requests that come through."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import httpx
from click.testing import CliRunner
from textual.widgets import DataTable, Static

from devflow_tui.accounting.records import RequestRow
from devflow_tui.cli import main
from devflow_tui.compose import open_gateway
from devflow_tui.config import Settings, load_settings
from devflow_tui.serve.server import start_embedded
from devflow_tui.serve.tokens import ProxyTokens
from devflow_tui.sim import SimServer
from devflow_tui.tui.app import DevflowApp
from devflow_tui.tui.screens.proxy import ROWS, ProxyScreen, proxy_rows
from devflow_tui.usd import format_usd
from tests.sim_fixture import sim  # noqa: F401
from tests.tui.recorded_gateway import ReplayGateway
from tests.tui.store_rows import seed_request


async def _wait(pilot: object, predicate: Callable[[], bool]) -> None:
    for _ in range(500):
        if predicate():
            return
        await pilot.pause(0.02)  # type: ignore[attr-defined]
    raise AssertionError("condition not reached")


async def test_embedded_proxy_traffic_shows_live(sim: SimServer, fake_key: str) -> None:  # noqa: F811
    settings = load_settings(
        cli={"base_url": sim.base_url, "api_key": fake_key, "serve": {"port": 0}}
    )

    async def factory(current: Settings, *, demo: bool | None = None) -> object:
        return await open_gateway(current, demo=False)

    app = DevflowApp(
        settings,
        gateway_factory=factory,  # type: ignore[arg-type]
        proxy_starter=start_embedded,
    )
    async with app.run_test(size=(140, 40)) as pilot:
        await _wait(pilot, lambda: app.gateway is not None)
        await pilot.press("f7")
        await _wait(pilot, lambda: isinstance(app.screen, ProxyScreen))
        await pilot.press("s")
        await _wait(pilot, lambda: app.proxy is not None)
        assert app.proxy is not None
        port = app.proxy.port  # serve.port 0: the one it got, in the URL and the exports hint
        assert port != 0 and app.proxy.url.endswith(f":{port}")
        shown = " ".join(n.message for n in app._notifications)
        assert f"`devflow serve --print-env --port {port}` gives the exports" in shown
        token = ProxyTokens.load(settings.home).default
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{app.proxy.url}/v1/messages",
                headers={"x-api-key": token, "user-agent": "claude-cli/2.1.197"},
                json={
                    "model": "openai/gpt-4o-mini",
                    "max_tokens": 100,
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )
        assert response.status_code == 200
        table = app.screen.query_one("#proxy-table", DataTable)
        await _wait(pilot, lambda: table.row_count == 1)
        clients = app.screen.query_one("#proxy-clients", Static)
        # The proxy answers before it writes the outcome: the row may show as running for a
        # refresh or two before the finished request is counted in the spend line.
        await _wait(pilot, lambda: "claude-code: 1 req" in str(clients.content))
        await pilot.press("s")
        await _wait(pilot, lambda: app.proxy is None)


async def test_without_a_proxy_starter_the_dashboard_says_so(
    make_app: Callable[..., DevflowApp],
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await _wait(pilot, lambda: app.gateway is not None)
        await pilot.press("f7")
        await _wait(pilot, lambda: isinstance(app.screen, ProxyScreen))
        await pilot.press("s")
        await _wait(pilot, lambda: bool(app._notifications))
        assert app.proxy is None
        assert "devflow serve" in " ".join(n.message for n in app._notifications)


def test_local_requests_are_not_proxy_traffic() -> None:
    def row(client: str | None) -> RequestRow:
        return RequestRow(id=f"r-{client}", ts=1.0, status="ok", client=client)

    kept = proxy_rows([row("dashboard"), row("cli"), row(None), row("mcp")])
    assert [r.client for r in kept] == ["mcp"]


async def test_spend_per_client_is_the_reports_beyond_the_newest_rows(
    make_app: Callable[..., DevflowApp], replay: ReplayGateway
) -> None:
    """More requests than the screen's newest-requests list holds: the spend per client is
    still `devflow report --since 24h --by client`'s, every request of the window counted."""
    model = "openai/gpt-4o-mini"
    for _ in range(150):
        seed_request(replay.store, model, "0.001", client="claude-code")
    for _ in range(ROWS - 100):
        seed_request(replay.store, model, "0.002", client="mcp")
    for _ in range(3):
        seed_request(replay.store, model, "0.5", client="dashboard")
    result = CliRunner().invoke(main, ["report", "--json", "--since", "24h", "--by", "client"])
    assert result.exit_code == 0, result.output
    report = {g["key"]: g for g in json.loads(result.stdout)["by_client"]}
    assert report["claude-code"]["requests"] == 150 and report["mcp"]["requests"] == ROWS - 100
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await _wait(pilot, lambda: app.gateway is not None)
        await pilot.press("f7")
        await _wait(pilot, lambda: isinstance(app.screen, ProxyScreen))
        clients = app.screen.query_one("#proxy-clients", Static)
        await _wait(pilot, lambda: "claude-code" in str(clients.content))
        shown = str(clients.content)
        assert "last 24 hours" in shown and "dashboard" not in shown
        for client in ("claude-code", "mcp"):
            group = report[client]
            cost = format_usd(Decimal(group["cost_usd"]))
            assert f"{client}: {group['requests']} req, {cost}" in shown, shown
