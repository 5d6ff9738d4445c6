"""Fallback policy: unit rules, and real sequences against the simulated server's faults.

The integration tests drive the real OpenRouterClient against SimServer on 127.0.0.1 with a
small loop that does what the gateway does: call, and on an error ask `next_step` where to go.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devflow_tui.config import load_settings
from devflow_tui.errors import BudgetExceededError, ErrorCategory, OpenRouterError
from devflow_tui.openrouter.client import OpenRouterClient, StreamDone, TextChunk
from devflow_tui.openrouter.wire import ChatMessage, ChatRequest
from devflow_tui.routing.catalog import CatalogService, ModelCatalog
from devflow_tui.routing.fallback import FallbackStep, next_step
from devflow_tui.routing.health import HealthTracker
from devflow_tui.routing.selector import ModelSelector, SelectionCriteria
from devflow_tui.sim import SimConfig, SimServer
from devflow_tui.sim.config import Fault
from tests.routing.conftest import JsonFileCatalogCache, catalog_of, model_entry

SMALL = model_entry(
    "acme/small", prompt="0.0000001", completion="0.0000002", context=4_096, max_completion=1_024
)
MEDIUM = model_entry(
    "acme/medium", prompt="0.0000002", completion="0.0000004", context=4_096, max_completion=1_024
)
LARGE = model_entry(
    "acme/large", prompt="0.000003", completion="0.000015", context=200_000, max_completion=8_192
)
CATALOG = catalog_of(SMALL, MEDIUM, LARGE)
CHAIN = ["acme/small", "acme/medium", "acme/large"]


def _error(category: ErrorCategory, **kw: object) -> OpenRouterError:
    return OpenRouterError("boom", category=category, retryable=False, **kw)  # type: ignore[arg-type]


def _step(
    error: Exception,
    failed: str = "acme/small",
    tried: tuple[str, ...] = (),
    health: HealthTracker | None = None,
) -> FallbackStep:
    assert isinstance(error, OpenRouterError | BudgetExceededError)
    return next_step(
        error, failed_model=failed, chain=CHAIN, tried=tried, catalog=CATALOG, health=health
    )


# ---------------------------------------------------------------------- unit rules


def test_transient_errors_move_down_the_chain() -> None:
    step = _step(_error(ErrorCategory.PROVIDER, status=503))
    assert (step.action, step.model) == ("next", "acme/medium")
    assert "acme/small failed (provider)" in step.reason
    last = _step(
        _error(ErrorCategory.TIMEOUT), failed="acme/large", tried=("acme/small", "acme/medium")
    )
    assert (last.action, last.model) == ("stop", None)


def test_models_in_cooldown_are_skipped() -> None:
    health = HealthTracker(cooldown_failures=1, clock=lambda: 0.0)
    health.record_failure("acme/medium", "provider")
    step = _step(_error(ErrorCategory.NETWORK), health=health)
    assert step.model == "acme/large"


def test_network_down_stops_the_chain() -> None:
    step = _step(_error(ErrorCategory.NETWORK_DOWN))
    assert (step.action, step.model) == ("stop", None)


def test_context_length_goes_to_a_larger_window() -> None:
    error = _error(ErrorCategory.USER, status=400, error_type="context_length_exceeded")
    step = _step(error)
    assert (step.action, step.model) == ("next", "acme/large")
    assert "4,096-token window" in step.reason
    none_left = _step(error, failed="acme/large")
    assert none_left.action == "stop"


@pytest.mark.parametrize(
    "category", [ErrorCategory.AUTH, ErrorCategory.CREDITS, ErrorCategory.MODERATION]
)
def test_account_errors_stop(category: ErrorCategory) -> None:
    step = _step(_error(category))
    assert (step.action, step.model, step.incomplete) == ("stop", None, False)
    assert category.value in step.reason


def test_budget_and_bad_requests_stop() -> None:
    assert _step(BudgetExceededError("over")).action == "stop"
    assert _step(_error(ErrorCategory.USER, status=400)).action == "stop"


def test_mid_stream_errors_are_never_retried_elsewhere() -> None:
    step = _step(_error(ErrorCategory.PROVIDER, mid_stream=True))
    assert (step.action, step.incomplete) == ("stop", True)
    assert "re-run" in step.reason


# ---------------------------------------------------------------------- against the simulator


@pytest.fixture
def sim() -> Iterator[SimServer]:
    server = SimServer(SimConfig(time_scale=0.0, models=[SMALL, MEDIUM, LARGE])).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Run:
    models: list[str] = field(default_factory=list)  # every model an attempt went to
    text: str = ""
    served: str | None = None
    complete: bool = False
    stopped: FallbackStep | None = None


async def _route_and_call(
    sim: SimServer,
    fake_key: str,
    tmp_path: Path,
    prompt: str,
    health: HealthTracker,
    stream: bool = False,
) -> Run:
    settings = load_settings(
        cli={"base_url": sim.base_url, "max_retries": 1, "backoff_base_s": 0.0}
    )

    async def no_sleep(_seconds: float) -> None:
        return None

    client = OpenRouterClient(settings, api_key=fake_key, sleep=no_sleep)
    try:
        service = CatalogService(client.list_models, JsonFileCatalogCache(tmp_path / "c.json"))
        catalog, source = await service.load()
        assert source == "live"
        decision = ModelSelector(catalog, health).select(
            SelectionCriteria(
                task_type="chat", complexity="low", cost_priority=1.0, max_output_tokens=256
            )
        )
        chain = decision.chain
        assert chain[0] == "acme/small"
        run = Run()
        tried: list[str] = []
        model = chain[0]
        while True:
            request = ChatRequest(
                model=model,
                messages=[ChatMessage(role="user", content=prompt)],
                max_tokens=256,
                stream=stream,
            )
            try:
                if stream:
                    async for item in client.stream_chat(
                        request, on_attempt=lambda r: run.models.append(r.model)
                    ):
                        if isinstance(item, TextChunk):
                            run.text += item.text
                        elif isinstance(item, StreamDone):
                            run.served, run.complete = item.result.model, item.result.complete
                else:
                    result = await client.chat(
                        request, on_attempt=lambda r: run.models.append(r.model)
                    )
                    run.text, run.served, run.complete = result.text, result.model, result.complete
                health.record_success(model, latency_ms=100.0)
                return run
            except OpenRouterError as exc:
                health.record_failure(model, exc.category.value)
                step = next_step(
                    exc,
                    failed_model=model,
                    chain=chain,
                    tried=tried,
                    catalog=catalog,
                    health=health,
                )
                tried.append(model)
                if step.action == "stop" or step.model is None:
                    run.stopped = step
                    return run
                model = step.model
    finally:
        await client.aclose()


async def test_503_then_success_stays_on_the_same_model(
    sim: SimServer, fake_key: str, tmp_path: Path
) -> None:
    sim.add_fault(Fault(kind="http_error", status=503, model="acme/small", times=1))
    run = await _route_and_call(sim, fake_key, tmp_path, "hello", HealthTracker())
    assert run.models == ["acme/small", "acme/small"]
    assert run.served == "acme/small" and run.complete and run.text


async def test_persistent_503_moves_to_the_next_model(
    sim: SimServer, fake_key: str, tmp_path: Path
) -> None:
    sim.add_fault(Fault(kind="http_error", status=503, model="acme/small", times=None))
    health = HealthTracker(cooldown_failures=1)
    run = await _route_and_call(sim, fake_key, tmp_path, "hello", health)
    assert run.models == ["acme/small", "acme/small", "acme/medium"]
    assert run.served == "acme/medium" and run.complete
    assert health.in_cooldown("acme/small")


async def test_context_length_error_goes_to_the_larger_model(
    sim: SimServer, fake_key: str, tmp_path: Path
) -> None:
    # Too long for the 4k models (the selector is told a tiny size on purpose, as when the
    # estimate is wrong), fine for the 200k one: the server answers 400 context_length.
    prompt = "word " * 6_000
    run = await _route_and_call(sim, fake_key, tmp_path, prompt, HealthTracker())
    assert run.models == ["acme/small", "acme/large"]
    assert run.served == "acme/large" and run.complete


async def test_402_stops_with_no_other_model_tried(
    sim: SimServer, fake_key: str, tmp_path: Path
) -> None:
    sim.add_fault(Fault(kind="http_error", status=402, model=None, times=None))
    run = await _route_and_call(sim, fake_key, tmp_path, "hello", HealthTracker())
    assert run.models == ["acme/small"]
    assert run.stopped is not None and run.stopped.action == "stop"
    assert "credits" in run.stopped.reason


async def test_mid_stream_error_is_not_retried_on_another_model(
    sim: SimServer, fake_key: str, tmp_path: Path
) -> None:
    sim.add_fault(Fault(kind="mid_stream_error", status=502, model="acme/small", after_chunks=2))
    run = await _route_and_call(sim, fake_key, tmp_path, "hello", HealthTracker(), stream=True)
    assert run.models == ["acme/small"]
    assert run.text  # the partial answer reached the user
    assert run.stopped is not None and run.stopped.incomplete


def test_bundled_catalog_is_what_the_simulator_serves_by_default() -> None:
    # The simulator and the router share one snapshot, so demo routing targets real ids.
    assert "openai/gpt-4o-mini" in ModelCatalog.bundled()
