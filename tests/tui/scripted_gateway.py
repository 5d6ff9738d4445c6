"""A scripted stand-in for the gateway, for deterministic snapshots and widget-level tests.

It plays a fixed list of events (like a recorded request) through the same `on_event` callback
the real gateway uses. Tests that need the real pipeline use the simulated server instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from devflow_tui.config import Settings
from devflow_tui.gateway.events import (
    AttemptFailed,
    AttemptRecord,
    AttemptStarted,
    BudgetView,
    CandidateView,
    ChunkReceived,
    Completed,
    ContextView,
    FirstToken,
    GatewayEvent,
    RequestOutcome,
    RoutingDecided,
    Status,
)
from devflow_tui.openrouter.wire import Credits, KeyInfo


@dataclass(frozen=True)
class Model:
    id: str
    context_length: int
    prices: dict[str, Decimal]
    capabilities: frozenset[str] = frozenset()
    free: bool = False


@dataclass
class Conversation:
    id: str
    title: str
    updated: float
    messages: list[dict[str, Any]] = field(default_factory=list)


class MemoryStore:
    """Conversations and request rows kept in memory, with the store's read API."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.conversations: dict[str, Conversation] = {}

    def recent_requests(self, limit: int) -> list[dict[str, Any]]:
        return self.rows[-limit:]

    def list_conversations(self, search: str | None, limit: int) -> list[Conversation]:
        found = [
            c
            for c in self.conversations.values()
            if not search
            or search.lower() in c.title.lower()
            or any(search.lower() in m["content"].lower() for m in c.messages)
        ]
        return sorted(found, key=lambda c: c.updated, reverse=True)[:limit]

    def load_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        return list(self.conversations[conversation_id].messages)

    def export_markdown(self, conversation_id: str) -> str:
        conversation = self.conversations[conversation_id]
        parts = [f"# {conversation.title}"]
        for message in conversation.messages:
            parts.append(f"## {message['role']}\n\n{message['content']}")
        return "\n\n".join(parts)


class Health:
    def stats(self, model: str) -> dict[str, Any]:
        return {"samples": 4, "success_rate": 0.75, "latency_p50": 820.0}

    def in_cooldown(self, model: str) -> bool:
        return model.endswith("-cold")


CATALOG = (
    Model(
        "openai/gpt-4o-mini",
        128_000,
        {"prompt": Decimal("1.5e-7"), "completion": Decimal("6e-7")},
        frozenset({"tools", "vision"}),
    ),
    Model(
        "deepseek/deepseek-v3.2-exp",
        163_840,
        {"prompt": Decimal("2.7e-7"), "completion": Decimal("4e-7")},
        frozenset({"tools", "reasoning"}),
    ),
    Model(
        "anthropic/claude-sonnet-4.5",
        1_000_000,
        {"prompt": Decimal("0.000003"), "completion": Decimal("0.000015")},
        frozenset({"tools", "vision", "reasoning"}),
    ),
    Model(
        "meta-llama/llama-3.3-70b-instruct:free",
        65_536,
        {"prompt": Decimal(0), "completion": Decimal(0)},
        free=True,
    ),
)

ANSWER = (
    "[simulated answer from deepseek/deepseek-v3.2-exp]\n\n",
    "Here is a function:\n\n",
    "```python\ndef add(a: int, b: int) -> int:\n",
    "    return a + b\n```\n",
)


@dataclass
class Script:
    """What the next `run` does: events before the chunks, the chunks, and how it ends."""

    chunks: Sequence[str] = ANSWER
    failures: Sequence[AttemptFailed] = ()
    hold: asyncio.Event | None = None  # when set, the stream waits here after the first chunk
    outcome_status: Status = "ok"
    complete: bool = True
    error_message: str | None = None
    model: str = "deepseek/deepseek-v3.2-exp"


class ScriptedGateway:
    """Plays scripts through `on_event`, records every request it was given."""

    def __init__(self, settings: Settings, *, demo: bool = True) -> None:
        self.settings = settings
        self.demo = demo
        self.catalog: tuple[Model, ...] = CATALOG
        self.health = Health()
        self.store = MemoryStore()
        self.scripts: list[Script] = []
        self.requests: list[Any] = []
        self.budgets = [
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
            BudgetView(
                name="monthly", limit_usd=None, spent_usd=Decimal("12.30"), remaining_usd=None
            ),
        ]
        self.closed = False
        self.reconciled = 0

    def __iter__(self) -> Iterator[Model]:
        return iter(self.catalog)

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

    async def run(
        self, request: Any, on_event: Callable[[GatewayEvent], None] | None = None
    ) -> RequestOutcome:
        emit = on_event or (lambda _e: None)
        self.requests.append(request)
        script = self.scripts.pop(0) if self.scripts else Script()
        request_id = f"req-{len(self.requests)}"
        emit(
            RoutingDecided(
                request_id=request_id,
                task_type="coding",
                complexity="low",
                signals=("verb 'write'", "code keywords"),
                model=script.model,
                candidates=(
                    CandidateView(
                        model=script.model,
                        score=0.91,
                        estimated_cost_usd=Decimal("0.00021"),
                        reason="cheapest model with strong coding quality",
                    ),
                    CandidateView(
                        model="openai/gpt-4o-mini",
                        score=0.84,
                        estimated_cost_usd=Decimal("0.00030"),
                        reason="fast and cheap; good at chat",
                    ),
                ),
                fallbacks=("openai/gpt-4o-mini",),
                context_tokens=120,
            )
        )
        attempt = 1
        emit(AttemptStarted(request_id, script.model, attempt))
        for failure in script.failures:
            emit(failure)
            attempt += 1
            emit(AttemptStarted(request_id, failure.next_model or script.model, attempt))
        emit(FirstToken(request_id, script.model, 250.0))
        text = ""
        for index, chunk in enumerate(script.chunks):
            text += chunk
            emit(ChunkReceived(request_id, chunk))
            await asyncio.sleep(0)
            if index == 0 and script.hold is not None:
                await script.hold.wait()
        outcome = RequestOutcome(
            request_id=request_id,
            text=text,
            model=script.model,
            task_type="coding",
            complexity="low",
            attempts=[AttemptRecord(model=script.model, status=200, latency_ms=900.0)],
            prompt_tokens=120,
            completion_tokens=48,
            cost_usd=Decimal("0.0000516"),
            cost_source="reported",
            latency_ms=900.0,
            ttft_ms=250.0,
            tokens_per_s=73.8,
            complete=script.complete,
            status=script.outcome_status,
            error_message=script.error_message,
            budget=self.budgets,
            context=[ContextView(source="file:app.py", kind="file", tokens=120)],
        )
        if script.outcome_status == "ok":
            emit(Completed(request_id, outcome))
        return outcome
