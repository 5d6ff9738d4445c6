"""The proxy's ASGI app (Starlette): the Anthropic Messages API and the OpenAI chat API in
front of the gateway, plus models, health and metrics.

Every request needs a proxy token (`Authorization: Bearer` or `x-api-key`), except `/` and
`/health`. The OpenRouter key stays inside the gateway's client: no route returns it, and
upstream errors are re-worded by the gateway before they get here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from devflow_tui.accounting.members import CACHE_TTL_S as MEMBER_CACHE_TTL_S
from devflow_tui.accounting.members import TOKEN_PREFIX as MEMBER_TOKEN_PREFIX
from devflow_tui.accounting.members import Members
from devflow_tui.config import Settings
from devflow_tui.errors import BudgetExceededError, DevflowError
from devflow_tui.gateway.events import GatewayEvent, RequestOutcome
from devflow_tui.gateway.passthrough import Passthrough, PassthroughRequest, UpstreamError
from devflow_tui.gateway.pipeline import Gateway
from devflow_tui.openrouter.relay import Api
from devflow_tui.routing.names import UnknownModelError, setting_where
from devflow_tui.serve.clients import client_name
from devflow_tui.serve.metrics import CONTENT_TYPE, ProxyMetrics
from devflow_tui.serve.model_map import ModelMap
from devflow_tui.serve.requests import (
    COUNT_HEADER,
    COUNT_METHOD,
    FORWARDED,
    BadRequest,
    anthropic_request,
    count_tokens,
    error_body,
    no_cache_asked,
    openai_request,
)
from devflow_tui.serve.tokens import ProxyTokens

log = logging.getLogger(__name__)

GatewayOpener = Callable[[Settings], Awaitable[Gateway]]
EventSink = Callable[[GatewayEvent], None]


@dataclass
class ProxyState:
    """What the routes share; `gateway` is set once the app has started."""

    settings: Settings
    tokens: ProxyTokens
    metrics: ProxyMetrics = field(default_factory=ProxyMetrics)
    gateway: Gateway | None = None
    passthrough: Passthrough | None = None
    model_map: ModelMap | None = None
    started: float = field(default_factory=time.time)
    on_event: EventSink | None = None
    members: Members | None = None
    startup_error: DevflowError | None = None  # why the app refused to start (settings)

    def attach(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.members = Members(gateway.store, cache_ttl_s=MEMBER_CACHE_TTL_S)
        self.model_map = ModelMap(
            self.settings.serve.models,
            gateway.selector.names,
            where=lambda key: setting_where(self.settings, f'[serve.models] "{key}"'),
            note=gateway.client.note,
        )
        self.passthrough = Passthrough(gateway, self.on_event, self._observe)

    def _observe(self, request: PassthroughRequest, outcome: RequestOutcome) -> None:
        self.metrics.observe(request.api, request.client, outcome)


def create_app(
    settings: Settings,
    tokens: ProxyTokens,
    *,
    gateway: Gateway | None = None,
    opener: GatewayOpener | None = None,
    on_event: EventSink | None = None,
    on_ready: Callable[[], None] | None = None,
) -> Starlette:
    """The proxy app. With `gateway` it serves that one (and leaves it open); otherwise it
    opens its own with `opener` (default `open_gateway`) at startup and closes it at exit.
    `on_ready` runs once start-up has succeeded (`devflow serve` announces itself then)."""
    state = ProxyState(settings, tokens, on_event=on_event)
    if gateway is not None:
        state.attach(gateway)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        owned: Gateway | None = None
        if state.gateway is None:
            if opener is None:
                from devflow_tui.compose import open_gateway

                owned = await open_gateway(settings)
            else:
                owned = await opener(settings)
            try:
                state.attach(owned)
            except DevflowError as exc:  # a [serve.models] target that is no model
                state.startup_error = exc
                await owned.aclose()
                raise
        if on_ready is not None:
            on_ready()
        reconciler = asyncio.create_task(_reconcile_forever(state))
        try:
            yield
        finally:
            reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reconciler
            if owned is not None:
                await owned.aclose()

    routes = [
        Route("/", _root, methods=["GET", "HEAD"]),
        Route("/health", _health, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
        Route("/v1/models", _models, methods=["GET"]),
        Route("/v1/messages", _messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", _count_tokens, methods=["POST"]),
        Route("/v1/chat/completions", _chat, methods=["POST"]),
    ]
    app = _ProxyApp(routes=routes, lifespan=lifespan)
    app.state.proxy = state
    return app


class _ProxyApp(Starlette):
    """Starlette, but a start-up refused by a settings error (`ProxyState.startup_error`) is
    left for `devflow serve` to say in its own words: uvicorn would print the traceback that
    Starlette puts in the failure message."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await super().__call__(scope, receive, send)
            return

        async def without_traceback(message: Message) -> None:
            refused = self.state.proxy.startup_error is not None
            if refused and message["type"] == "lifespan.startup.failed":
                message = {"type": message["type"], "message": ""}
            await send(message)

        await super().__call__(scope, receive, without_traceback)


async def _reconcile_forever(state: ProxyState) -> None:
    """Fetch billed costs of recent requests from /generation every few seconds."""
    while True:
        await asyncio.sleep(state.settings.serve.reconcile_seconds)
        if state.gateway is None:
            continue
        try:
            await state.gateway.reconcile(limit=50)
        except DevflowError as exc:  # offline for a while: the next round catches up
            log.info("reconcile failed: %s", exc)


# ---------------------------------------------------------------------- plumbing


def _state(request: Request) -> ProxyState:
    state: ProxyState = request.app.state.proxy
    return state


def _error(
    api: Api, status: int, message: str, kind: str | None = None, **fields: str
) -> JSONResponse:
    return JSONResponse(error_body(api, status, message, kind, **fields), status_code=status)


def _unknown_model(api: Api, exc: UnknownModelError) -> JSONResponse:
    """A model name that resolves to nothing, as each API says it: Anthropic's 404
    `not_found_error`, OpenAI's 404 `model_not_found` on the `model` parameter."""
    if api == "anthropic":
        return _error(api, 404, str(exc), "not_found_error")
    return _error(
        api, 404, str(exc), "invalid_request_error", code="model_not_found", param="model"
    )


@dataclass(frozen=True)
class Caller:
    """Who sent a request: a proxy token's label, or a team member (by their token)."""

    label: str
    member: str | None = None


async def _authorize(request: Request, api: Api) -> Caller | Response:
    """The caller, or the 401 answer. A team member's token is looked up in the database
    (off the event loop), so a removed member or a rotated token stops working at once in
    every instance sharing it."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    presented = value.strip() if scheme.lower() == "bearer" else ""
    presented = presented or request.headers.get("x-api-key", "").strip()
    if not presented:
        return _error(
            api,
            401,
            "No proxy token: send `Authorization: Bearer <token>` (see `devflow serve "
            "--print-env`).",
        )
    state = _state(request)
    label = state.tokens.label_of(presented)
    if label is not None:
        return Caller(label)
    if state.members is not None and presented.startswith(MEMBER_TOKEN_PREFIX):
        member = await asyncio.to_thread(state.members.authenticate, presented)
        if member is not None:
            return Caller(member, member)
    return _error(api, 401, "Wrong proxy token. `devflow serve --print-env` shows the right one.")


async def _json(request: Request) -> Any:
    # Read as a stream, not with `request.body()`, which keeps the bytes on the request for
    # as long as the response streams (a Claude Code request is ~65-80 KB).
    body = b"".join([chunk async for chunk in request.stream()])
    try:
        return orjson.loads(body)
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON ({exc}).") from None


def _ready(state: ProxyState) -> tuple[Passthrough, ModelMap]:
    assert state.passthrough is not None and state.model_map is not None
    return state.passthrough, state.model_map


# ---------------------------------------------------------------------- routes


async def _root(request: Request) -> Response:
    return JSONResponse({"name": "devflow serve", "apis": ["/v1/messages", "/v1/chat/completions"]})


async def _health(request: Request) -> Response:
    state = _state(request)
    gateway = state.gateway
    return JSONResponse(
        {
            "status": "ok" if gateway is not None else "starting",
            "models": len(gateway.catalog) if gateway is not None else 0,
            "demo": bool(gateway and gateway.demo),
            "uptime_s": round(time.time() - state.started, 1),
        }
    )


async def _metrics(request: Request) -> Response:
    caller = await _authorize(request, "openai")
    if isinstance(caller, Response):
        return caller
    return Response(_state(request).metrics.render(), media_type=CONTENT_TYPE)


async def _models(request: Request) -> Response:
    caller = await _authorize(request, "openai")
    if isinstance(caller, Response):
        return caller
    state = _state(request)
    assert state.gateway is not None
    entries: list[dict[str, Any]] = [_model_entry("auto", "devflow routing", 0)]
    entries += [_model_entry(name, "devflow mapping", 0) for name in state.settings.serve.models]
    for model in state.gateway.catalog:
        entries.append(_model_entry(model.id, model.name, model.created or 0))
    return JSONResponse(
        {
            "object": "list",
            "data": entries,
            "has_more": False,
            "first_id": entries[0]["id"],
            "last_id": entries[-1]["id"],
        }
    )


def _model_entry(model_id: str, name: str, created: int) -> dict[str, Any]:
    """One model in both the OpenAI and the Anthropic list shapes."""
    return {
        "id": model_id,
        "object": "model",
        "type": "model",
        "created": created,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "owned_by": model_id.split("/")[0] if "/" in model_id else "devflow",
        "display_name": name,
    }


async def _messages(request: Request) -> Response:
    return await _proxy(request, "anthropic")


async def _chat(request: Request) -> Response:
    return await _proxy(request, "openai")


async def _count_tokens(request: Request) -> Response:
    caller = await _authorize(request, "anthropic")
    if isinstance(caller, Response):
        return caller
    try:
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise BadRequest("messages: Field required (a list of messages).")
    except BadRequest as exc:
        return _error("anthropic", 400, str(exc))
    # An estimate, and the response says so: OpenRouter has no token-counting endpoint.
    return JSONResponse(
        {"input_tokens": count_tokens(body)},
        headers={COUNT_HEADER: COUNT_METHOD},
    )


async def _proxy(request: Request, api: Api) -> Response:
    caller = await _authorize(request, api)
    if isinstance(caller, Response):
        return caller
    state = _state(request)
    passthrough, model_map = _ready(state)
    headers = request.headers
    # A member's requests name their client by User-Agent; the member is recorded beside it.
    client = client_name(headers.get("user-agent"), None if caller.member else caller.label)
    no_cache = no_cache_asked(headers.get("cache-control"))
    try:
        body = await _json(request)
        name = body.get("model") if isinstance(body, dict) else None
        choice = model_map.choose(name if isinstance(name, str) else None)
        if api == "anthropic":
            forwarded = {k: headers[k] for k in FORWARDED if k in headers}
            wanted = anthropic_request(body, choice, client, forwarded, no_cache=no_cache)
        else:
            wanted = openai_request(body, choice, client, no_cache=no_cache)
    except UnknownModelError as exc:
        return _unknown_model(api, exc)
    except (BadRequest, DevflowError) as exc:
        return _error(api, 400, str(exc))
    wanted.member = caller.member
    stream = body.get("stream") is True
    del body  # `wanted` holds it until it is encoded, then lets it go
    try:
        if stream:
            opened = await passthrough.open_stream(wanted)
            return SSEResponse(opened.frames, opened.headers, opened.ended)
        result = await passthrough.send(wanted)
    except BudgetExceededError as exc:
        message = f"{exc.message} {exc.hint or ''}".strip()
        return _error(api, 402, message, "billing_error" if api == "anthropic" else None)
    except UpstreamError as exc:
        message = f"{exc.error.message} {exc.error.hint or ''}".strip()
        return _error(api, exc.status, message)
    except DevflowError as exc:  # the proxy's own settings (a misspelled model name): not sent
        return _error(api, 500, str(exc))
    return Response(
        result.body,
        status_code=result.status,
        headers=result.headers,
        media_type="application/json",
    )


class SSEResponse(StreamingResponse):
    """Streams SSE frames as they come; a client that hangs up cancels the upstream call
    (the gateway records the partial answer), and the generator is always closed.

    The response ends with the frame that completes the answer (`ended()`), in the same
    write: the bookkeeping the frames still do after it (reading the upstream body's end,
    the attempt's record, queuing the request's closing job) happens after the client has
    its whole answer, and a hang-up after that no longer cuts it short."""

    def __init__(
        self,
        frames: AsyncGenerator[bytes, None],
        headers: dict[str, str] | None = None,
        ended: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__(
            frames,
            headers={**(headers or {}), "cache-control": "no-cache", "x-accel-buffering": "no"},
            media_type="text/event-stream",
        )
        self.frames = frames
        self.ended = ended
        self.sent = False  # the response is complete: only bookkeeping is left

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            async for frame in self.frames:
                if self.sent:
                    continue  # nothing comes after the end; drain the bookkeeping
                self.sent = self.ended()
                await send(
                    {"type": "http.response.body", "body": frame, "more_body": not self.sent}
                )
            if not self.sent:
                self.sent = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def hang_up() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        pumping = asyncio.create_task(pump())
        watching = asyncio.create_task(hang_up())
        try:
            await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
            if self.sent and not pumping.done():
                await pumping  # the client has it all; the rest is not to be cut short
        finally:
            for task in (pumping, watching):
                task.cancel()
            outcomes = await asyncio.gather(pumping, watching, return_exceptions=True)
            await self.frames.aclose()
        failure = outcomes[0]
        if isinstance(failure, Exception) and not isinstance(failure, OSError):
            log.warning("stream ended with %s", type(failure).__name__)
