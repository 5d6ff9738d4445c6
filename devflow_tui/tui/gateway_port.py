"""What the dashboard needs from the gateway, as structural types.

The TUI is a client of `devflow_tui.gateway.pipeline.Gateway`; these protocols name only the
parts it uses, so the widgets can be type-checked and tested against any object that has them
(the real gateway in the app, a scripted one in widget tests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from devflow_tui.config import Settings
from devflow_tui.gateway.events import BudgetView, GatewayEvent, RequestOutcome
from devflow_tui.openrouter.wire import Credits, KeyInfo


class CatalogEntry(Protocol):
    """One model of the routing catalog (routing.catalog.CatalogModel)."""

    @property
    def id(self) -> str: ...
    @property
    def context_length(self) -> int | None: ...
    @property
    def prices(self) -> Mapping[str, Decimal]: ...
    @property
    def capabilities(self) -> frozenset[str]: ...


class Catalog(Protocol):
    """The routing catalog (routing.catalog.ModelCatalog)."""

    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class Health(Protocol):
    """The per-model health tracker (routing.health.HealthTracker)."""

    def stats(self, model: str) -> Any: ...
    def in_cooldown(self, model: str) -> bool: ...


class Store(Protocol):
    """The analytics store (accounting.store.AnalyticsStore), read side."""

    def recent_requests(self, limit: int) -> Sequence[Any]: ...
    def list_conversations(self, search: str | None, limit: int) -> Sequence[Any]: ...
    def load_conversation(self, conversation_id: str) -> Sequence[Any]: ...
    def export_markdown(self, conversation_id: str) -> str: ...


class DashboardGateway(Protocol):
    """The gateway pipeline as the dashboard uses it."""

    settings: Settings
    demo: bool

    @property
    def catalog(self) -> Any: ...
    @property
    def health(self) -> Any: ...
    @property
    def store(self) -> Any: ...

    async def run(
        self, request: Any, on_event: Callable[[GatewayEvent], None] | None = None
    ) -> RequestOutcome: ...
    def budget_status(self) -> list[BudgetView]: ...
    async def credits(self) -> tuple[KeyInfo | None, Credits | None]: ...
    async def reconcile(self, limit: int = 20) -> list[Any]: ...
    async def aclose(self) -> None: ...


class RunningProxy(Protocol):
    """`devflow serve` running inside the dashboard (serve.server.EmbeddedProxy)."""

    @property
    def url(self) -> str: ...

    async def stop(self) -> None: ...


# Starts the proxy with the dashboard's settings and gateway. The CLI passes serve's; the
# dashboard never imports serve (they are peers, both clients of the gateway).
ProxyStarter = Callable[[Settings, Any], Awaitable[RunningProxy]]


def field_of(row: Any, name: str, default: Any = None) -> Any:
    """Read `name` from a store row that may be a pydantic model, a dataclass or a mapping."""
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def catalog_models(catalog: Any) -> list[Any]:
    """The catalog's models sorted by id; an absent catalog is empty."""
    if catalog is None:
        return []
    models: Iterable[Any] = catalog
    return sorted(models, key=lambda m: str(field_of(m, "id", "")))
