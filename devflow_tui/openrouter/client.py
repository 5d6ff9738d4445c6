"""The async OpenRouter client: chat (plain and streamed), models, generation, key, credits.

Coded to shared/openrouter-api.md. One `httpx.AsyncClient` per `OpenRouterClient`; streams
are parsed with httpx-sse (which drops `:` keep-alive comments); retries use tenacity with a
wait that honours what the server asked for (`Retry-After`, `X-RateLimit-Reset`,
`metadata.retry_after_seconds`) and otherwise backs off exponentially with full jitter.

Only failures before the first token are retried; once text reached the caller an error is
raised with `mid_stream=True` and the partial text. Every attempt becomes an `AttemptRecord`
(passed to `on_attempt`) and a line in the `CallLog`.

Clocks: `clock` returns seconds since the epoch (default `time.time`); it measures latency
and turns `X-RateLimit-Reset` (ms since the epoch) into a wait, so tests can inject one. The
timeouts themselves run on the event loop's monotonic clock.

Always close a stream you stop reading early, with
`async with contextlib.aclosing(client.stream_chat(request))` (or by cancelling the task):
that closes the HTTP connection, which tells OpenRouter to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import ssl
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource
from pydantic import BaseModel, ValidationError
from tenacity import AsyncRetrying, retry_if_exception, stop_never

from devflow_tui import __version__
from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.bounded import (
    BoundedEventStream,
    ResponseTooLarge,
    read_capped,
    read_capped_parts,
)
from devflow_tui.openrouter.calllog import CallEntry, CallLog
from devflow_tui.openrouter.error_map import (
    TransportFailure,
    error_from_info,
    error_from_response,
    invalid_response,
    parse_error_body,
    redirect_error,
    timeout_error,
    transport_error,
    wait_too_long,
)
from devflow_tui.openrouter.ratelimit import RateLimiter
from devflow_tui.openrouter.result import (
    AttemptRecord,
    ChatResult,
    StreamDone,
    StreamItem,
    TextChunk,
)
from devflow_tui.openrouter.stream import StreamAssembler
from devflow_tui.openrouter.wire import (
    ChatRequest,
    ChatResponse,
    Credits,
    CreditsResponse,
    ErrorInfo,
    Generation,
    GenerationResponse,
    KeyInfo,
    KeyResponse,
    ModelInfo,
    ModelsResponse,
)
from devflow_tui.redaction import mask_key

if TYPE_CHECKING:
    import aiohttp

    # The pass-through (`relay`, `relay_stream`) serves `devflow serve` only: its modules are
    # imported by those methods, not by every `devflow ask`.
    from devflow_tui.openrouter.relay import Api, Encoded, RelayMeter, RelayResult, RelayStream
    from devflow_tui.openrouter.sse_bytes import RawEvent

__all__ = [
    "ChatResult",
    "OpenRouterClient",
    "StreamDone",
    "StreamItem",
    "TextChunk",
]

_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)

# After [DONE] the server closes the body at once; reading that close lets the connection
# be reused. A server that keeps the body open after [DONE] is not waited for longer.
_DRAIN_AFTER_DONE_S = 0.1
# Pause between lookups of a generation that is not available yet (spec section 5: ~1 s).
GENERATION_POLL_S = 0.5

_JSON_HEADERS = {"Content-Type": "application/json"}
_STREAM_HEADERS = {**_JSON_HEADERS, "Accept": "text/event-stream", "Cache-Control": "no-store"}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})  # a status httpx calls a redirect

_log = logging.getLogger(__name__)


@dataclass
class _Run:
    """Bookkeeping for one logical call across its retries."""

    request_id: str
    endpoint: str
    model: str
    stream: bool = False
    on_attempt: Callable[[AttemptRecord], None] | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    attempt_no: int = 0
    wait_before_s: float = 0.0
    prompt: list[dict[str, Any]] | None = None
    # When `timeout_ms` runs out for the whole call, retries included (event loop time).
    deadline: float = field(default_factory=lambda: asyncio.get_running_loop().time())


class _StreamAttempt:
    """One open streaming response: reads events under the first-token, chunk and total
    deadlines and turns them into `TextChunk`s. Owns the HTTP response and the limiter slot."""

    def __init__(
        self,
        client: OpenRouterClient,
        run: _Run,
        stack: contextlib.AsyncExitStack,
        started: float,
        model: str,
    ) -> None:
        self._client = client
        self.run = run
        self._stack = stack
        self.started = started
        self.assembler = StreamAssembler(model, client._api_key)
        self.status: int | None = None
        self.ttft_ms: float | None = None
        self._events: AsyncIterator[Any] | None = None
        self._pending: list[TextChunk] = []  # pieces read but not handed out yet
        self._ended = False
        loop = asyncio.get_running_loop()
        self._loop = loop
        settings = client._settings
        now = loop.time()
        self._total_deadline = run.deadline
        self._last_progress = now  # when the last text or reasoning arrived
        self._first_deadline = min(
            self._total_deadline, now + settings.first_token_timeout_ms / 1000
        )

    def _timeout(self) -> OpenRouterError:
        settings = self._client._settings
        asm = self.assembler
        if asm.has_output:  # an answer arriving is only stopped by a stall
            name, limit = "chunk_timeout_ms", settings.chunk_timeout_ms
        elif self._loop.time() >= self._total_deadline:
            name, limit = "timeout_ms", settings.timeout_ms
        else:
            name, limit = "first_token_timeout_ms", settings.first_token_timeout_ms
        error = timeout_error(
            name,
            limit,
            model=asm.served_model,
            mid_stream=asm.has_output,
            partial_text=asm.text,
        )
        error.generation_id = asm.generation_id
        return error

    async def connect(self, body: bytes) -> None:
        """Send the request; on an HTTP error status raise the typed error."""
        client = self._client
        try:
            async with asyncio.timeout_at(self._first_deadline):
                response = await self._stack.enter_async_context(
                    client._http.stream(
                        "POST",
                        "/chat/completions",
                        content=body,
                        headers=_STREAM_HEADERS,
                    )
                )
                self.status = response.status_code
                content_type = response.headers.get("content-type", "")
                if response.status_code >= 400 or "text/event-stream" not in content_type:
                    payload = await read_capped(response)
                    self._from_plain_body(response, payload)
                    return
        except TimeoutError:
            raise self._timeout() from None
        except httpx.HTTPError as exc:
            raise client._transport_error(exc, model=self.assembler.served_model) from None
        except ResponseTooLarge as exc:
            raise invalid_response(exc.what, model=self.assembler.served_model) from None
        self.assembler.generation_id = response.headers.get("x-generation-id")
        bounded = cast(httpx.Response, BoundedEventStream(response))  # headers + aiter_text
        events = EventSource(bounded).aiter_sse()
        self._stack.push_async_callback(events.aclose)
        self._events = events

    def _from_plain_body(self, response: httpx.Response, payload: bytes) -> None:
        """A JSON answer where SSE was expected: an error, or a whole non-streamed answer."""
        client = self._client
        model = self.assembler.served_model
        client._check_redirect(response.status_code, response.headers)
        if response.status_code >= 400:
            raise client._error_from_response(
                response.status_code, response.headers, payload, model
            )
        result = client._parse_chat_body(response, payload, self.run.model, latency_ms=0.0)
        asm = self.assembler
        asm.model, asm.provider, asm.generation_id = (
            result.model,
            result.provider,
            result.generation_id,
        )
        asm.usage, asm.finish_reason, asm.done = result.usage, result.finish_reason, result.complete
        if result.text or result.reasoning:
            asm.add_output(result.text, result.reasoning)
            self._pending.append(TextChunk(result.text, result.reasoning, result.generation_id))
        self._ended = True

    async def next_piece(self) -> TextChunk | None:
        """The next piece of text, or None once the stream ended properly."""
        if self._pending:
            piece = self._pending.pop(0)
            self._mark_first_token()
            self._last_progress = self._loop.time()
            return piece
        if self._ended or self._events is None:
            return None
        asm = self.assembler
        events = self._events
        while True:
            now = self._loop.time()
            # Once the answer is arriving, only a stall stops it (chunk_timeout_ms): the total
            # time bounds getting an answer started, retries and fallbacks included, and cut
            # a healthy long answer at 30 s (~900 tokens at 30 tokens/s). A stall is counted
            # from the last piece of text or reasoning, so events that carry none (empty
            # deltas) cannot keep a stalled answer open for ever.
            if asm.done:
                deadline = now + _DRAIN_AFTER_DONE_S
            elif asm.has_output:
                deadline = self._last_progress + self._client._chunk_timeout_s
            else:
                deadline = self._first_deadline
            try:
                async with asyncio.timeout_at(deadline):
                    event = await anext(events, None)
            except TimeoutError:
                if not asm.done:
                    raise self._timeout() from None
                event = None
            except httpx.HTTPError as exc:
                if not asm.done:
                    error = self._client._transport_error(
                        exc, model=asm.served_model, mid_stream=asm.has_output, partial=asm.text
                    )
                    error.generation_id = asm.generation_id
                    raise error from None
                event = None  # the server hung up right after [DONE]: the answer is whole
            except ResponseTooLarge as exc:
                error = invalid_response(
                    exc.what,
                    model=asm.served_model,
                    mid_stream=asm.has_output,
                    partial_text=asm.text,
                )
                error.generation_id = asm.generation_id
                raise error from None
            if event is None:
                self._ended = True
                asm.finish()
                return None
            fed = asm.feed(event.data)
            if fed is not None:
                self._mark_first_token()
                self._last_progress = self._loop.time()
                return fed

    def _mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (self._client._clock() - self.started) * 1000

    def result(self) -> ChatResult:
        asm = self.assembler
        return ChatResult(
            text=asm.text,
            reasoning=asm.reasoning,
            model=asm.served_model,
            provider=asm.provider,
            generation_id=asm.generation_id,
            usage=asm.usage,
            finish_reason=asm.finish_reason,
            # Always true for SSE (a cut stream raised instead); a JSON body may lack a reason.
            complete=asm.done or asm.finish_reason is not None,
            latency_ms=(self._client._clock() - self.started) * 1000,
            ttft_ms=self.ttft_ms,
            attempts=list(self.run.attempts),
        )

    async def aclose(self) -> None:
        await self._stack.aclose()


def tls_verification(base_url: str) -> ssl.SSLContext | bool:
    """How the client verifies TLS: httpx's default (the certifi bundle) for https. A plain
    http base URL (the simulated server, a local proxy) gets a context that trusts no
    certificate instead: loading the bundle costs about 25 ms of every start-up for a client
    that never speaks TLS, and should anything make it do so, verification fails, not passes."""
    if urlsplit(base_url).scheme == "http":
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def relay_tls(base_url: str) -> ssl.SSLContext:
    """The pass-through's TLS context: for https, verification against the certificates
    httpx trusts (certifi's, or `SSL_CERT_FILE`), not whatever the system has; for plain
    http, `tls_verification`'s context that trusts nothing."""
    verify = tls_verification(base_url)
    if isinstance(verify, ssl.SSLContext):
        return verify
    import certifi

    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or certifi.where())


def env_proxy(base_url: str) -> str | None:
    """The proxy the environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`...) sets for
    `base_url`, if any."""
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(base_url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)


class OpenRouterClient:
    """Async client for the OpenRouter API (or the simulated server at settings.base_url)."""

    def __init__(
        self,
        settings: Settings,
        *,
        api_key: str | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        call_log: CallLog | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self._settings = settings
        if api_key is None and settings.api_key is not None:
            api_key = settings.api_key.get_secret_value()
        self._api_key = api_key or None
        self._sleep = sleep or asyncio.sleep
        self._rng = rng or random.Random()
        self._clock = clock or time.time
        self._call_log = call_log
        if call_log is not None:
            call_log.add_secret(self._api_key)
        # The default limiter keeps its own real clock and sleep: an injected instant sleep
        # must never turn its window wait into a busy loop.
        self._limiter = rate_limiter or RateLimiter.from_settings(settings)
        self._chunk_timeout_s = settings.chunk_timeout_ms / 1000
        self.retry_waits: list[float] = []
        self.poll_waits: list[float] = []  # sleeps of get_generation while waiting out a 404
        headers = {
            "HTTP-Referer": settings.app_url,
            "X-Title": settings.app_title,
            "X-OpenRouter-Title": settings.app_title,
            "User-Agent": f"devflow-tui/{__version__}",
        }
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._headers = headers
        # The pass-through's own pool (aiohttp), opened on the first relayed call.
        self._relay_session: aiohttp.ClientSession | None = None
        self._http = httpx.AsyncClient(
            base_url=settings.base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(
                settings.timeout_ms / 1000, connect=settings.connect_timeout_ms / 1000
            ),
            limits=httpx.Limits(max_connections=max(10, settings.max_concurrency * 2)),
            follow_redirects=False,
            verify=tls_verification(settings.base_url),
        )

    def __repr__(self) -> str:
        return (
            f"OpenRouterClient(base_url={self._settings.base_url!r}, key={mask_key(self._api_key)})"
        )

    @property
    def rate_limiter(self) -> RateLimiter:
        """The limiter every request goes through."""
        return self._limiter

    async def __aenter__(self) -> OpenRouterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def note(self, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
        """A line in the API log that is not a call (what the proxy made of a model name);
        nothing without a log."""
        if self._call_log is not None:
            self._call_log.note(event, level=level, **fields)

    async def aclose(self) -> None:
        """Close the connection pools."""
        await self._http.aclose()
        if self._relay_session is not None:
            await self._relay_session.close()
            self._relay_session = None

    def _relay_http(self) -> aiohttp.ClientSession:
        """The pass-through's connection pool, opened on first use (on the running loop).

        Relayed calls, the proxy's hot path, go through aiohttp rather than httpx: its C
        HTTP parser and its connection pool (a free connection is taken in constant time,
        where httpcore's pool looks at every connection on each request and on each release,
        which at 100 concurrent streams was a third of the proxy's CPU time) made a relayed
        stream cost about 2.5x less CPU time in the same benchmark. Imported here, so the
        other commands never load it."""
        if self._relay_session is None:
            import aiohttp

            settings = self._settings
            self._relay_session = aiohttp.ClientSession(
                headers=self._headers,
                connector=aiohttp.TCPConnector(
                    limit=max(10, settings.max_concurrency * 2),
                    ssl=relay_tls(settings.base_url),
                ),
                # Total, first-token and chunk deadlines are the event loop's, as for httpx.
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=settings.connect_timeout_ms / 1000
                ),
                # A proxy from the environment, as httpx honours it: read once here, where
                # aiohttp's `trust_env` would look it up on a worker thread for every request.
                proxy=env_proxy(settings.base_url),
            )
        return self._relay_session

    async def _relay_post(
        self, run: _Run, payload: bytes, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        """Send one relayed request; the response's body is still to be read."""
        url = self._settings.base_url + run.endpoint
        session = self._relay_http()
        return await session.post(url, data=payload, headers=headers, allow_redirects=False)

    def _relay_transport_error(
        self, exc: Exception, *, model: str | None, mid_stream: bool = False, partial: str = ""
    ) -> OpenRouterError:
        """An aiohttp failure below HTTP as the same typed error httpx's would be."""
        import aiohttp

        kind: TransportFailure = "other"
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            kind = "connect_timeout"
        elif isinstance(exc, aiohttp.ClientConnectorError):
            kind = "connect"
        elif isinstance(exc, aiohttp.ServerTimeoutError):
            kind = "timeout"
        return self._transport_error(
            exc, model=model, mid_stream=mid_stream, partial=partial, kind=kind
        )

    # ------------------------------------------------------------------ chat

    async def chat(
        self,
        request: ChatRequest,
        *,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> ChatResult:
        """Send a non-streamed chat completion, retrying failures that may succeed later."""
        payload = request.payload()
        payload["stream"] = False
        body = json.dumps(payload, default=str).encode()
        run = self._new_run("/chat/completions", request, on_attempt, stream=False)
        return await self._retrying(run, lambda: self._chat_attempt(run, body))

    async def _chat_attempt(self, run: _Run, body: bytes) -> ChatResult:
        run.attempt_no += 1
        status: int | None = None
        started = self._clock()
        try:
            async with self._limiter.slot():
                started = self._clock()
                response, payload = await self._fetch(
                    run, "POST", "/chat/completions", content=body, headers=_JSON_HEADERS
                )
            status = response.status_code
            latency_ms = (self._clock() - started) * 1000
            self._check_redirect(status, response.headers)
            if status >= 400:
                raise self._error_from_response(status, response.headers, payload, run.model)
            result = self._parse_chat_body(response, payload, run.model, latency_ms)
        except OpenRouterError as exc:
            self._record_failure(run, exc, status, started)
            raise self._check_wait(exc) from None
        self._record_success(run, result, status)
        result.attempts = list(run.attempts)
        return result

    def _parse_chat_body(
        self, response: httpx.Response, payload: bytes, model: str, latency_ms: float
    ) -> ChatResult:
        """A 200 non-streamed body to a ChatResult, or the typed error it carries."""
        header_id = response.headers.get("x-generation-id")
        try:
            data = json.loads(payload, parse_float=Decimal)
        except ValueError:
            raise invalid_response("the body is not JSON", model=model) from None
        if not isinstance(data, dict):
            raise invalid_response("the body is not a JSON object", model=model)
        try:
            parsed = ChatResponse.model_validate(data)
        except ValidationError as exc:
            raise invalid_response(
                f"unexpected body shape ({exc.error_count()} problems)", model=model
            ) from None
        served = parsed.model or model
        generation_id = parsed.id or header_id
        if parsed.error is not None and not parsed.choices:
            raise self._error_from_info(parsed.error, served, generation_id=generation_id)
        if not parsed.choices:
            raise invalid_response("the answer has no choices", model=served)
        choice = parsed.choices[0]
        message = choice.message
        text = message.content or ""
        if choice.error is not None or choice.finish_reason == "error":
            info = choice.error or ErrorInfo(code=502, message="The provider ended with an error")
            raise self._error_from_info(info, served, generation_id=generation_id, partial=text)
        if (
            not text
            and not message.reasoning
            and not message.tool_calls
            and not choice.finish_reason
        ):
            raise OpenRouterError(
                f"{served} returned an empty answer with no finish reason "
                "(the provider may be warming up).",
                category=ErrorCategory.PROVIDER,
                retryable=True,
                model=served,
                hint="Retry in a few seconds, or choose another model.",
                generation_id=generation_id,
            )
        return ChatResult(
            text=text,
            reasoning=message.reasoning,
            model=served,
            provider=parsed.provider,
            generation_id=generation_id,
            usage=parsed.usage,
            finish_reason=choice.finish_reason,
            complete=choice.finish_reason is not None,
            latency_ms=latency_ms,
            ttft_ms=None,
        )

    async def stream_chat(
        self,
        request: ChatRequest,
        *,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> AsyncGenerator[StreamItem, None]:
        """Stream a chat completion: `TextChunk`s, then exactly one `StreamDone`.

        Errors are raised as `OpenRouterError` (with `mid_stream=True` and `partial_text` once
        text was yielded). Closing the generator or cancelling its task closes the connection.
        """
        payload = request.payload()
        payload["stream"] = True
        body = json.dumps(payload, default=str).encode()
        run = self._new_run("/chat/completions", request, on_attempt, stream=True)
        opened, first = await self._retrying(run, lambda: self._open_stream(run, body))
        try:
            piece: TextChunk | None = first
            while piece is not None:
                yield piece
                piece = await opened.next_piece()
            result = opened.result()
            self._record_success(run, result, opened.status)
            result.attempts = list(run.attempts)
        except OpenRouterError as exc:
            self._record_failure(run, exc, opened.status, opened.started, opened.ttft_ms)
            raise
        finally:
            await opened.aclose()
        yield StreamDone(result)

    async def _open_stream(self, run: _Run, body: bytes) -> tuple[_StreamAttempt, TextChunk | None]:
        """One attempt up to the first piece of text (the part that may be retried)."""
        run.attempt_no += 1
        stack = contextlib.AsyncExitStack()
        started = self._clock()
        attempt: _StreamAttempt | None = None
        try:
            await stack.enter_async_context(self._limiter.slot())
            started = self._clock()
            attempt = _StreamAttempt(self, run, stack, started, run.model)
            await attempt.connect(body)
            first = await attempt.next_piece()
        except OpenRouterError as exc:
            await stack.aclose()
            status = attempt.status if attempt else None
            self._record_failure(run, exc, status, started)
            raise self._check_wait(exc) from None
        except BaseException:
            await stack.aclose()
            raise
        return attempt, first

    # ------------------------------------------------------------------ pass-through

    async def relay(
        self,
        api: Api,
        body: Mapping[str, Any] | Encoded,
        *,
        headers: Mapping[str, str] | None = None,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> RelayResult:
        """Send a client's own request body (Anthropic Messages or OpenAI chat) unchanged but
        for `stream: false`, retrying failures that may succeed later; the answer comes back
        as received, with its model, id, usage and text read by a `RelayMeter`. An `Encoded`
        body is sent as it is (its `stream` flag already false)."""
        payload = _relay_payload(body, stream=False)
        run = self._relay_run(api, body, on_attempt, stream=False)
        extra = {**_JSON_HEADERS, **(headers or {})}
        return await self._retrying(run, lambda: self._relay_attempt(run, api, payload, extra))

    async def _relay_attempt(
        self, run: _Run, api: Api, payload: bytes, headers: dict[str, str]
    ) -> RelayResult:
        import aiohttp

        from devflow_tui.openrouter.relay import RelayMeter, RelayResult

        run.attempt_no += 1
        status: int | None = None
        started = self._clock()
        try:
            async with self._limiter.slot():
                started = self._clock()
                try:
                    async with asyncio.timeout_at(run.deadline):
                        response = await self._relay_post(run, payload, headers)
                        async with response:
                            content = await read_capped_parts(response.content.iter_any())
                except aiohttp.ClientError as exc:
                    raise self._relay_transport_error(exc, model=run.model) from None
                except TimeoutError:
                    raise timeout_error(
                        "timeout_ms", self._settings.timeout_ms, model=run.model
                    ) from None
                except ResponseTooLarge as exc:
                    raise invalid_response(exc.what, model=run.model) from None
            status = response.status
            self._check_redirect(status, response.headers)
            if status >= 400:
                raise self._error_from_response(status, response.headers, content, run.model)
            meter = RelayMeter(api, run.model)
            meter.generation_id = response.headers.get("x-generation-id")
            try:
                data = json.loads(content)
            except ValueError:
                raise invalid_response("the body is not JSON", model=run.model) from None
            info = meter.feed_body(data)
            if info is not None:
                raise self._error_from_info(
                    info, meter.model, generation_id=meter.generation_id, partial=meter.text
                )
            result = RelayResult(
                status=status,
                headers=_forwarded(response.headers),
                body=content,
                model=meter.model,
                generation_id=meter.generation_id,
                usage=meter.usage,
                stop_reason=meter.stop_reason,
                text=meter.text,
                complete=True,
                latency_ms=(self._clock() - started) * 1000,
                ttft_ms=None,
                text_only=meter.text_only,
            )
        except OpenRouterError as exc:
            self._record_failure(run, exc, status, started)
            raise self._check_wait(exc) from None
        self._record_success(run, result, status)
        result.attempts = list(run.attempts)
        return result

    async def relay_stream(
        self,
        api: Api,
        body: Mapping[str, Any] | Encoded,
        *,
        headers: Mapping[str, str] | None = None,
        on_attempt: Callable[[AttemptRecord], None] | None = None,
    ) -> RelayStream:
        """Open a streamed pass-through call. Everything up to the first piece of the answer
        (connecting, HTTP errors, error events, a stream start without content) is retried;
        after that, `RelayStream.frames()` hands each event on and raises `OpenRouterError`
        (`mid_stream=True`) after handing on an error event or when the stream breaks. An
        `Encoded` body is sent as it is (its `stream` flag already true)."""
        payload = _relay_payload(body, stream=True)
        run = self._relay_run(api, body, on_attempt, stream=True)
        extra = {**_STREAM_HEADERS, **(headers or {})}
        return await self._retrying(run, lambda: self._open_relay(run, api, payload, extra))

    def _relay_run(
        self,
        api: Api,
        body: Mapping[str, Any] | Encoded,
        on_attempt: Callable[[AttemptRecord], None] | None,
        *,
        stream: bool,
    ) -> _Run:
        from devflow_tui.openrouter.relay import ENDPOINTS, Encoded

        model = body.model if isinstance(body, Encoded) else body.get("model")
        run = _Run(
            request_id=uuid.uuid4().hex[:16],
            endpoint=ENDPOINTS[api],
            model=str(model or "default"),
            stream=stream,
            on_attempt=on_attempt,
        )
        run.deadline += self._settings.timeout_ms / 1000
        return run

    async def _open_relay(
        self, run: _Run, api: Api, payload: bytes, headers: dict[str, str]
    ) -> RelayStream:
        import aiohttp

        from devflow_tui.openrouter.relay import RelayMeter, RelayResult, RelayStream
        from devflow_tui.openrouter.sse_bytes import EventSplitter

        run.attempt_no += 1
        settings = self._settings
        loop = asyncio.get_running_loop()
        stack = contextlib.AsyncExitStack()
        started = self._clock()
        status: int | None = None
        meter = RelayMeter(api, run.model)
        splitter = EventSplitter()
        held: list[bytes] = []  # events read before the answer started
        rest: list[RawEvent] = []  # events that came with the first piece, not metered yet
        ttft: list[float] = []
        try:
            await stack.enter_async_context(self._limiter.slot())
            started = self._clock()
            total_deadline = run.deadline
            first_deadline = min(
                total_deadline, loop.time() + settings.first_token_timeout_ms / 1000
            )
            try:
                async with asyncio.timeout_at(first_deadline):
                    response = await self._relay_post(run, payload, headers)
                    # Closed unless released whole: an answer cut short must not leave a
                    # connection in the pool, and closing it tells OpenRouter to stop.
                    stack.callback(response.close)
                    status = response.status
                    meter.generation_id = response.headers.get("x-generation-id")
                    if status >= 400 or "text/event-stream" not in response.headers.get(
                        "content-type", ""
                    ):
                        self._check_redirect(status, response.headers)
                        body = await read_capped_parts(response.content.iter_any())
                        raise self._error_from_response(status, response.headers, body, run.model)
                    content = response.content
                    # Hold events back until the answer itself starts: up to there a failure
                    # can still be retried or sent to another model, unseen by the caller.
                    while not rest and not meter.has_output and not meter.done:
                        chunk = await content.readany()
                        if not chunk:
                            raise invalid_response(
                                "the stream ended before any answer", model=meter.model
                            )
                        events = splitter.feed(chunk)
                        for index, event in enumerate(events):
                            info = meter.feed_event(event.event, event.data)
                            if info is not None:
                                raise self._error_from_info(
                                    info, meter.model, generation_id=meter.generation_id
                                )
                            held.append(event.raw)
                            if meter.has_output or meter.done:
                                rest = [] if meter.done else events[index + 1 :]
                                break
            except aiohttp.ClientError as exc:
                raise self._relay_transport_error(exc, model=run.model) from None
            except TimeoutError:
                if loop.time() >= total_deadline:
                    raise timeout_error(
                        "timeout_ms", settings.timeout_ms, model=run.model
                    ) from None
                raise timeout_error(
                    "first_token_timeout_ms", settings.first_token_timeout_ms, model=run.model
                ) from None
            except ResponseTooLarge as exc:
                raise invalid_response(exc.what, model=run.model) from None
        except OpenRouterError as exc:
            await stack.aclose()
            self._record_failure(run, exc, status, started)
            raise self._check_wait(exc) from None
        except BaseException:
            await stack.aclose()
            raise
        ttft.append((self._clock() - started) * 1000)
        chunk_s = self._chunk_timeout_s
        forwarded = _forwarded(response.headers)

        def result() -> RelayResult:
            return RelayResult(
                status=status or 200,
                headers=forwarded,
                body=b"",
                model=meter.model,
                generation_id=meter.generation_id,
                usage=meter.usage,
                stop_reason=meter.stop_reason,
                text=meter.text,
                complete=meter.done,
                latency_ms=(self._clock() - started) * 1000,
                ttft_ms=ttft[0],
                attempts=list(run.attempts),
                text_only=meter.text_only,
            )

        def mid_stream(info: ErrorInfo) -> OpenRouterError:
            return self._error_from_info(
                info, meter.model, generation_id=meter.generation_id, partial=meter.text or " "
            )

        async def frames() -> AsyncGenerator[bytes, None]:
            # The events that arrived together go on as one piece, as the bytes they came as.
            try:
                pieces, info = _metered(meter, rest)
                yield b"".join(held + pieces)
                if info is not None:
                    raise mid_stream(info)
                last_progress = loop.time()
                while not meter.done:
                    # Answering: only a stall stops it, as for `devflow ask` (see next_piece),
                    # counted from the last event that is not a ping (keep-alive comments
                    # carry no event): they cannot keep a stalled answer open for ever.
                    deadline = last_progress + chunk_s
                    try:
                        async with asyncio.timeout_at(deadline):
                            chunk = await content.readany()
                        events = splitter.feed(chunk) if chunk else None
                    except aiohttp.ClientError as exc:
                        raise self._relay_transport_error(
                            exc, model=meter.model, mid_stream=True, partial=meter.text
                        ) from None
                    except TimeoutError:
                        raise timeout_error(
                            "chunk_timeout_ms",
                            settings.chunk_timeout_ms,
                            model=meter.model,
                            mid_stream=True,
                            partial_text=meter.text,
                        ) from None
                    except ResponseTooLarge as exc:
                        raise invalid_response(
                            exc.what, model=meter.model, mid_stream=True, partial_text=meter.text
                        ) from None
                    if events is None:
                        raise invalid_response(
                            "the stream ended before its end event",
                            model=meter.model,
                            mid_stream=True,
                        )
                    if any(event.event != "ping" for event in events):
                        last_progress = loop.time()
                    pieces, info = _metered(meter, events)
                    if pieces:
                        yield b"".join(pieces)
                    if info is not None:
                        raise mid_stream(info)
                # Read the body's end, so the connection goes back to the pool.
                with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                    async with asyncio.timeout(_DRAIN_AFTER_DONE_S):
                        while await content.readany():
                            pass
                        response.release()
            except OpenRouterError as exc:
                exc.mid_stream = True
                exc.retryable = False
                exc.generation_id = exc.generation_id or meter.generation_id
                self._record_failure(run, exc, status, started, ttft[0])
                raise
            finally:
                await stack.aclose()
            self._record_success(run, result(), status)

        generator = frames()

        async def close() -> None:
            await generator.aclose()
            await stack.aclose()

        return RelayStream(api, status or 200, forwarded, meter, generator, result, close)

    # ------------------------------------------------------------------ other endpoints

    async def list_models(self) -> list[ModelInfo]:
        """The model catalog (GET /models)."""
        parsed = await self._get("/models", ModelsResponse)
        return parsed.data

    async def get_generation(self, generation_id: str, *, wait_s: float = 3.0) -> Generation:
        """Stats and exact cost of one generation (GET /generation?id=...).

        Right after a completion OpenRouter may answer 404 for a while; this keeps asking
        (sleeping with the injected sleep) until `wait_s` seconds of waiting are used up.
        """
        waited = 0.0
        while True:
            try:
                parsed = await self._get(
                    "/generation", GenerationResponse, params={"id": generation_id}
                )
            except OpenRouterError as exc:
                if exc.status != 404 or waited >= wait_s:
                    raise
                pause = min(GENERATION_POLL_S, wait_s - waited)
                self.poll_waits.append(pause)
                await self._sleep(pause)
                waited += pause
                continue
            return parsed.data

    async def get_key(self) -> KeyInfo:
        """Limits and usage of the calling key: GET /key, or the legacy /auth/key on 404."""
        try:
            parsed = await self._get("/key", KeyResponse)
        except OpenRouterError as exc:
            if exc.status != 404:
                raise
            parsed = await self._get("/auth/key", KeyResponse)
        return parsed.data

    async def get_credits(self) -> Credits | None:
        """Account credits (GET /credits); None when the key may not see them (401/403)."""
        try:
            parsed = await self._get("/credits", CreditsResponse)
        except OpenRouterError as exc:
            if exc.status in (401, 403):
                return None
            raise
        return parsed.data

    async def _get(
        self, endpoint: str, model: type[_M], *, params: Mapping[str, str] | None = None
    ) -> _M:
        run = _Run(request_id=uuid.uuid4().hex[:16], endpoint=endpoint, model="-")
        run.deadline += self._settings.timeout_ms / 1000
        return await self._retrying(run, lambda: self._get_attempt(run, endpoint, model, params))

    async def _get_attempt(
        self,
        run: _Run,
        endpoint: str,
        model: type[_M],
        params: Mapping[str, str] | None,
    ) -> _M:
        run.attempt_no += 1
        status: int | None = None
        started = self._clock()
        try:
            async with self._limiter.slot():
                started = self._clock()
                response, payload = await self._fetch(
                    run, "GET", endpoint.lstrip("/"), params=params
                )
            status = response.status_code
            self._check_redirect(status, response.headers)
            if status >= 400:
                raise self._error_from_response(status, response.headers, payload, None)
            try:
                data = json.loads(payload, parse_float=Decimal)
                parsed = model.model_validate(data)
            except (ValueError, ValidationError):
                info = parse_error_body(payload)
                if info is not None:
                    raise self._error_from_info(info, None) from None
                raise invalid_response(f"unexpected body from {endpoint}") from None
        except OpenRouterError as exc:
            self._record_failure(run, exc, status, started, notify=False)
            raise self._check_wait(exc) from None
        self._log(
            CallEntry(
                endpoint=endpoint,
                request_id=run.request_id,
                attempt=run.attempt_no,
                status=status,
                latency_ms=round((self._clock() - started) * 1000, 3),
                wait_before_s=run.wait_before_s or None,
            )
        )
        return parsed

    async def _fetch(
        self, run: _Run, method: str, url: str, **kwargs: Any
    ) -> tuple[httpx.Response, bytes]:
        """One request and its (bounded) body, within the call's total deadline."""
        model = None if run.model == "-" else run.model
        try:
            async with (
                asyncio.timeout_at(run.deadline),
                self._http.stream(method, url, **kwargs) as response,
            ):
                return response, await read_capped(response)
        except TimeoutError:
            raise timeout_error("timeout_ms", self._settings.timeout_ms, model=model) from None
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, model=model) from None
        except ResponseTooLarge as exc:
            raise invalid_response(exc.what, model=model) from None

    # ------------------------------------------------------------------ retries

    def _new_run(
        self,
        endpoint: str,
        request: ChatRequest,
        on_attempt: Callable[[AttemptRecord], None] | None,
        *,
        stream: bool,
    ) -> _Run:
        model = request.model or (request.models[0] if request.models else "default")
        prompt = [m.model_dump(exclude_none=True) for m in request.messages]
        run = _Run(
            request_id=uuid.uuid4().hex[:16],
            endpoint=endpoint,
            model=model,
            stream=stream,
            on_attempt=on_attempt,
            prompt=prompt if self._call_log and self._call_log.log_prompts else None,
        )
        run.deadline += self._settings.timeout_ms / 1000
        return run

    async def _retrying(self, run: _Run, attempt: Callable[[], Awaitable[_T]]) -> _T:
        """`attempt`, again while it fails in a way that may succeed later. The first attempt
        runs as it is: nearly every call succeeds at once, and tenacity's loop around it
        (its state objects, hooks and outcome futures) was ~6% of a proxied request's CPU
        time. Tenacity takes over from the first retry, counting the first attempt."""

        async def sleep(seconds: float) -> None:
            self.retry_waits.append(seconds)
            run.wait_before_s = seconds
            await self._sleep(seconds)

        try:
            return await attempt()
        except OpenRouterError as exc:
            if not self._will_retry(run, exc):
                raise
            await sleep(self._backoff(exc, 1))
        retrying = AsyncRetrying(
            sleep=sleep,
            stop=stop_never,  # `_will_retry` counts the attempts and watches the deadline
            wait=lambda state: self._backoff(
                state.outcome.exception() if state.outcome else None, state.attempt_number + 1
            ),
            retry=retry_if_exception(
                lambda exc: isinstance(exc, OpenRouterError) and self._will_retry(run, exc)
            ),
            reraise=True,
        )

        async def again() -> _T:
            # tenacity only awaits what is a coroutine *function*, not a lambda returning one.
            return await attempt()

        return await retrying(again)

    def _backoff(self, exc: BaseException | None, failed: int) -> float:
        """The wait after `failed` attempts: the server's when it gave one, else full-jitter
        exponential backoff."""
        cap = self._settings.max_retry_wait_s
        server = exc.retry_after_s if isinstance(exc, OpenRouterError) else None
        if server is not None:
            return min(server, cap)
        ceiling = min(cap, self._settings.backoff_base_s * 2 ** (failed - 1))
        return self._rng.uniform(0.0, ceiling)

    def _will_retry(self, run: _Run, exc: OpenRouterError) -> bool:
        """Whether this failed attempt is followed by another of the same request: the one
        place that says so, read by the retry loop and reported on the attempt record.
        `timeout_ms` is a total: no new attempt once it ran out (the last backoff may end
        after it, and that attempt then fails at once with the total timeout)."""
        if not exc.retryable or run.attempt_no > self._settings.max_retries:
            return False
        if asyncio.get_running_loop().time() >= run.deadline:
            return False
        return self._check_wait(exc) is exc

    def _check_wait(self, exc: OpenRouterError) -> OpenRouterError:
        """A retryable error whose server wait exceeds the cap fails now, saying when to retry."""
        cap = self._settings.max_retry_wait_s
        if exc.retryable and exc.retry_after_s is not None and exc.retry_after_s > cap:
            return wait_too_long(exc, exc.retry_after_s, cap, self._clock())
        return exc

    # ------------------------------------------------------------------ errors and records

    def _transport_error(
        self,
        exc: Exception,
        *,
        model: str | None,
        mid_stream: bool = False,
        partial: str = "",
        kind: TransportFailure | None = None,
    ) -> OpenRouterError:
        return transport_error(
            exc,
            base_url=self._settings.base_url,
            model=model,
            mid_stream=mid_stream,
            partial_text=partial,
            connect_timeout_ms=self._settings.connect_timeout_ms,
            kind=kind,
        )

    def _check_redirect(self, status: int, headers: Mapping[str, str]) -> None:
        if status in _REDIRECTS and "location" in headers:
            raise redirect_error(status, headers.get("location"), base_url=self._settings.base_url)

    def _error_from_response(
        self, status: int, headers: Mapping[str, str], payload: bytes, model: str | None
    ) -> OpenRouterError:
        error = error_from_response(
            status,
            payload,
            headers=headers,
            model=model,
            api_key=self._api_key,
            now_s=self._clock(),
        )
        error.generation_id = headers.get("x-generation-id")
        return error

    def _error_from_info(
        self,
        info: ErrorInfo,
        model: str | None,
        *,
        generation_id: str | None = None,
        partial: str = "",
    ) -> OpenRouterError:
        return error_from_info(
            info,
            http_status=200,
            model=model,
            api_key=self._api_key,
            now_s=self._clock(),
            partial_text=partial,
            generation_id=generation_id,
        )

    def _add_attempt(self, run: _Run, record: AttemptRecord, notify: bool = True) -> None:
        run.attempts.append(record)
        if notify and run.on_attempt is not None:
            run.on_attempt(record)

    def _record_failure(
        self,
        run: _Run,
        exc: OpenRouterError,
        status: int | None,
        started: float,
        ttft_ms: float | None = None,
        *,
        notify: bool = True,
    ) -> None:
        latency_ms = (self._clock() - started) * 1000
        record = AttemptRecord(
            model=exc.model or run.model,
            status=status,
            error=exc.category.value,
            message=exc.message,
            latency_ms=latency_ms,
            wait_before_s=run.wait_before_s,
            retried=self._will_retry(run, exc),
        )
        if notify:
            self._add_attempt(run, record)
        self._log(
            CallEntry(
                endpoint=run.endpoint,
                request_id=run.request_id,
                generation_id=exc.generation_id,
                model=record.model if run.model != "-" else None,
                attempt=run.attempt_no,
                status=status,
                error=exc.category.value,
                message=exc.message,
                latency_ms=round(latency_ms, 3),
                ttft_ms=round(ttft_ms, 3) if ttft_ms is not None else None,
                wait_before_s=run.wait_before_s or None,
                stream=run.stream if run.model != "-" else None,
                extra={"mid_stream": True} if exc.mid_stream else {},
            ),
            prompt=run.prompt,
        )

    def _record_success(
        self, run: _Run, result: ChatResult | RelayResult, status: int | None
    ) -> None:
        record = AttemptRecord(
            model=result.model or run.model,
            status=status,
            latency_ms=result.latency_ms,
            wait_before_s=run.wait_before_s,
        )
        self._add_attempt(run, record)
        usage = result.usage
        self._log(
            CallEntry(
                endpoint=run.endpoint,
                request_id=run.request_id,
                generation_id=result.generation_id,
                model=record.model,
                attempt=run.attempt_no,
                status=status,
                latency_ms=round(result.latency_ms, 3),
                ttft_ms=round(result.ttft_ms, 3) if result.ttft_ms is not None else None,
                prompt_tokens=usage.prompt_tokens if usage else None,
                completion_tokens=usage.completion_tokens if usage else None,
                cost_usd=usage.cost if usage else None,
                wait_before_s=run.wait_before_s or None,
                stream=run.stream,
                complete=result.complete,
            ),
            prompt=run.prompt,
        )

    def _log(self, entry: CallEntry, prompt: list[dict[str, Any]] | None = None) -> None:
        if self._call_log is None:
            return
        try:
            self._call_log.record(entry, prompt=prompt)
        except OSError as exc:  # a full disk must not break the call itself
            _log.warning("cannot write the API call log: %s", exc)


def _relay_payload(body: Mapping[str, Any] | Encoded, *, stream: bool) -> bytes:
    """A client's body as sent on (an `Encoded` one as it is)."""
    from devflow_tui.openrouter.relay import Encoded, encode_body

    return body.payload if isinstance(body, Encoded) else encode_body(body, stream=stream)


def _metered(meter: RelayMeter, events: list[RawEvent]) -> tuple[list[bytes], ErrorInfo | None]:
    """The bytes of `events` to send on, read by `meter` in order up to the answer's end or
    an error event (sent on too, then raised by the caller); later ones are dropped."""
    pieces: list[bytes] = []
    for event in events:
        info = meter.feed_event(event.event, event.data)
        pieces.append(event.raw)
        if info is not None or meter.done:
            return pieces, info
    return pieces, None


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    """The response headers a pass-through caller gets back."""
    from devflow_tui.openrouter.relay import FORWARDED_HEADERS

    return {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
