"""Pydantic models of OpenRouter's wire format (see shared/openrouter-api.md).

They accept every documented variant and ignore unknown fields, so a new field from the
server never breaks a user. Prices stay strings on the wire and become `Decimal` in
`Pricing.known_prices()`.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

_log = logging.getLogger(__name__)


class Wire(BaseModel):
    """Base for payloads from the server: unknown fields are ignored. Each builds its
    validator on first use: a command parses a few of these, and building them all at import
    cost `devflow ask` about 10 ms."""

    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------- requests


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_call_id: str | None = None


class ChatRequest(BaseModel):
    """The body of POST /chat/completions. `None` fields are not sent."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    models: list[str] | None = None
    messages: list[ChatMessage]
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = None
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    provider: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    user: str | None = None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


# ---------------------------------------------------------------- usage and responses


# Bounds of believable usage. No model's window is near 10^8 tokens and no single request
# costs $10,000; a server sending more (or a negative, NaN or infinite number) is broken, and
# its figures would corrupt budgets and reports, so the whole usage block is dropped.
MAX_USAGE_TOKENS = 100_000_000
MAX_USAGE_COST_USD = Decimal(10_000)
TokenCount = Annotated[int, Field(ge=0, le=MAX_USAGE_TOKENS)]
UsageCost = Annotated[Decimal, Field(ge=0, le=MAX_USAGE_COST_USD, allow_inf_nan=False)]
UsageFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class PromptTokensDetails(Wire):
    cached_tokens: TokenCount | None = None
    cache_write_tokens: TokenCount | None = None
    audio_tokens: TokenCount | None = None


class CompletionTokensDetails(Wire):
    reasoning_tokens: TokenCount | None = None
    image_tokens: TokenCount | None = None
    audio_tokens: TokenCount | None = None


class CostDetails(Wire):
    upstream_inference_cost: UsageFloat | None = None
    upstream_inference_prompt_cost: UsageFloat | None = None
    upstream_inference_completions_cost: UsageFloat | None = None


class Usage(Wire):
    """Token counts and cost of one answer; out-of-range values fail validation (see
    `checked_usage`)."""

    prompt_tokens: TokenCount = 0
    completion_tokens: TokenCount = 0
    total_tokens: Annotated[int, Field(ge=0, le=2 * MAX_USAGE_TOKENS)] | None = None
    # Kept as the JSON number text to avoid float rounding; see `cost_decimal`.
    cost: UsageCost | None = None
    is_byok: bool | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    cost_details: CostDetails | None = None

    @property
    def cached_tokens(self) -> int:
        details = self.prompt_tokens_details
        return (details.cached_tokens or 0) if details else 0

    @property
    def cache_write_tokens(self) -> int:
        details = self.prompt_tokens_details
        return (details.cache_write_tokens or 0) if details else 0

    @property
    def reasoning_tokens(self) -> int:
        details = self.completion_tokens_details
        return (details.reasoning_tokens or 0) if details else 0


def _none_if_invalid(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Usage the server got wrong is no usage: the answer stands, its cost becomes unknown."""
    try:
        return handler(value)
    except ValidationError as exc:
        _log.warning("ignoring impossible usage from the server (%s)", _first_problem(exc))
        return None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"


CheckedUsage = Annotated[Usage | None, WrapValidator(_none_if_invalid)]
CheckedCost = Annotated[UsageCost | None, WrapValidator(_none_if_invalid)]


class ErrorInfo(Wire):
    code: int | str | None = None
    message: str = "Unknown error"
    metadata: dict[str, Any] | None = None
    error_type: str | None = None  # 2026 "availability" variant
    http_status: int | None = None


class ErrorEnvelope(Wire):
    error: ErrorInfo


class ResponseMessage(Wire):
    role: str = "assistant"
    content: str | None = None
    reasoning: str | None = None
    refusal: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class Choice(Wire):
    index: int = 0
    message: ResponseMessage = Field(default_factory=ResponseMessage)
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    error: ErrorInfo | None = None


class ChatResponse(Wire):
    id: str | None = None
    provider: str | None = None
    model: str | None = None
    object: str | None = None
    created: int | None = None
    choices: list[Choice] = []
    usage: CheckedUsage = None
    error: ErrorInfo | None = None


class Delta(Wire):
    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChunkChoice(Wire):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: str | None = None
    native_finish_reason: str | None = None


class StreamChunk(Wire):
    id: str | None = None
    provider: str | None = None
    model: str | None = None
    object: str | None = None
    created: int | None = None
    choices: list[ChunkChoice] = []
    usage: CheckedUsage = None
    error: ErrorInfo | None = None


# ---------------------------------------------------------------- models catalog


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return result if result.is_finite() else None


PRICE_KEYS = (
    "prompt",
    "completion",
    "request",
    "image",
    "web_search",
    "internal_reasoning",
    "input_cache_read",
    "input_cache_write",
    "input_cache_write_1h",
    "audio",
    "audio_output",
    "image_output",
    "image_token",
    "input_audio_cache",
)


class Pricing(Wire):
    """Prices in USD per token (per request/image where named), as strings on the wire."""

    model_config = ConfigDict(extra="allow")

    prompt: str | float | None = None
    completion: str | float | None = None
    request: str | float | None = None
    image: str | float | None = None
    web_search: str | float | None = None
    internal_reasoning: str | float | None = None
    input_cache_read: str | float | None = None
    input_cache_write: str | float | None = None
    input_cache_write_1h: str | float | None = None
    discount: float | None = None

    def _given(self) -> dict[str, Any]:
        # The declared fields and the extras at once: `getattr` goes through pydantic's
        # attribute fallback for every price the model does not declare, which made reading
        # prices most of the cost of loading a 400-model catalog at start-up.
        return {**(self.model_extra or {}), **self.__dict__}

    def known_prices(self) -> dict[str, Decimal]:
        """Every price given, per token, keyed like `PRICE_KEYS`; a price that is absent,
        unparseable or negative (routers use -1) is left out."""
        given = self._given()
        prices: dict[str, Decimal] = {}
        for key in PRICE_KEYS:
            value = _price(given.get(key))
            if value is not None:
                prices[key] = value
        return prices


def _price(raw: Any) -> Decimal | None:
    value = _decimal(raw)
    return None if value is None or value < 0 else value


class Architecture(Wire):
    modality: str | None = None
    input_modalities: list[str] | None = None
    output_modalities: list[str] | None = None
    tokenizer: str | None = None
    instruct_type: str | None = None


class TopProvider(Wire):
    context_length: int | None = None
    max_completion_tokens: int | None = None
    is_moderated: bool | None = None


class ModelInfo(Wire):
    id: str
    canonical_slug: str | None = None
    hugging_face_id: str | None = None
    name: str | None = None
    created: int | None = None
    description: str | None = None
    context_length: int | None = None
    architecture: Architecture = Field(default_factory=Architecture)
    pricing: Pricing = Field(default_factory=Pricing)
    top_provider: TopProvider = Field(default_factory=TopProvider)
    per_request_limits: dict[str, Any] | None = None
    supported_parameters: list[str] = []
    default_parameters: dict[str, Any] | None = None
    expiration_date: str | None = None


class ModelsResponse(Wire):
    data: list[ModelInfo]
    total_count: int | None = None


# ---------------------------------------------------------------- generation, key, credits


class Generation(Wire):
    id: str
    total_cost: CheckedCost = None
    model: str | None = None
    provider_name: str | None = None
    created_at: str | None = None
    streamed: bool | None = None
    cancelled: bool | None = None
    latency: float | None = None
    generation_time: float | None = None
    finish_reason: str | None = None
    tokens_prompt: int | None = None
    tokens_completion: int | None = None
    native_tokens_prompt: int | None = None
    native_tokens_completion: int | None = None
    native_tokens_reasoning: int | None = None
    native_tokens_cached: int | None = None
    cache_discount: Decimal | None = None
    upstream_inference_cost: Decimal | None = None
    is_byok: bool | None = None


class GenerationResponse(Wire):
    data: Generation


class KeyInfo(Wire):
    label: str | None = None
    limit: Decimal | None = None
    limit_remaining: Decimal | None = None
    limit_reset: str | None = None
    usage: Decimal | None = None
    usage_daily: Decimal | None = None
    usage_monthly: Decimal | None = None
    is_free_tier: bool | None = None
    expires_at: str | None = None


class KeyResponse(Wire):
    data: KeyInfo


class Credits(Wire):
    total_credits: Decimal
    total_usage: Decimal

    @property
    def balance(self) -> Decimal:
        return self.total_credits - self.total_usage


class CreditsResponse(Wire):
    data: Credits
