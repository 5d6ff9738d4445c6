"""Typed events the gateway emits while it runs one request, and the outcome it returns.

The CLI prints them, the TUI turns them into Textual messages. They hold plain values only
(no client, no database handle), so any front end can consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CostSource = Literal["reported", "estimated", "unknown"]
Status = Literal["ok", "error", "cancelled", "interrupted", "refused"]


class AttemptRecord(BaseModel):
    """One HTTP attempt against one model."""

    model_config = ConfigDict(frozen=True)

    model: str
    status: int | None = None  # HTTP status; None for network errors and timeouts
    error: str | None = None  # error category, None on success
    message: str | None = None
    latency_ms: float = 0.0
    wait_before_s: float = 0.0  # backoff slept before this attempt


class CandidateView(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    score: float
    estimated_cost_usd: Decimal | None
    reason: str


class BudgetView(BaseModel):
    """Spend against one budget, for `ask --json` and the gauges."""

    name: str  # "total", "daily", "monthly", "session", "openrouter-key"
    limit_usd: Decimal | None
    spent_usd: Decimal
    remaining_usd: Decimal | None


class ContextView(BaseModel):
    source: (
        str  # e.g. "claude-session:3f2a…", "file:src/app.py", "note:12", "claude-md:/p/CLAUDE.md"
    )
    kind: str
    tokens: int
    status: Literal["included", "trimmed", "dropped"] = "included"


class RequestOutcome(BaseModel):
    """Everything known about one user request once it ended (well or not)."""

    request_id: str
    text: str = ""
    model: str | None = None  # the model that served
    requested_model: str | None = None
    task_type: str | None = None
    complexity: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    attempts: list[AttemptRecord] = Field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: Decimal | None = None
    cost_source: CostSource = "unknown"
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    generation_id: str | None = None
    finish_reason: str | None = None
    complete: bool = False
    status: Status = "ok"
    error_category: str | None = None
    error_message: str | None = None
    cache_hit: bool = False
    secrets_removed: int = 0  # secrets scrubbed from the injected context before sending
    warnings: list[str] = Field(default_factory=list)  # routing warnings the user should see
    budget: list[BudgetView] = Field(default_factory=list)
    context: list[ContextView] = Field(default_factory=list)


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
class BudgetAlert:
    budget: str
    threshold: float  # 0.5, 0.8, 1.0 ...
    spent_usd: Decimal
    limit_usd: Decimal
    message: str = ""


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
