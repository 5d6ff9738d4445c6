"""The JSON documents the CLI prints, as pydantic models built from the core's own models.

Each document names its fields once, here; values are read from the outcome, attempt, budget
and note models by attribute (`from_attributes`), never copied key by key, so a field the core
renames fails validation instead of silently printing a stale key. Money is a decimal string.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_serializer, model_validator

from devflow_tui.accounting.records import RequestOutcome
from devflow_tui.context.assembly import AssembledContext, ContextItemReport, ContextView
from devflow_tui.gateway.events import CandidateView
from devflow_tui.gateway.pipeline import PreparedRequest, candidate_views
from devflow_tui.openrouter.wire import ChatMessage
from devflow_tui.routing.catalog import CatalogModel
from devflow_tui.routing.health import ModelHealth
from devflow_tui.types import CostSource, Status


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AttemptJson(_FromAttributes):
    model: str
    status: int | None
    error: str | None
    latency_ms: float


class UsageJson(_FromAttributes):
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    cached_tokens: int


class ErrorJson(BaseModel):
    category: str
    message: str | None


class BudgetJson(_FromAttributes):
    limit_usd: Decimal | None
    spent_usd: Decimal
    remaining_usd: Decimal | None


class AskJson(_FromAttributes):
    """`devflow ask --json`: one object per request (see the README)."""

    text: str
    model: str | None
    requested_model: str | None
    task_type: str | None
    complexity: str | None
    fallbacks: list[str]
    attempts: list[AttemptJson]
    usage: UsageJson
    cost_usd: Decimal | None
    cost_source: CostSource
    latency_ms: float | None
    ttft_ms: float | None
    tokens_per_s: float | None
    generation_id: str | None
    finish_reason: str | None
    complete: bool
    status: Status
    error: ErrorJson | None
    cache_hit: bool
    secrets_removed: int
    warnings: list[str]
    budget: dict[str, BudgetJson]
    context: list[ContextView]

    @model_validator(mode="before")
    @classmethod
    def _from_outcome(cls, value: Any) -> Any:
        if not isinstance(value, RequestOutcome):
            return value
        fields = {name: getattr(value, name) for name in cls.model_fields if hasattr(value, name)}
        error = (
            ErrorJson(category=value.error_category, message=value.error_message)
            if value.error_category
            else None
        )
        return {
            **fields,
            "usage": value,
            "error": error,
            "budget": {view.name: view for view in value.budget},
        }


class UnrecordedAskJson(BaseModel):
    """`devflow ask --json` when the answer arrived but could not be recorded (exit 5): the
    answer, and why it is not in the database."""

    text: str
    status: Literal["unrecorded"] = "unrecorded"
    error: str


def ask_json(outcome: RequestOutcome) -> dict[str, Any]:
    """The `ask --json` document of an outcome, JSON-ready."""
    return AskJson.model_validate(outcome).model_dump(mode="json")


class ExcludedJson(BaseModel):
    model: str
    reason: str


class RouteJson(BaseModel):
    """`devflow route --json`: the decision for a prompt, nothing sent."""

    task_type: str
    complexity: str
    signals: list[str]
    language: str
    model: str | None
    candidates: list[CandidateView]  # the same views the routing pane shows
    fallbacks: list[str]
    excluded: list[ExcludedJson]
    exclusion_summary: str | None  # "15 of 19 models ruled out: 15 by the budget"
    resolved_names: list[str]  # "gpt-4 -> openai/gpt-5 (family)"
    warnings: list[str]
    context_tokens: int
    catalog_source: str
    error: str | None = None  # why no model can take the request (model is None), and the fix


def route_json(
    prepared: PreparedRequest, catalog_source: str, error: str | None = None
) -> dict[str, Any]:
    """The `route --json` document of a prepared request, JSON-ready; `error` says why no
    model can take it, when none can."""
    decision = prepared.decision
    cls = prepared.classification
    document = RouteJson(
        task_type=cls.task_type,
        complexity=cls.complexity,
        signals=list(cls.signals),
        language=cls.language,
        model=decision.chosen.id if decision.chosen else None,
        candidates=candidate_views(decision),
        fallbacks=list(decision.fallbacks),
        excluded=[ExcludedJson(model=m, reason=r) for m, r in decision.excluded],
        exclusion_summary=decision.exclusion_summary,
        resolved_names=list(decision.resolved_names),
        warnings=list(decision.warnings),
        context_tokens=prepared.context_tokens,
        catalog_source=catalog_source,
        error=error,
    )
    return document.model_dump(mode="json")


class ModelJson(_FromAttributes):
    """One entry of `devflow models --json`: the catalog model, its prices per million tokens
    and what the health tracker measured (None before any request)."""

    id: str
    name: str
    context_length: int
    max_completion_tokens: int | None
    prompt_per_million_usd: str | None  # a plain decimal string, never an exponent
    completion_per_million_usd: str | None
    capabilities: list[str]
    free: bool
    moderated: bool
    success_rate: float | None
    latency_p50_ms: float | None

    @classmethod
    def of(cls, model: CatalogModel, health: ModelHealth) -> ModelJson:
        measured = health.samples > 0
        return cls(
            id=model.id,
            name=model.name,
            context_length=model.context_length,
            max_completion_tokens=model.max_completion_tokens,
            prompt_per_million_usd=_normal(model.price_per_million("prompt")),
            completion_per_million_usd=_normal(model.price_per_million("completion")),
            capabilities=sorted(model.capabilities),
            free=model.free,
            moderated=model.moderated,
            success_rate=health.success_rate if measured else None,
            latency_p50_ms=health.latency_p50 if measured else None,
        )


class ModelsJson(BaseModel):
    """`devflow models --json`: the catalog, where it came from (cache, live, bundled
    snapshot, simulated) and how the configured model names resolved."""

    source: str
    models: list[ModelJson]
    names: list[str]  # "preferred: gpt-4 -> openai/gpt-5 (closest version)"
    # A name in the settings that matches nothing: the error naming the setting and the fix
    # (the listing is still given: it is how the right id is found).
    names_error: str | None = None


def _normal(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


class ContextShowJson(BaseModel):
    """`devflow context show --json`: what would be sent to the first-choice model, nothing
    sent. Sources are the assembly's own reports; messages are sent as shown (no null fields)."""

    model: str
    context_length: int  # the model's window
    max_output_tokens: int  # kept free for the answer
    budget_tokens: int  # prompt tokens that were available
    total_tokens: int  # estimated prompt tokens of `messages`, framing included
    context_tokens: int  # of which injected context
    sources: list[ContextItemReport]
    secrets_removed: int
    secrets_by_kind: dict[str, int]
    messages: list[ChatMessage]

    @field_serializer("messages")
    def _as_sent(self, messages: list[ChatMessage]) -> list[dict[str, Any]]:
        return [message.model_dump(exclude_none=True) for message in messages]

    @classmethod
    def of(cls, model: CatalogModel, assembled: AssembledContext) -> ContextShowJson:
        return cls(
            model=model.id,
            context_length=assembled.context_length,
            max_output_tokens=assembled.max_output_tokens,
            budget_tokens=assembled.budget,
            total_tokens=assembled.total_tokens,
            context_tokens=assembled.context_tokens,
            sources=assembled.report,
            secrets_removed=assembled.scrubbed.total,
            secrets_by_kind=assembled.scrubbed.as_dict(),
            messages=assembled.messages,
        )
