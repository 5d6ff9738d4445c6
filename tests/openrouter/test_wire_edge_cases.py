"""Wire shapes the simulator does not emit, served byte for byte by a raw server on 127.0.0.1:
a malformed chunk, a stream cut without [DONE], stalls, JSON where SSE was expected."""

from __future__ import annotations

import json
import socket
from decimal import Decimal

import pytest

from devflow_tui.accounting.pricing import resolve_cost
from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.client import OpenRouterClient, StreamDone, StreamItem, TextChunk
from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.openrouter.wire import Generation
from devflow_tui.sim import Fault, SimServer
from tests.openrouter.conftest import RecordingSleep, chat_request
from tests.openrouter.raw_server import (
    CLOSE,
    END,
    RawServer,
    chunk,
    event,
    json_response,
    raw_server,
    sse_head,
)


def text_event(text: str, finish: str | None = None) -> bytes:
    payload = {
        "id": "gen-1-raw",
        "model": "m/raw",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}],
    }
    return event(json.dumps(payload))


def client_for(
    server: RawServer, settings: Settings, fake_key: str, **updates: object
) -> OpenRouterClient:
    local = settings.model_copy(update={"base_url": server.base_url, "max_retries": 0, **updates})
    return OpenRouterClient(local, api_key=fake_key, sleep=RecordingSleep())


async def run_stream(client: OpenRouterClient) -> tuple[list[StreamItem], OpenRouterError | None]:
    items: list[StreamItem] = []
    try:
        async for item in client.stream_chat(chat_request()):
            items.append(item)
    except OpenRouterError as exc:
        return items, exc
    return items, None


async def test_malformed_json_chunk(settings: Settings, fake_key: str) -> None:
    script = [sse_head(), text_event("Hi"), event("{not json"), END]
    async with raw_server([script]) as server, client_for(server, settings, fake_key) as client:
        items, error = await run_stream(client)
    assert items == [TextChunk("Hi")]
    assert error is not None and error.category is ErrorCategory.INVALID_RESPONSE
    assert error.mid_stream and error.partial_text == "Hi"


async def test_stream_ending_without_done_or_finish_reason(
    settings: Settings, fake_key: str
) -> None:
    script = [sse_head(), chunk(b": OPENROUTER PROCESSING\n\n"), text_event("Hal"), END]
    async with raw_server([script]) as server, client_for(server, settings, fake_key) as client:
        items, error = await run_stream(client)
    assert items == [TextChunk("Hal")]
    assert error is not None and error.category is ErrorCategory.NETWORK
    assert "before the answer was complete" in error.message and error.mid_stream


async def test_finish_reason_without_done_is_complete(settings: Settings, fake_key: str) -> None:
    script = [sse_head(), text_event("Done"), text_event("", "stop"), END]
    async with raw_server([script]) as server, client_for(server, settings, fake_key) as client:
        items, error = await run_stream(client)
    assert error is None and isinstance(items[-1], StreamDone)
    assert items[-1].result.complete and items[-1].result.text == "Done"
    assert items[-1].result.generation_id == "gen-1-raw"
    assert items[-1].result.usage is None  # usage is optional; never required


async def test_server_holding_the_body_open_after_done(settings: Settings, fake_key: str) -> None:
    script = [sse_head(), text_event("ok", "stop"), event("[DONE]"), 2.0, END]
    async with raw_server([script]) as server, client_for(server, settings, fake_key) as client:
        items, error = await run_stream(client)
    assert error is None and isinstance(items[-1], StreamDone)
    assert items[-1].result.text == "ok"


async def test_chunk_timeout_mid_stream(settings: Settings, fake_key: str) -> None:
    script = [sse_head(), text_event("slow"), 3.0, END]
    async with (
        raw_server([script]) as server,
        client_for(server, settings, fake_key, chunk_timeout_ms=100) as client,
    ):
        items, error = await run_stream(client)
    assert items == [TextChunk("slow")]
    assert error is not None and error.category is ErrorCategory.TIMEOUT
    assert error.mid_stream and "chunk_timeout_ms=100" in error.message
    assert error.partial_text == "slow" and error.generation_id == "gen-1-raw"


async def test_total_timeout_bounds_the_start_not_an_answer_arriving(
    settings: Settings, fake_key: str
) -> None:
    """timeout_ms used to cut a healthy stream that outlasted it; now it bounds getting the
    answer started, and only a stall (chunk_timeout_ms) stops an answer that is arriving."""
    steps: list[object] = [sse_head()]
    for index in range(40):
        steps += [text_event(f"t{index}"), 0.01]
    steps += [text_event("", "stop"), event("[DONE]"), END]
    async with (
        raw_server([steps]) as server,
        client_for(server, settings, fake_key, timeout_ms=150) as client,
    ):
        items, error = await run_stream(client)
    assert error is None and isinstance(items[-1], StreamDone)
    assert "".join(i.text for i in items if isinstance(i, TextChunk)).endswith("t39")
    late: list[object] = [sse_head(), 0.5, text_event("late"), END]
    async with (
        raw_server([late]) as server,
        client_for(server, settings, fake_key, timeout_ms=150, max_retries=0) as client,
    ):
        items, error = await run_stream(client)
    assert error is not None and error.category is ErrorCategory.TIMEOUT
    assert "timeout_ms=150" in error.message and not error.mid_stream
    assert error.hint is not None and "OPENROUTER_TIMEOUT_MS" in error.hint


async def test_events_without_text_do_not_keep_a_stalled_answer_open(
    settings: Settings, fake_key: str
) -> None:
    """A stall is counted from the last piece of text: empty deltas every 30 ms re-armed the
    timer, and with timeout_ms no longer bounding an arriving answer, nothing stopped it."""
    stalled = [sse_head(), text_event("Hi"), *([0.03, text_event("")] * 60), END]
    async with (
        raw_server([stalled]) as server,
        client_for(server, settings, fake_key, chunk_timeout_ms=300, timeout_ms=200) as client,
    ):
        _items, error = await run_stream(client)
    assert error is not None and error.mid_stream
    assert "chunk_timeout_ms=300" in error.message and error.partial_text == "Hi"


async def test_json_answer_where_sse_was_expected(settings: Settings, fake_key: str) -> None:
    body = {
        "id": "gen-1-json",
        "model": "m/raw",
        "choices": [{"index": 0, "message": {"content": "whole"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "cost": 0.00001},
    }
    script = [json_response(200, json.dumps(body).encode())]
    async with raw_server([script]) as server, client_for(server, settings, fake_key) as client:
        items, error = await run_stream(client)
    assert error is None
    assert items[0] == TextChunk("whole")
    assert isinstance(items[-1], StreamDone) and items[-1].result.generation_id == "gen-1-json"


async def test_error_page_for_a_stream(settings: Settings, fake_key: str) -> None:
    script = [json_response(502, b"<html>bad gateway</html>", "text/html")]
    async with raw_server([script]) as server, client_for(server, settings, fake_key) as client:
        items, error = await run_stream(client)
    assert items == [] and error is not None
    assert error.category is ErrorCategory.PROVIDER and error.status == 502


@pytest.mark.parametrize(
    ("body", "category"),
    [
        (b"not json", ErrorCategory.INVALID_RESPONSE),
        (b"[1]", ErrorCategory.INVALID_RESPONSE),
        (b'{"choices": "x"}', ErrorCategory.INVALID_RESPONSE),
        (b'{"id": "gen-1-x", "choices": []}', ErrorCategory.INVALID_RESPONSE),
        (
            b'{"choices": [{"message": {"content": ""}, "finish_reason": null}]}',
            ErrorCategory.PROVIDER,
        ),
    ],
)
async def test_bad_non_stream_bodies(
    settings: Settings, fake_key: str, body: bytes, category: ErrorCategory
) -> None:
    async with (
        raw_server([[json_response(200, body)]]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        with pytest.raises(OpenRouterError) as info:
            await client.chat(chat_request())
    assert info.value.category is category


async def test_non_stream_without_finish_reason_is_incomplete(
    settings: Settings, fake_key: str
) -> None:
    body = b'{"choices": [{"message": {"content": "half"}, "finish_reason": null}]}'
    async with (
        raw_server([[json_response(200, body)]]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        result = await client.chat(chat_request())
    assert result.text == "half" and not result.complete


async def test_abrupt_close_of_a_get(settings: Settings, fake_key: str) -> None:
    async with raw_server([[CLOSE]]) as server, client_for(server, settings, fake_key) as client:
        with pytest.raises(OpenRouterError) as info:
            await client.list_models()
    assert info.value.category is ErrorCategory.NETWORK


async def test_invalid_get_body(settings: Settings, fake_key: str) -> None:
    scripts = [
        [json_response(200, b'{"data": "nope"}')],
        [json_response(200, b'{"error": {"code": 500, "message": "x"}}')],
    ]
    async with raw_server(scripts) as server, client_for(server, settings, fake_key) as client:
        with pytest.raises(OpenRouterError) as first:
            await client.list_models()
        with pytest.raises(OpenRouterError) as second:
            await client.list_models()
    assert first.value.category is ErrorCategory.INVALID_RESPONSE
    assert second.value.category is ErrorCategory.PROVIDER


async def test_connection_refused_fails_fast_as_network_down(
    settings: Settings, fake_key: str
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    local = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}/api/v1"})
    sleeper = RecordingSleep()
    seen: list[AttemptRecord] = []
    async with OpenRouterClient(local, api_key=fake_key, sleep=sleeper) as client:
        with pytest.raises(OpenRouterError) as info:
            await client.chat(chat_request(), on_attempt=seen.append)
        with pytest.raises(OpenRouterError) as streamed:
            await run_stream_raise(client)
    # Nothing reached the server: retrying would only make the user wait for the same answer.
    assert info.value.category is ErrorCategory.NETWORK_DOWN and not info.value.retryable
    assert len(seen) == 1 and sleeper.waits == []
    assert "Cannot reach OpenRouter" in info.value.message
    assert streamed.value.category is ErrorCategory.NETWORK_DOWN


async def run_stream_raise(client: OpenRouterClient) -> None:
    async for _ in client.stream_chat(chat_request()):
        pass


async def call(client: OpenRouterClient, what: str) -> None:
    """One call of the kind `what`: a plain chat, a stream read to the end, or a GET."""
    if what == "chat":
        await client.chat(chat_request())
    elif what == "stream":
        await run_stream_raise(client)
    else:
        await client.list_models()


@pytest.mark.parametrize("what", ["chat", "stream", "get"])
async def test_slow_headers_hit_the_deadline(settings: Settings, fake_key: str, what: str) -> None:
    body = b'{"data": []}'
    script = [1.5, json_response(200, body)]
    async with (
        raw_server([script]) as server,
        client_for(
            server, settings, fake_key, timeout_ms=120, first_token_timeout_ms=100
        ) as client,
    ):
        with pytest.raises(OpenRouterError) as info:
            await call(client, what)
    assert info.value.category is ErrorCategory.TIMEOUT and not info.value.mid_stream
    if what == "stream":
        assert "first_token_timeout_ms=100" in info.value.message and info.value.retryable
    else:  # the whole of timeout_ms is gone: nothing left to retry in
        assert info.value.error_type == "total_timeout" and not info.value.retryable


@pytest.mark.parametrize("what", ["chat", "stream", "get"])
async def test_a_server_that_never_sends_headers_is_given_timeout_ms_in_all(
    settings: Settings, fake_key: str, what: str
) -> None:
    """timeout_ms is a total across retries: a silent server is not given a fresh timeout_ms
    for each of max_retries attempts."""
    silent: list[object] = [30.0]
    async with (
        raw_server([silent] * 4) as server,
        client_for(
            server, settings, fake_key, timeout_ms=300, first_token_timeout_ms=10_000, max_retries=3
        ) as client,
    ):
        with pytest.raises(OpenRouterError) as info:
            await call(client, what)
        waits = list(client.retry_waits)
    assert info.value.error_type == "total_timeout" and "timeout_ms=300" in info.value.message
    assert waits == [] and len(server.requests) == 1


async def test_keepalives_only_give_up_at_the_total_timeout(
    sim: SimServer, settings: Settings, fake_key: str
) -> None:
    """A stream of nothing but `: OPENROUTER PROCESSING` comments: each attempt ends at the
    first-token timeout and is retried, until the total of timeout_ms is used up."""
    sim.add_fault(Fault(kind="keepalive", count=2, times=None))
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=30_000, times=None))
    local = settings.model_copy(
        update={"timeout_ms": 400, "first_token_timeout_ms": 150, "max_retries": 20}
    )
    sleeper = RecordingSleep()
    seen: list[AttemptRecord] = []
    async with OpenRouterClient(local, api_key=fake_key, sleep=sleeper) as client:
        with pytest.raises(OpenRouterError) as info:
            async for _ in client.stream_chat(chat_request(), on_attempt=seen.append):
                pass
    error = info.value
    assert error.category is ErrorCategory.TIMEOUT and error.error_type == "total_timeout"
    assert [a.error for a in seen] == ["timeout"] * len(seen)
    # 400 ms hold at most three 150 ms first-token waits, far from the 21 attempts allowed.
    assert 1 <= len(seen) <= 3 and len(sleeper.waits) == len(seen) - 1


IMPOSSIBLE_USAGE = [
    {"prompt_tokens": -5, "completion_tokens": 3, "cost": 0.001},
    {"prompt_tokens": 10**20, "completion_tokens": 3, "cost": 0.001},
    {"prompt_tokens": 5, "completion_tokens": 3, "cost": 1e308},
    {"prompt_tokens": 5, "completion_tokens": 3, "cost": -0.5},
    {"prompt_tokens": 5, "completion_tokens": 3, "cost": float("nan")},
    {"prompt_tokens": 5, "completion_tokens": 3, "cost": float("inf")},
    {"prompt_tokens": 5, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": -1}},
]


@pytest.mark.parametrize("usage", IMPOSSIBLE_USAGE)
async def test_impossible_usage_is_dropped_and_the_answer_kept(
    settings: Settings, fake_key: str, usage: dict[str, object]
) -> None:
    """Negative, non-finite or absurd usage would corrupt budgets and break reports: it is
    ignored (the cost becomes unknown), while the answer itself is kept."""
    final = json.dumps({"id": "gen-1-raw", "choices": [], "usage": usage})  # NaN as JSON NaN
    streamed = [sse_head(), text_event("Hi", "stop"), event(final), event("[DONE]"), END]
    body = {
        "id": "gen-2-raw",
        "model": "m/raw",
        "choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}],
        "usage": usage,
    }
    plain = [json_response(200, json.dumps(body).encode())]
    async with (
        raw_server([streamed, plain]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        items, error = await run_stream(client)
        result = await client.chat(chat_request())
    assert error is None and isinstance(items[-1], StreamDone)
    for answer in (items[-1].result, result):
        assert answer.text == "Hi" and answer.usage is None
        assert resolve_cost(answer.usage, None) == (None, "unknown")


def test_impossible_billed_cost_is_unknown() -> None:
    for cost in ("1e308", "-1", "NaN", "Infinity"):
        generation = Generation.model_validate({"id": "gen-1", "total_cost": Decimal(cost)})
        assert generation.total_cost is None
    assert Generation.model_validate({"id": "g", "total_cost": "0.25"}).total_cost == Decimal(
        "0.25"
    )


@pytest.mark.parametrize("what", ["chat", "stream", "get"])
async def test_redirect_is_reported_as_a_redirect(
    settings: Settings, fake_key: str, what: str
) -> None:
    """A base URL that redirects (http to https, a moved host) is named as such, not as an
    invalid body; the redirect is not followed, so the key is not sent on."""
    moved = (
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://elsewhere.example/api/v1\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    async with (
        raw_server([[moved]] * 4) as server,
        client_for(server, settings, fake_key, max_retries=3) as client,
    ):
        with pytest.raises(OpenRouterError) as info:
            await call(client, what)
    error = info.value
    assert error.category is ErrorCategory.CONFIG and not error.retryable
    assert "redirect (HTTP 301) to https://elsewhere.example/api/v1" in error.message
    assert len(server.requests) == 1
