"""The composition root: the one place that builds a `Gateway` from settings.

It resolves the key, starts the simulated server in demo mode, opens the store, the client and
the catalog, and hands the gateway an exit stack that closes them in reverse order. The
pipeline itself knows nothing of the simulator or of demo keys; front ends (the CLI, the
dashboard, the local proxy) call `open_gateway` and use the result as an async context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devflow_tui.config import Settings
    from devflow_tui.gateway.pipeline import Gateway
    from devflow_tui.openrouter.calllog import CallLog

DEMO_KEY = "sk-or-demo-simulated-0000"  # accepted by the built-in simulated server only


def demo_settings(settings: Settings) -> Settings:
    """The settings demo mode runs with: simulated traffic never mixes with real spend,
    budgets, health or history, so everything lives under `$DEVFLOW_HOME/demo/` (never in a
    team's shared database)."""
    return settings.model_copy(update={"home": settings.home / "demo", "database_url": None})


async def open_gateway(
    settings: Settings,
    *,
    demo: bool | None = None,
    api_key: str | None = None,
    verbose: bool = False,
    force_catalog_refresh: bool = False,
) -> Gateway:
    """Build a ready gateway. demo=None: demo mode when no API key is found anywhere.

    Close it with `async with gateway:` or `await gateway.aclose()`; on any failure here,
    whatever was already opened is closed before the error propagates.
    """
    from devflow_tui.accounting.budget import BudgetManager
    from devflow_tui.accounting.cache import ResponseCache
    from devflow_tui.accounting.store import AnalyticsStore
    from devflow_tui.config import ensure_home
    from devflow_tui.gateway.pipeline import Gateway
    from devflow_tui.keystore import KeyStore, resolve_api_key
    from devflow_tui.openrouter.calllog import CallLog
    from devflow_tui.openrouter.client import OpenRouterClient
    from devflow_tui.routing.catalog import CatalogService
    from devflow_tui.routing.classifier import TaskClassifier
    from devflow_tui.routing.health import HealthTracker
    from devflow_tui.routing.selector import ModelSelector

    key_source = "argument" if api_key else "none"
    if api_key is None and demo is not True:
        api_key, key_source = resolve_api_key(settings, KeyStore(settings.home))
    if demo is None:
        demo = api_key is None
    async with contextlib.AsyncExitStack() as stack:
        if demo:
            from devflow_tui.sim import SimConfig, SimServer

            sim = SimServer(SimConfig(time_scale=settings.demo_time_scale))
            sim.start()
            stack.callback(sim.stop)
            settings = demo_settings(settings).model_copy(update={"base_url": sim.base_url})
            api_key = DEMO_KEY
            key_source = "demo"
        ensure_home(settings)
        store = AnalyticsStore.open(settings)
        stack.callback(store.close)
        await asyncio.to_thread(store.mark_stale_running_as_interrupted)
        cache = ResponseCache(store, settings.cache.ttl_seconds)
        await asyncio.to_thread(cache.purge_expired)  # else expired answers stay forever
        call_log = CallLog.from_settings(settings, verbose)
        client = OpenRouterClient(settings, api_key=api_key, call_log=call_log)
        stack.push_async_callback(client.aclose)
        service = CatalogService(
            fetch=client.list_models,
            cache=store,
            refresh_hours=settings.routing.catalog_refresh_hours,
        )
        catalog, source = await service.load(force_refresh=force_catalog_refresh or demo)
        health = HealthTracker(
            cooldown_failures=settings.routing.cooldown_failures,
            cooldown_s=settings.routing.cooldown_seconds,
        )
        health.seed(store.health_samples(50))
        selector = ModelSelector(catalog, health, settings.routing)
        gateway = Gateway(
            settings,
            client=client,
            catalog=catalog,
            catalog_source="simulated" if demo else source,
            health=health,
            store=store,
            budget=BudgetManager(store, settings.budget, settings.cost_budget_usd),
            cache=cache,
            classifier=TaskClassifier(),
            selector=selector,
            demo=demo,
            key_source=key_source,
            resources=stack.pop_all(),
        )
    log_model_names(gateway, call_log)
    return gateway


def log_model_names(gateway: Gateway, call_log: CallLog) -> None:
    """The start-up line of the API log: what each model name in the settings resolved to.
    A name that matches nothing is logged, not raised: `devflow models` and the dashboard
    must still open to help fix it; each request raises it (`Gateway.model_names`)."""
    from devflow_tui.routing.names import UnknownModelError

    try:
        names = gateway.model_names()
    except UnknownModelError as exc:
        call_log.note("model names", level=logging.ERROR, error=str(exc))
        return
    if names:
        call_log.note("model names", names=names)
