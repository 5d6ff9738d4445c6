"""Reconciliation against the simulated OpenRouter over real HTTP: billed cost recorded,
drift reported, generations not yet available skipped for next time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from devflow_tui.accounting.pricing import resolve_cost
from devflow_tui.accounting.reconcile import Drift, reconcile, summarise
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import load_settings
from devflow_tui.openrouter.client import OpenRouterClient
from devflow_tui.openrouter.wire import ChatMessage, ChatRequest, Generation, Usage
from devflow_tui.sim import SimServer
from tests.accounting.conftest import record
from tests.sim_fixture import sim  # noqa: F401

MODEL = "openai/gpt-4o-mini"


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def client(sim: SimServer, fake_key: str) -> AsyncIterator[OpenRouterClient]:  # noqa: F811
    settings = load_settings(cli={"base_url": sim.base_url, "max_retries": 0})
    async with OpenRouterClient(settings, api_key=fake_key, sleep=_no_sleep) as c:
        yield c


async def _completion(client: OpenRouterClient, text: str) -> tuple[str, Usage]:
    result = await client.chat(
        ChatRequest(model=MODEL, messages=[ChatMessage(role="user", content=text)])
    )
    assert result.generation_id is not None and result.usage is not None
    return result.generation_id, result.usage


async def test_reconcile_records_bill_and_reports_drift(
    store: AnalyticsStore,
    client: OpenRouterClient,
    sim: SimServer,  # noqa: F811
) -> None:
    models = await client.list_models()
    prices = next(m for m in models if m.id == MODEL).pricing.known_prices()
    gen_a, usage_a = await _completion(client, "first question")
    gen_b, usage_b = await _completion(client, "second, longer question about SQLite")
    billed_a = Decimal(usage_a.cost) if usage_a.cost is not None else None
    assert billed_a is not None
    # Request A: we recorded an estimate 10% under the bill. Request B: cost unknown.
    estimate = billed_a * Decimal("0.9")
    a = record(store, model=MODEL, cost=str(estimate), source="estimated", generation_id=gen_a)
    b = record(store, model=MODEL, cost=None, source="unknown", generation_id=gen_b)
    missing = record(store, model=MODEL, generation_id="gen-1-doesnotexist")
    record(store, model=MODEL)  # no generation id: nothing to reconcile

    done = await reconcile(store, lambda g: client.get_generation(g, wait_s=0.0))
    assert done.unresolved == 1  # the missing generation: not billed, asked again next time
    drifts = done.drifts

    by_id = {d.request_id: d for d in drifts}
    assert set(by_id) == {a, b}
    assert by_id[a] == Drift(
        request_id=a,
        generation_id=gen_a,
        model=MODEL,
        recorded_usd=estimate,
        cost_source="estimated",
        billed_usd=billed_a,
        drift_usd=billed_a - estimate,
    )
    assert by_id[a].drift_fraction == pytest.approx(0.1)
    billed_b = sim.generations[gen_b]["total_cost"]
    assert by_id[b].drift_usd is None and by_id[b].billed_usd == Decimal(str(billed_b))
    assert by_id[b].drift_fraction is None
    row_a, row_b, row_missing = (store.get_request(i) for i in (a, b, missing))
    assert row_a is not None and row_a.billed_cost_usd == billed_a
    assert row_b is not None and row_b.billed_cost_usd == Decimal(str(billed_b))
    assert row_missing is not None and row_missing.billed_cost_usd is None
    summary = summarise(drifts)
    assert summary.requests == 2 and summary.previously_unknown == 1
    assert summary.billed_usd == billed_a + Decimal(str(billed_b))
    assert summary.recorded_usd == estimate and summary.drift_usd == billed_a - estimate
    assert summary.drift_fraction == pytest.approx(0.1)
    # Our estimate from catalog prices matches the bill exactly (the simulator prices by catalog).
    assert resolve_cost(usage_b.model_copy(update={"cost": None}), prices) == (
        Decimal(str(billed_b)),
        "estimated",
    )

    # Already reconciled requests are not fetched again; the missing one is retried.
    before = len(sim.requests)
    again = await reconcile(store, lambda g: client.get_generation(g, wait_s=0.0))
    assert again.drifts == [] and again.unresolved == 1
    fetched = [r.path for r in sim.requests[before:]]
    assert fetched == ["/generation"]


async def test_reconcile_skips_generation_without_total_cost(store: AnalyticsStore) -> None:
    record(store, generation_id="gen-1-x")

    async def fetch(generation_id: str) -> Generation:
        return Generation(id=generation_id, total_cost=None)

    done = await reconcile(store, fetch)
    assert done.drifts == [] and done.unresolved == 1
    zero = Drift(request_id="r", generation_id="g", model=None, recorded_usd=Decimal(0),
                 cost_source="reported", billed_usd=Decimal(0), drift_usd=Decimal(0))  # fmt: skip
    assert zero.drift_fraction is None
    assert summarise([zero]).drift_fraction is None
    assert summarise([]).requests == 0
