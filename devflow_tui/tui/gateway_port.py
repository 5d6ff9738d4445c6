"""What the dashboard needs from the gateway, as typed structural protocols.

The TUI is a client of `devflow_tui.gateway.pipeline.Gateway`; these protocols name only the
parts it uses, with the core's own types (catalog models, the analytics store and its typed
rows and conversations, the report), so every screen is type-checked against what the gateway
really returns. The core's modules are imported for types only: the first paint does not wait.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from devflow_tui.config import Settings

if TYPE_CHECKING:
    from devflow_tui.accounting.reports import Report
    from devflow_tui.accounting.store import AnalyticsStore
    from devflow_tui.gateway.events import BudgetView, GatewayEvent, RequestOutcome
    from devflow_tui.gateway.pipeline import GatewayRequest
    from devflow_tui.openrouter.wire import Credits, KeyInfo
    from devflow_tui.routing.catalog import CatalogModel
    from devflow_tui.routing.health import ModelHealth
    from devflow_tui.routing.names import SettingsNames
    from devflow_tui.routing.selector import RoutingDecision


class CatalogPort(Protocol):
    """The routing catalog (routing.catalog.ModelCatalog)."""

    def __iter__(self) -> Iterator[CatalogModel]: ...
    def __len__(self) -> int: ...
    def get(self, model_id: str) -> CatalogModel | None: ...


class HealthPort(Protocol):
    """The per-model health tracker (routing.health.HealthTracker)."""

    def stats(self, model: str) -> ModelHealth: ...
    def in_cooldown(self, model: str) -> bool: ...


class Prepared(Protocol):
    """What the gateway decided for a request before sending it (gateway.PreparedRequest)."""

    @property
    def request(self) -> GatewayRequest: ...
    @property
    def decision(self) -> RoutingDecision: ...


class DashboardGateway(Protocol):
    """The gateway pipeline as the dashboard uses it."""

    settings: Settings
    demo: bool

    @property
    def catalog(self) -> CatalogPort: ...
    @property
    def health(self) -> HealthPort: ...
    @property
    def store(self) -> AnalyticsStore: ...

    # `prepared` is what this gateway's own `prepare` returned for `request`.
    async def run(
        self,
        request: GatewayRequest,
        on_event: Callable[[GatewayEvent], None] | None = None,
        *,
        prepared: Any = None,
    ) -> RequestOutcome: ...
    def prepare(self, request: GatewayRequest) -> Prepared: ...
    def model_names(self) -> list[str]: ...
    def setting_names(self) -> SettingsNames: ...
    def restriction(self, task: str) -> tuple[list[str], str | None]: ...
    def budget_status(self) -> list[BudgetView]: ...
    async def credits(self) -> tuple[KeyInfo | None, Credits | None]: ...
    async def reconcile(self, limit: int = 20) -> list[Any]: ...
    async def aclose(self) -> None: ...


class RunningProxy(Protocol):
    """`devflow serve` running inside the dashboard (serve.server.EmbeddedProxy)."""

    @property
    def url(self) -> str: ...
    @property
    def port(self) -> int: ...

    async def stop(self) -> None: ...


# The worker groups that run gateway requests: the dashboard's answer and compare mode's
# columns. On the way out the app waits for them, once cancelled, to record their requests.
STREAM_GROUP = "stream"
COMPARE_GROUP = "compare"
REQUEST_GROUPS = frozenset({STREAM_GROUP, COMPARE_GROUP})

# Starts the proxy with the dashboard's settings and gateway. The CLI passes serve's; the
# dashboard never imports serve (they are peers, both clients of the gateway).
ProxyStarter = Callable[[Settings, Any], Awaitable[RunningProxy]]


def catalog_models(catalog: CatalogPort | None) -> list[CatalogModel]:
    """The catalog's models sorted by id; an absent catalog is empty."""
    if catalog is None:
        return []
    return sorted(catalog, key=lambda m: m.id)


def dashboard_report(gateway: DashboardGateway, *, since: str, now: float) -> Report:
    """The accounting report over `since` ("1h", "1d", "30d"…), priced with the live catalog.

    Blocking SQLite work: call it from a thread worker.
    """
    from devflow_tui.accounting.reports import build_report

    prices = {m.id: dict(m.prices) for m in catalog_models(gateway.catalog)}
    return build_report(
        gateway.store,
        since=since,
        by="model",
        baseline_model=gateway.settings.baseline_model,
        prices=prices,
        budgets=gateway.budget_status(),
        now=now,
    )
