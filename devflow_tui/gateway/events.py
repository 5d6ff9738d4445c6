"""Typed events the gateway emits while it runs one request, and the outcome it returns.

The CLI prints them, the TUI turns them into Textual messages. They hold plain values only
(no client, no database handle), so any front end can consume them. The values they carry are
owned by lower layers (an attempt by the wire client, budget views and the request outcome by
accounting, context views by assembly, shared literals by `devflow_tui.types`); this module
imports them and re-exports them for the front ends, and nothing below the gateway imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from devflow_tui.accounting.budget import BudgetAlert
from devflow_tui.accounting.records import BudgetView, RequestOutcome
from devflow_tui.context.assembly import ContextView
from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.types import CostSource, Status

__all__ = [
    "AttemptFailed",
    "AttemptRecord",
    "AttemptStarted",
    "BudgetAlert",
    "BudgetView",
    "CacheHit",
    "CandidateView",
    "ChunkReceived",
    "Completed",
    "ContextView",
    "CostSource",
    "Failed",
    "FirstToken",
    "GatewayEvent",
    "RequestOutcome",
    "RoutingDecided",
    "Status",
]


class CandidateView(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    score: float
    estimated_cost_usd: Decimal | None
    reason: str


@dataclass(frozen=True)
class RoutingDecided:
    request_id: str
    task_type: str
    complexity: str
    signals: tuple[str, ...]
    model: str
    candidates: tuple[CandidateView, ...]
    fallbacks: tuple[str, ...]
    context_tokens: int = 0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttemptStarted:
    request_id: str
    model: str
    attempt: int  # 1-based across the whole request


@dataclass(frozen=True)
class AttemptFailed:
    request_id: str
    record: AttemptRecord
    retryable: bool
    next_model: str | None  # the model tried next (same model on retry), None when giving up
    cooldown: bool = False  # the failure put the model into cooldown


@dataclass(frozen=True)
class FirstToken:
    request_id: str
    model: str
    ttft_ms: float


@dataclass(frozen=True)
class ChunkReceived:
    request_id: str
    text: str
    reasoning: str | None = None


@dataclass(frozen=True)
class Completed:
    request_id: str
    outcome: RequestOutcome


@dataclass(frozen=True)
class Failed:
    request_id: str
    outcome: RequestOutcome  # text holds the partial answer, if any
    category: str
    message: str
    hint: str | None = None


@dataclass(frozen=True)
class CacheHit:
    request_id: str
    model: str
    saved_usd: Decimal | None = None
    extra: dict[str, str] = field(default_factory=dict)


GatewayEvent = (
    RoutingDecided
    | AttemptStarted
    | AttemptFailed
    | FirstToken
    | ChunkReceived
    | Completed
    | Failed
    | BudgetAlert
    | CacheHit
)
