"""What a chat call returns: the final `ChatResult`, the items a stream yields, and the record
of each HTTP attempt made on the way."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from devflow_tui.openrouter.wire import Usage


class AttemptRecord(BaseModel):
    """One HTTP attempt against one model."""

    model_config = ConfigDict(frozen=True)

    model: str
    status: int | None = None  # HTTP status; None for network errors and timeouts
    error: str | None = None  # error category, None on success
    message: str | None = None
    latency_ms: float = 0.0
    wait_before_s: float = 0.0  # backoff slept before this attempt
    retried: bool = False  # the client sends the same request again after this failure


@dataclass
class ChatResult:
    """The answer and what is known about how it was produced.

    `complete` is True only when the response or stream ended normally (a finish reason or
    `[DONE]`); `model` is the model that served, which may differ from the one requested.
    """

    text: str
    reasoning: str | None
    model: str | None
    provider: str | None
    generation_id: str | None
    usage: Usage | None
    finish_reason: str | None
    complete: bool
    latency_ms: float
    ttft_ms: float | None
    attempts: list[AttemptRecord] = field(default_factory=list)


@dataclass(frozen=True)
class TextChunk:
    """A piece of the answer (and/or of the model's reasoning) as it streams in, with the
    generation it belongs to (what `/generation` bills, even if the answer is cut off)."""

    text: str
    reasoning: str | None = None
    generation_id: str | None = field(default=None, compare=False)  # not part of the text


@dataclass(frozen=True)
class StreamDone:
    """The last item of every successful stream."""

    result: ChatResult


StreamItem = TextChunk | StreamDone
