"""OpenRouterClient.chat and stream_chat against the simulated server (real HTTP)."""

from __future__ import annotations

import contextlib
from decimal import Decimal

import pytest

from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter.client import OpenRouterClient, StreamDone, StreamItem, TextChunk
from devflow_tui.openrouter.result import AttemptRecord
from devflow_tui.sim import Fault, SimServer
from tests.openrouter.conftest import MODEL, ClientFactory, RecordingSleep, chat_request

STATUSES = [400, 401, 402, 403, 404, 408, 429, 500, 502, 503, 524, 529]
CATEGORY = {
    400: ErrorCategory.USER,
    401: ErrorCategory.AUTH,
    402: ErrorCategory.CREDITS,
    403: ErrorCategory.MODERATION,
    404: ErrorCategory.USER,
    408: ErrorCategory.TIMEOUT,
    429: ErrorCategory.RATE_LIMIT,
    500: ErrorCategory.PROVIDER,
    502: ErrorCategory.PROVIDER,
    503: ErrorCategory.PROVIDER,
    524: ErrorCategory.TIMEOUT,
    529: ErrorCategory.PROVIDER,
}
RETRYABLE = {408, 429, 500, 502, 503, 524, 529}


async def collect(client: OpenRouterClient, **kwargs: object) -> list[StreamItem]:
    return [item async for item in client.stream_chat(chat_request(), **kwargs)]  # type: ignore[arg-type]


def chat_posts(sim: SimServer) -> int:
    return sum(1 for r in sim.requests if r.path == "/chat/completions")


async def test_chat_success_headers_usage_and_attempts(
    client: OpenRouterClient, sim: SimServer, settings: Settings
) -> None:
    seen: list[AttemptRecord] = []
    result = await client.chat(chat_request("write a python function"), on_attempt=seen.append)
    assert result.text.startswith("[simulated answer from openai/gpt-4o-mini]")
    assert result.complete and result.finish_reason == "stop"
    assert result.model == MODEL and result.provider == "OpenAI"
    assert result.generation_id is not None and result.generation_id.startswith("gen-")
    assert result.usage is not None and result.usage.completion_tokens > 0
    billed = sim.generations[result.generation_id]["total_cost"]
    assert result.usage.cost == Decimal(str(billed))
    assert seen == result.attempts and len(seen) == 1 and seen[0].status == 200
    headers = {k.lower(): v for k, v in sim.requests[-1].headers.items()}
    assert headers["http-referer"] == settings.app_url
    assert headers["x-title"] == settings.app_title
    assert headers["x-openrouter-title"] == settings.app_title
    assert headers["authorization"] == "Bearer sk-or-…fa1e"
    assert headers["content-type"] == "application/json"
    assert sim.requests[-1].json["stream"] is False


async def test_stream_success_yields_chunks_then_one_done(
    client: OpenRouterClient, sim: SimServer
) -> None:
    seen: list[AttemptRecord] = []
    items = await collect(client, on_attempt=seen.append)
    *chunks, done = items
    assert isinstance(done, StreamDone)
    assert all(isinstance(c, TextChunk) for c in chunks) and len(chunks) > 3
    result = done.result
    assert result.text == "".join(c.text for c in chunks if isinstance(c, TextChunk))
    assert result.complete and result.finish_reason == "stop"
    assert result.ttft_ms is not None and result.ttft_ms <= result.latency_ms
    assert result.generation_id in sim.generations
    assert result.usage is not None
    assert result.usage.cost == Decimal(str(sim.generations[result.generation_id]["total_cost"]))
    assert seen == result.attempts and len(seen) == 1
    assert sim.requests[-1].json["stream"] is True
    headers = {k.lower(): v for k, v in sim.requests[-1].headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "text/event-stream"
    assert headers["x-title"] == headers["x-openrouter-title"] == "devflow-tui"
    assert "http-referer" in headers and headers["authorization"] == "Bearer sk-or-…fa1e"


@pytest.mark.parametrize("shape", [1, 2, 3])
async def test_stream_usage_shapes(client: OpenRouterClient, sim: SimServer, shape: int) -> None:
    sim.config.usage_shape = shape  # type: ignore[assignment]
    done = (await collect(client))[-1]
    assert isinstance(done, StreamDone)
    usage = done.result.usage
    assert usage is not None and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert done.result.finish_reason == "stop" and done.result.complete


async def test_keepalive_comments_before_and_between_chunks(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="keepalive", count=3))
    items = await collect(client)
    done = items[-1]
    assert isinstance(done, StreamDone) and done.result.complete
    assert sim.requests[-1].faults == ["keepalive"]
    plain = await collect(client)
    assert isinstance(plain[-1], StreamDone)
    assert done.result.text == plain[-1].result.text


async def test_no_authorization_header_without_key(
    make_client: ClientFactory, sim: SimServer
) -> None:
    client = make_client(api_key=None)
    with pytest.raises(OpenRouterError) as info:
        await client.chat(chat_request())
    assert info.value.category is ErrorCategory.AUTH
    assert "No API key" in info.value.message
    assert "authorization" not in {k.lower() for k in sim.requests[-1].headers}
    assert chat_posts(sim) == 1


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("status", STATUSES)
async def test_http_error_statuses(
    client: OpenRouterClient, sim: SimServer, sleeper: RecordingSleep, status: int, stream: bool
) -> None:
    sim.add_fault(Fault(kind="http_error", status=status, times=None))
    seen: list[AttemptRecord] = []
    with pytest.raises(OpenRouterError) as info:
        if stream:
            await collect(client, on_attempt=seen.append)
        else:
            await client.chat(chat_request(), on_attempt=seen.append)
    error = info.value
    assert error.category is CATEGORY[status]
    assert error.status == status and not error.mid_stream
    assert "user_2Simulated" not in str(error) and "user_id" not in error.metadata
    expected_posts = 3 if status in RETRYABLE else 1  # max_retries=2
    assert chat_posts(sim) == expected_posts
    assert len(seen) == expected_posts
    assert all(a.status == status and a.error == CATEGORY[status].value for a in seen)
    assert len(sleeper.waits) == expected_posts - 1 == len(client.retry_waits)
    assert [a.wait_before_s for a in seen[1:]] == client.retry_waits


async def test_retry_then_success_records_every_attempt(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="http_error", status=503, times=2))
    seen: list[AttemptRecord] = []
    result = await client.chat(chat_request(), on_attempt=seen.append)
    assert [a.status for a in seen] == [503, 503, 200]
    assert result.attempts == seen
    # Full jitter: each wait within [0, base * 2**n].
    assert len(client.retry_waits) == 2
    assert 0 <= client.retry_waits[0] <= 0.5 and 0 <= client.retry_waits[1] <= 1.0


async def test_non_stream_200_with_only_error_body(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="error_200", status=400, times=None))
    with pytest.raises(OpenRouterError) as info:
        await client.chat(chat_request())
    assert info.value.category is ErrorCategory.USER and not info.value.retryable
    assert chat_posts(sim) == 1
    sim.clear_faults()
    sim.add_fault(Fault(kind="error_200", status=502, times=1))
    result = await client.chat(chat_request())
    assert result.complete and len(result.attempts) == 2
    assert result.attempts[0].error == "provider" and result.attempts[0].status == 200


async def test_non_stream_choice_level_error_keeps_partial(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="mid_stream_error", status=502, after_chunks=2, times=None))
    with pytest.raises(OpenRouterError) as info:
        await client.chat(chat_request())
    assert info.value.category is ErrorCategory.PROVIDER
    assert info.value.partial_text.startswith("[simulated")
    assert info.value.generation_id is not None and info.value.generation_id.startswith("gen-")


@pytest.mark.parametrize("as_string", [False, True])
async def test_stream_mid_stream_error(
    client: OpenRouterClient, sim: SimServer, as_string: bool
) -> None:
    sim.add_fault(
        Fault(kind="mid_stream_error", status=502, after_chunks=3, code_as_string=as_string)
    )
    received: list[str] = []
    seen: list[AttemptRecord] = []
    with pytest.raises(OpenRouterError) as info:
        async for item in client.stream_chat(chat_request(), on_attempt=seen.append):
            assert isinstance(item, TextChunk)
            received.append(item.text)
    error = info.value
    assert error.mid_stream and not error.retryable
    assert error.category is ErrorCategory.PROVIDER
    assert error.status == (500 if as_string else 502)
    assert error.partial_text == "".join(received) and len(received) == 3
    assert chat_posts(sim) == 1  # never retried once text reached the caller
    assert len(seen) == 1 and seen[0].error == "provider"


async def test_stream_error_as_only_event_is_retried(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="error_200", status=503, times=1))
    items = await collect(client)
    assert isinstance(items[-1], StreamDone)
    attempts = items[-1].result.attempts
    assert [a.error for a in attempts] == ["provider", None]
    sim.add_fault(Fault(kind="error_200", status=402, times=1))
    with pytest.raises(OpenRouterError) as info:
        await collect(client)
    assert info.value.category is ErrorCategory.CREDITS and not info.value.mid_stream


async def test_stream_abrupt_close(client: OpenRouterClient, sim: SimServer) -> None:
    sim.add_fault(Fault(kind="abrupt_close", after_chunks=2))
    received: list[TextChunk] = []
    with pytest.raises(OpenRouterError) as info:
        async for item in client.stream_chat(chat_request()):
            assert isinstance(item, TextChunk)
            received.append(item)
    assert info.value.category is ErrorCategory.NETWORK
    assert info.value.mid_stream and len(received) == 2
    assert info.value.partial_text == "".join(c.text for c in received)
    assert chat_posts(sim) == 1


async def test_abrupt_close_before_first_token_is_retried(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="abrupt_close", after_chunks=0, times=1))
    items = await collect(client)
    assert isinstance(items[-1], StreamDone)
    assert [a.error for a in items[-1].result.attempts] == ["network", None]


async def test_abrupt_close_non_stream(client: OpenRouterClient, sim: SimServer) -> None:
    sim.add_fault(Fault(kind="abrupt_close", times=None))
    with pytest.raises(OpenRouterError) as info:
        await client.chat(chat_request())
    assert info.value.category is ErrorCategory.NETWORK and info.value.retryable
    assert chat_posts(sim) == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_empty_content_with_finish_reason_is_a_complete_empty_answer(
    client: OpenRouterClient, sim: SimServer, stream: bool
) -> None:
    sim.add_fault(Fault(kind="empty_content"))
    if stream:
        done = (await collect(client))[-1]
        assert isinstance(done, StreamDone)
        result = done.result
    else:
        result = await client.chat(chat_request())
    assert result.text == ""
    assert result.finish_reason is not None and result.complete


async def test_served_model_may_differ_from_requested(
    client: OpenRouterClient, sim: SimServer
) -> None:
    sim.add_fault(Fault(kind="http_error", status=503, model=MODEL))
    request = chat_request(models=["anthropic/claude-haiku-4.5"])
    result = await client.chat(request)
    assert result.model == "anthropic/claude-haiku-4.5"
    assert len(result.attempts) == 1 and result.attempts[0].model == "anthropic/claude-haiku-4.5"


async def test_first_token_timeout_is_retried(
    make_client: ClientFactory, settings: Settings, sim: SimServer
) -> None:
    # The retry must see its first token within the limit even on a loaded machine, so the
    # limit is generous and the stalled first attempt stalls far longer.
    fast = settings.model_copy(update={"first_token_timeout_ms": 2_000})
    client = make_client(fast)
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=20_000, times=1))
    items = await collect(client)
    assert isinstance(items[-1], StreamDone)
    first = items[-1].result.attempts[0]
    assert first.error == "timeout" and first.status == 200
    assert first.message is not None and "first_token_timeout_ms=2000" in first.message
    assert len(client.retry_waits) == 1


async def test_first_token_timeout_exhausted(
    make_client: ClientFactory, settings: Settings, sim: SimServer
) -> None:
    fast = settings.model_copy(update={"first_token_timeout_ms": 100, "max_retries": 0})
    client = make_client(fast)
    sim.add_fault(Fault(kind="slow_first_token", delay_ms=3_000, times=1))
    with pytest.raises(OpenRouterError) as info:
        await collect(client)
    assert info.value.category is ErrorCategory.TIMEOUT
    assert info.value.retryable and not info.value.mid_stream
    assert "first_token_timeout_ms=100" in info.value.message


async def test_an_answer_still_arriving_is_not_cut_by_the_total_time(
    make_client: ClientFactory, settings: Settings, sim: SimServer
) -> None:
    """timeout_ms bounds getting an answer started; a healthy stream that outlasts it used to
    be cut (a 3,000-token essay at 30 tokens/s stopped at 30 s)."""
    from devflow_tui.sim.profiles import ModelProfile

    sim.config.time_scale = 1.0
    sim.config.answer_tokens = 60
    sim.config.profiles[MODEL] = ModelProfile(ttft_ms=10, tokens_per_s=60)  # ~1 s of stream
    client = make_client(settings.model_copy(update={"timeout_ms": 400, "max_retries": 0}))
    items = await collect(client)
    done = items[-1]
    assert isinstance(done, StreamDone) and done.result.usage is not None
    assert done.result.usage.completion_tokens >= 60
    assert done.result.attempts[-1].error is None


async def test_closing_the_generator_early_is_clean(client: OpenRouterClient) -> None:
    async with contextlib.aclosing(client.stream_chat(chat_request())) as stream:
        async for item in stream:
            assert isinstance(item, TextChunk)
            break
    # The client is still usable afterwards.
    assert (await client.chat(chat_request())).complete
