"""Assembles an OpenRouter SSE chat stream, one `data:` payload at a time.

Pure and synchronous: the client feeds it the data of each event (comment lines were already
dropped by httpx-sse) and gets back a `TextChunk` or None; errors come out as typed
`OpenRouterError`s. Handles the three usage-chunk shapes of the spec (section 2.3): usage on a
chunk with no choices, on a chunk whose choice has `finish_reason: null` after the real finish
chunk, or on a chunk repeating the finish reason. The first non-null finish reason wins.

End-of-stream rules (see `finish`): the stream ended normally when `[DONE]` or a finish reason
arrived; otherwise it was cut off and that is a NETWORK error. An answer with no text at all
is only accepted when a finish reason says why (e.g. "length" after reasoning used every
token); with neither text nor finish reason it is a retryable PROVIDER error ("no content"),
so a caller never gets a silent empty answer.
"""

from __future__ import annotations

import json
from decimal import Decimal

from pydantic import ValidationError

from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.error_map import error_from_info, invalid_response
from devflow_tui.openrouter.result import TextChunk
from devflow_tui.openrouter.wire import ErrorInfo, StreamChunk, Usage

DONE = "[DONE]"


class StreamAssembler:
    """Accumulates text, reasoning, usage and ids from the chunks of one streamed answer."""

    def __init__(self, model: str | None, api_key: str | None = None) -> None:
        self.requested_model = model
        self._api_key = api_key
        self.model: str | None = None
        self.provider: str | None = None
        self.generation_id: str | None = None
        self.usage: Usage | None = None
        self.finish_reason: str | None = None
        self.done = False
        self.has_output = False  # any text or reasoning handed out (makes errors mid-stream)
        self._text: list[str] = []
        self._reasoning: list[str] = []

    @property
    def text(self) -> str:
        """The answer text received so far."""
        return "".join(self._text)

    @property
    def reasoning(self) -> str | None:
        """The reasoning text received so far, None when the model sent none."""
        return "".join(self._reasoning) if self._reasoning else None

    @property
    def served_model(self) -> str | None:
        """The model that served, falling back to the requested one."""
        return self.model or self.requested_model

    def feed(self, data: str) -> TextChunk | None:
        """Take one event's data; return the new text, if any. Raises OpenRouterError."""
        if data == DONE:
            self.done = True
            return None
        if self.done:
            return None  # nothing counts after [DONE]
        try:
            raw = json.loads(data, parse_float=Decimal)
        except ValueError:
            raise self._invalid("a stream chunk is not valid JSON") from None
        if not isinstance(raw, dict):
            raise self._invalid("a stream chunk is not a JSON object")
        try:
            chunk = StreamChunk.model_validate(raw)
        except ValidationError as exc:
            raise self._invalid(f"unexpected chunk shape ({exc.error_count()} problems)") from None
        self.generation_id = self.generation_id or chunk.id
        self.model = chunk.model or self.model
        self.provider = chunk.provider or self.provider
        if chunk.usage is not None:
            self.usage = chunk.usage
        text: str | None = None
        reasoning: str | None = None
        choice_error = False
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # we never ask for n > 1
            text = choice.delta.content or None
            reasoning = choice.delta.reasoning or None
            if choice.finish_reason == "error":
                choice_error = True
            elif choice.finish_reason and self.finish_reason is None:
                self.finish_reason = choice.finish_reason
        piece: TextChunk | None = None
        if text or reasoning:
            # Record before raising: text riding on an error chunk is still part of the answer.
            if text:
                self._text.append(text)
            if reasoning:
                self._reasoning.append(reasoning)
            piece = TextChunk(text or "", reasoning, self.generation_id)
        if chunk.error is not None:
            raise self._error(chunk.error)
        if choice_error:
            info = ErrorInfo(code=502, message="The provider ended the answer with an error")
            raise self._error(info)
        if piece is not None:
            self.has_output = True
        return piece

    def add_output(self, text: str, reasoning: str | None) -> None:
        """Take a whole answer that arrived in one piece (a JSON body instead of SSE)."""
        if text:
            self._text.append(text)
        if reasoning:
            self._reasoning.append(reasoning)

    def finish(self) -> None:
        """Check the stream ended properly; raises the right error when it did not."""
        if not (self.done or self.finish_reason):
            raise OpenRouterError(
                "The stream ended before the answer was complete (no finish reason, no [DONE]).",
                category=ErrorCategory.NETWORK,
                retryable=True,
                mid_stream=self.has_output,
                model=self.served_model,
                hint="Retry; the partial answer (if any) is kept.",
                partial_text=self.text,
                generation_id=self.generation_id,
            )
        if not self._text and not self._reasoning and not self.finish_reason:
            raise OpenRouterError(
                f"{self.served_model or 'The model'} returned an empty answer with no finish "
                "reason (the provider may be warming up).",
                category=ErrorCategory.PROVIDER,
                retryable=True,
                model=self.served_model,
                hint="Retry in a few seconds, or choose another model.",
                generation_id=self.generation_id,
            )

    def _error(self, info: ErrorInfo) -> OpenRouterError:
        # Text riding on the error chunk itself never reached the caller, so only earlier
        # output makes this a mid-stream failure (which must not be retried silently).
        return error_from_info(
            info,
            http_status=200,
            model=self.served_model,
            api_key=self._api_key,
            mid_stream=self.has_output,
            partial_text=self.text,
            generation_id=self.generation_id,
        )

    def _invalid(self, detail: str) -> OpenRouterError:
        error = invalid_response(
            detail, model=self.served_model, mid_stream=self.has_output, partial_text=self.text
        )
        error.generation_id = self.generation_id
        return error
