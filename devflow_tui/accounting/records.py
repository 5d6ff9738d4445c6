"""Pydantic models of the rows the analytics store writes and reads, and of the request
outcome it records."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from devflow_tui.context.assembly import ContextView
from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.types import CostSource, Status

RowStatus = Literal["ok", "error", "cancelled", "interrupted", "refused", "running"]
TERMINAL_STATUSES: tuple[str, ...] = ("ok", "error", "cancelled", "interrupted", "refused")


def hash_prompt(text: str) -> str:
    """Stable hash of a prompt, so requests can be grouped without storing the prompt."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class _Record(BaseModel):
    """Base of these models: each builds its validator on first use, so a command that never
    reads a row (a plain `devflow ask` reads none) does not pay for building it at start-up."""

    model_config = ConfigDict(defer_build=True)


class RequestStart(_Record):
    """What is known when a request begins; written at once with status "running"."""

    model_config = ConfigDict(frozen=True)

    request_id: str | None = None  # a uuid4 is generated when None
    ts: float | None = None  # unix seconds; the store's clock when None
    conversation_id: str | None = None
    project: str | None = None
    prompt_hash: str | None = None
    task_type: str | None = None
    complexity: str | None = None
    requested_model: str | None = None
    model: str | None = None
    routing_reason: str | None = None
    prompt_tokens: int = 0  # estimate before sending; replaced by the real count at the end
    client: str | None = None  # who sent it: "cli", "dashboard", "claude-code", "mcp", ...
    member: str | None = None  # the team member whose token `devflow serve` was sent
    comparison: str | None = None  # the compare-mode run this request belongs to
    escalation_of: str | None = None  # the request this one re-asks with a stronger model


class RequestRow(_Record):
    """One row of the `requests` table."""

    id: str
    ts: float
    updated: float | None = None
    conversation_id: str | None = None
    project: str | None = None
    prompt_hash: str | None = None
    task_type: str | None = None
    complexity: str | None = None
    requested_model: str | None = None
    model: str | None = None
    routing_reason: str | None = None
    status: RowStatus
    error_category: str | None = None
    error_message: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: Decimal | None = None
    cost_source: str = "unknown"
    billed_cost_usd: Decimal | None = None
    saved_usd: Decimal | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    generation_id: str | None = None
    finish_reason: str | None = None
    cache_hit: bool = False
    complete: bool = False
    partial_text: str | None = None
    pid: int | None = None
    host: str | None = None  # the machine of `pid` (NULL: this one, before it was recorded)
    client: str | None = None
    member: str | None = None
    comparison: str | None = None  # the compare-mode run this request belongs to
    escalation_of: str | None = None


class AttemptRow(_Record):
    """One HTTP attempt of a request."""

    request_id: str
    n: int
    model: str
    status: int | None = None
    error: str | None = None
    message: str | None = None
    latency_ms: float = 0.0
    wait_before_s: float = 0.0
    ts: float


class Note(_Record):
    """A note added to the context: global when `project` is None."""

    id: int
    text: str
    project: str | None = None
    created: float


class Conversation(_Record):
    """A conversation in the history screen."""

    id: str
    title: str
    created: float
    updated: float
    project: str | None = None
    messages: int = 0


class Message(_Record):
    """One message of a conversation."""

    id: int
    conversation_id: str
    request_id: str | None = None
    role: str
    content: str
    ts: float


class Reservation(_Record):
    """Money set aside for one request until its real cost is known."""

    model_config = ConfigDict(frozen=True)

    id: str
    request_id: str
    amount: Decimal | None
    created: float
    held: bool = Field(default=True, description="False when no budget applied")


class BudgetView(_Record):
    """Spend against one budget, for `ask --json`, the report and the gauges.

    It lives here rather than in `budget.py` because the outcome below carries it and the
    store, which `budget.py` builds on, reads and writes outcomes."""

    name: str  # "total", "daily", "monthly", "session", "openrouter-key"
    limit_usd: Decimal | None
    spent_usd: Decimal
    remaining_usd: Decimal | None


class RequestOutcome(_Record):
    """Everything known about one user request once it ended (well or not); the store
    records it as one `requests` row and its attempts."""

    request_id: str
    conversation_id: str | None = None  # set once the user's message is saved
    text: str = ""
    model: str | None = None  # the model that served
    requested_model: str | None = None
    task_type: str | None = None
    complexity: str | None = None
    fallbacks: list[str] = []
    attempts: list[AttemptRecord] = []
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
    warnings: list[str] = []  # routing warnings the user should see
    budget: list[BudgetView] = []
    context: list[ContextView] = []
