"""A gateway that replays events recorded from the real gateway against the simulated server.

The dashboard's widget tests and snapshots need fixed data (no timings that change from run to
run), but the events must be the ones the real pipeline emits, not ones a test invents. So each
scenario below was run once through `open_gateway` against `SimServer` and its events and
outcome were saved under `recordings/`; `ReplayGateway.run` plays them back through the same
`on_event` callback. `test_recordings.py` runs every scenario again and fails when the real
gateway no longer emits what was recorded (then re-record: `python -m tests.tui.recorded_gateway`).

Everything else the dashboard reads is real: the bundled model catalog, a HealthTracker and an
AnalyticsStore in the test's DEVFLOW_HOME, where each replayed request is recorded as the
gateway records it (so the dashboard's charts, read from the store's report, count it).
"""

from __future__ import annotations

import asyncio
import json
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from devflow_tui.accounting.records import RequestStart
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import Settings
from devflow_tui.errors import DevflowError
from devflow_tui.gateway.events import (
    BudgetView,
    ChunkReceived,
    GatewayEvent,
    RequestOutcome,
    RoutingDecided,
)
from devflow_tui.gateway.pipeline import GatewayRequest
from devflow_tui.openrouter.wire import Credits, KeyInfo
from devflow_tui.routing.catalog import ModelCatalog
from devflow_tui.routing.health import HealthTracker
from devflow_tui.routing.names import ModelNames, SettingsNames
from devflow_tui.routing.selector import Candidate, RoutingDecision
from devflow_tui.sim import Fault, SimConfig, SimServer

RECORDINGS = Path(__file__).with_name("recordings")
EVENT_TYPES: dict[str, type[Any]] = {cls.__name__: cls for cls in typing.get_args(GatewayEvent)}
FREE_MODEL = "meta-llama/llama-3.3-70b-instruct:free"


@dataclass(frozen=True)
class Scenario:
    """One request to record: the prompt, an optional pinned model and the server's faults."""

    prompt: str
    model: str | None = None
    faults: tuple[Fault, ...] = ()
    max_retries: int = 2
    session_budget: str | None = None  # USD


SCENARIOS: dict[str, Scenario] = {
    "coding": Scenario("write a python function that adds two ints"),
    # The first attempt (the router's choice) gets a 503; the fallback model answers.
    "fallback": Scenario(
        "hello there, how are you?",
        max_retries=0,
        faults=(Fault(kind="http_error", status=503, times=1),),
    ),
    # Every attempt is cut off after three chunks: the answer ends incomplete.
    "cut_off": Scenario(
        "explain how a hash map works",
        max_retries=0,
        faults=(Fault(kind="abrupt_close", after_chunks=3, times=None),),
    ),
    # A session budget far below the pinned model's worst case: refused, nothing sent.
    "refused": Scenario(
        "explain quantum computing in depth",
        model="anthropic/claude-sonnet-4.5",
        session_budget="0.0000001",
    ),
    "free_retry": Scenario(
        "say hello in one word",
        model=FREE_MODEL,
        max_retries=1,
        faults=(Fault(kind="http_error", status=503, model=FREE_MODEL, times=1),),
    ),
}


@dataclass
class Recording:
    """What the real gateway emitted for one scenario, and what `run` returned."""

    name: str
    events: list[GatewayEvent]
    outcome: RequestOutcome

    def to_json(self) -> str:
        events = [
            {"type": type(e).__name__, "data": TypeAdapter(type(e)).dump_python(e, mode="json")}
            for e in self.events
        ]
        body = {
            "name": self.name,
            "events": events,
            "outcome": self.outcome.model_dump(mode="json"),
        }
        return json.dumps(body, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Recording:
        body = json.loads(text)
        events = [
            TypeAdapter(EVENT_TYPES[item["type"]]).validate_python(item["data"])
            for item in body["events"]
        ]
        return cls(body["name"], events, RequestOutcome.model_validate(body["outcome"]))

    @classmethod
    def load(cls, name: str) -> Recording:
        return cls.from_json((RECORDINGS / f"{name}.json").read_text(encoding="utf-8"))


async def record(name: str, sim: SimServer, settings: Settings, key: str) -> Recording:
    """Run one scenario through the real gateway against `sim` and keep what it emitted."""
    from devflow_tui.compose import open_gateway

    scenario = SCENARIOS[name]
    update: dict[str, Any] = {"base_url": sim.base_url, "max_retries": scenario.max_retries}
    if scenario.session_budget is not None:
        update["budget"] = settings.budget.model_copy(
            update={"session_usd": Decimal(scenario.session_budget)}
        )
    tuned = settings.model_copy(update=update)
    gateway = await open_gateway(tuned, demo=False, api_key=key)
    try:
        request = GatewayRequest(prompt=scenario.prompt, model=scenario.model, use_cache=False)
        for fault in scenario.faults:
            sim.add_fault(fault)
        events: list[GatewayEvent] = []
        outcome = await gateway.run(request, events.append)
    finally:
        await gateway.aclose()
    return Recording(name, events, outcome)


@dataclass(frozen=True)
class Replanned:
    """The part of a prepared request the dashboard reads: the request and its decision."""

    request: GatewayRequest
    decision: RoutingDecision


@dataclass
class Play:
    """What the next `run` does: which recording, and whether it waits or raises."""

    recording: str = "coding"
    hold: asyncio.Event | None = None  # when given, the stream waits here after the first chunk
    raises: DevflowError | None = None  # the gateway refuses before emitting anything


BUDGETS = [
    BudgetView(
        name="session",
        limit_usd=Decimal("1.00"),
        spent_usd=Decimal("0.42"),
        remaining_usd=Decimal("0.58"),
    ),
    BudgetView(
        name="daily",
        limit_usd=Decimal("5.00"),
        spent_usd=Decimal("4.50"),
        remaining_usd=Decimal("0.50"),
    ),
    BudgetView(name="monthly", limit_usd=None, spent_usd=Decimal("12.30"), remaining_usd=None),
]


@dataclass
class ReplayGateway:
    """The dashboard's gateway port, playing recordings; records every request it was given."""

    settings: Settings
    demo: bool = True
    plays: list[Play] = field(default_factory=list)
    requests: list[GatewayRequest] = field(default_factory=list)
    budgets: list[BudgetView] = field(default_factory=lambda: list(BUDGETS))
    closed: bool = False
    reconciled: int = 0

    def __post_init__(self) -> None:
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self._store = AnalyticsStore(self.settings.db_path)
        self._catalog = ModelCatalog.bundled()
        self._names = ModelNames(self._catalog)
        self._health = HealthTracker()

    @property
    def catalog(self) -> ModelCatalog:
        return self._catalog

    @property
    def health(self) -> HealthTracker:
        return self._health

    @property
    def store(self) -> AnalyticsStore:
        return self._store

    def setting_names(self) -> SettingsNames:
        """The real resolution of the settings' model names against the bundled catalog."""
        return self._names.in_settings(self.settings)

    def model_names(self) -> list[str]:
        return self.setting_names().check()

    def restriction(self, task: str) -> tuple[list[str], str | None]:
        return self.setting_names().restriction(task)

    def prepare(self, request: GatewayRequest) -> Replanned:
        """The ranking the real router made for the recorded "coding" request."""
        decided = next(e for e in Recording.load("coding").events if isinstance(e, RoutingDecided))
        candidates = []
        for view in decided.candidates:
            model = self._catalog.get(view.model)
            if model is not None:
                candidates.append(
                    Candidate(
                        model=model,
                        score=view.score,
                        estimated_cost_usd=view.estimated_cost_usd,
                        worst_case_cost_usd=None,
                        quality=view.score,
                        reason=view.reason,
                    )
                )
        decision = RoutingDecision(candidates=candidates, fallbacks=list(decided.fallbacks))
        return Replanned(request, decision)

    def budget_status(self) -> list[BudgetView]:
        return list(self.budgets)

    async def credits(self) -> tuple[KeyInfo | None, Credits | None]:
        return KeyInfo(limit=Decimal(20), limit_remaining=Decimal("7.5")), Credits(
            total_credits=Decimal(25), total_usage=Decimal("10.25")
        )

    async def reconcile(self, limit: int = 20) -> list[Any]:
        self.reconciled += 1
        return []

    async def aclose(self) -> None:
        self.closed = True
        self._store.close()

    async def run(
        self,
        request: GatewayRequest,
        on_event: Callable[[GatewayEvent], None] | None = None,
        *,
        prepared: Replanned | None = None,
    ) -> RequestOutcome:
        emit = on_event or (lambda _e: None)
        self.requests.append(request)
        play = self.plays.pop(0) if self.plays else Play()
        if play.raises is not None:
            raise play.raises
        recording = Recording.load(play.recording)
        conversation = request.conversation_id or f"replayed-{len(self.requests)}"
        held = False
        for event in recording.events:
            emit(event)
            if isinstance(event, ChunkReceived):
                await asyncio.sleep(0)
                if play.hold is not None and not held:
                    held = True
                    await play.hold.wait()
        outcome = recording.outcome.model_copy(update={"conversation_id": conversation})
        return await asyncio.to_thread(self._record, outcome)

    def _record(self, outcome: RequestOutcome) -> RequestOutcome:
        """Write the replayed request's row before `run` returns, as the gateway does."""
        request_id = self._store.begin_request(
            RequestStart(task_type=outcome.task_type, model=outcome.model, client="dashboard")
        )
        recorded = outcome.model_copy(update={"request_id": request_id})
        self._store.finish_request(request_id, recorded)
        return recorded


def main() -> None:
    """Record every scenario again (run from the repository root)."""
    import os
    import tempfile

    os.environ.pop("OPENROUTER_API_KEY", None)
    from devflow_tui.config import load_settings

    RECORDINGS.mkdir(exist_ok=True)
    for name in SCENARIOS:
        # A fresh home per scenario, as each test has: no health data or budget carried over.
        with tempfile.TemporaryDirectory(prefix="devflow-record-") as tmp:
            os.environ["DEVFLOW_HOME"] = str(Path(tmp) / "home")
            os.environ["DEVFLOW_CONFIG"] = str(Path(tmp) / "config.toml")
            # Real-time pacing, so the recorded timings read like a real request's.
            with SimServer(SimConfig(time_scale=1.0)) as sim:
                recording = asyncio.run(
                    record(name, sim, load_settings(), "sk-or-v1-" + "fa1e" * 16)
                )
        (RECORDINGS / f"{name}.json").write_text(recording.to_json(), encoding="utf-8")
        print(f"recorded {name}: {len(recording.events)} events, {recording.outcome.status}")


if __name__ == "__main__":
    main()
