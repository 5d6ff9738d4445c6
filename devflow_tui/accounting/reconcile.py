"""Reconciliation: fetch what OpenRouter billed (`/generation`) and compare with our estimate."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal

from pydantic import BaseModel

from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.errors import DevflowError
from devflow_tui.openrouter.wire import Generation


class Drift(BaseModel):
    """Our recorded cost of a request against the billed one."""

    request_id: str
    generation_id: str
    model: str | None
    recorded_usd: Decimal | None
    cost_source: str
    billed_usd: Decimal
    drift_usd: Decimal | None  # billed minus recorded; None when we had no cost

    @property
    def drift_fraction(self) -> float | None:
        """Drift relative to the bill (0.05 = we were 5 % under)."""
        if self.drift_usd is None or self.billed_usd == 0:
            return None
        return float(self.drift_usd / self.billed_usd)


class DriftSummary(BaseModel):
    """Totals over reconciled requests: what we had recorded against what was billed."""

    requests: int
    billed_usd: Decimal
    recorded_usd: Decimal  # of the requests that had a recorded cost
    billed_of_recorded_usd: Decimal  # the bill of those same requests
    drift_usd: Decimal  # billed minus recorded, same requests
    previously_unknown: int  # requests whose cost we did not know

    @property
    def drift_fraction(self) -> float | None:
        """Drift relative to the bill of the requests we had a cost for."""
        if self.billed_of_recorded_usd == 0:
            return None
        return float(self.drift_usd / self.billed_of_recorded_usd)


class Reconciliation(BaseModel):
    """What one reconciliation run found: the requests now billed (with their drift), and
    how many OpenRouter could not tell about yet (404, or no total cost); those stay unbilled
    and are asked about again next time."""

    drifts: list[Drift]
    unresolved: int = 0


def summarise(drifts: list[Drift]) -> DriftSummary:
    """Add up the drift of reconciled requests, for `devflow reconcile` to print."""
    known = [d for d in drifts if d.recorded_usd is not None]
    recorded = sum((d.recorded_usd or Decimal(0) for d in known), Decimal(0))
    billed_known = sum((d.billed_usd for d in known), Decimal(0))
    return DriftSummary(
        requests=len(drifts),
        billed_usd=sum((d.billed_usd for d in drifts), Decimal(0)),
        recorded_usd=recorded,
        billed_of_recorded_usd=billed_known,
        drift_usd=billed_known - recorded,
        previously_unknown=len(drifts) - len(known),
    )


async def reconcile(
    store: AnalyticsStore,
    fetch_generation: Callable[[str], Awaitable[Generation]],
    *,
    limit: int = 50,
    concurrency: int = 4,
) -> Reconciliation:
    """Record the billed cost of up to `limit` recent requests that lack one.

    A generation that cannot be fetched yet (OpenRouter answers 404 for a while after a
    completion) or has no `total_cost` is counted as unresolved, never as billed, and asked
    about again next time. Pass a `fetch_generation` that does not wait on a 404: this is run
    again later anyway, and waiting on every unknown generation made it take a minute.
    """
    pending = await asyncio.to_thread(store.unbilled_requests, limit)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(generation_id: str) -> Generation | None:
        async with gate:
            try:
                return await fetch_generation(generation_id)
            except DevflowError:
                return None

    generations = await asyncio.gather(*(one(row.generation_id or "") for row in pending))
    drifts: list[Drift] = []
    unresolved = 0
    for row, generation in zip(pending, generations, strict=True):
        if generation is None or generation.total_cost is None or row.generation_id is None:
            unresolved += 1
            continue
        billed = Decimal(generation.total_cost)
        await asyncio.to_thread(store.set_billed_cost, row.id, billed)
        drifts.append(
            Drift(
                request_id=row.id,
                generation_id=row.generation_id,
                model=row.model,
                recorded_usd=row.cost_usd,
                cost_source=row.cost_source,
                billed_usd=billed,
                drift_usd=billed - row.cost_usd if row.cost_usd is not None else None,
            )
        )
    return Reconciliation(drifts=drifts, unresolved=unresolved)
