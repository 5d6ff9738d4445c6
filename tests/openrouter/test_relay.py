"""Pass-through calls (`relay`, `relay_stream`) against the simulated server: both API shapes,
what the meter reads, retries before the first event, and errors after it."""

from __future__ import annotations

from typing import Any

import pytest

from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter import bounded
from devflow_tui.openrouter.relay import RelayMeter, anthropic_error_type, anthropic_usage
from devflow_tui.sim import Fault, SimServer
from tests.openrouter.conftest import ClientFactory
from tests.openrouter.raw_server import END, chunk, raw_server, sse_head
from tests.openrouter.test_wire_edge_cases import client_for

CLAUDE = "anthropic/claude-sonnet-4.5"


def _anthropic(**extra: Any) -> dict[str, Any]:
    return {
        "model": CLAUDE,
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "hello there"}],
        **extra,
    }


def _openai(**extra: Any) -> dict[str, Any]:
    return {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **extra}


async def test_relay_returns_the_body_and_reads_it(
    sim: SimServer, make_client: ClientFactory
) -> None:
    result = await make_client().relay("anthropic", _anthropic(stream=True))
    assert result.status == 200 and result.complete
    assert b'"type":"message"' in result.body
    assert result.model == CLAUDE and result.stop_reason == "end_turn"
    assert result.generation_id == result.headers["x-generation-id"]
    assert result.usage is not None and result.usage.completion_tokens > 0
    assert result.text.startswith("[simulated answer")
    assert sim.requests[-1].json["stream"] is False  # the caller's stream flag is overridden


async def test_relay_forwards_extra_headers(sim: SimServer, make_client: ClientFactory) -> None:
    await make_client().relay("anthropic", _anthropic(), headers={"anthropic-beta": "tools-1"})
    assert sim.requests[-1].headers["anthropic-beta"] == "tools-1"


def _events(frames: list[bytes]) -> list[bytes]:
    """The SSE events in what was handed on (events that arrived together come as one piece)."""
    return [event + b"\n\n" for event in b"".join(frames).split(b"\n\n") if event]


async def test_relay_stream_hands_on_every_event(make_client: ClientFactory) -> None:
    stream = await make_client().relay_stream("anthropic", _anthropic())
    frames = [frame async for frame in stream.frames()]
    events = _events(frames)
    assert events[0].startswith(b"event: message_start\n")
    assert events[-1].startswith(b"event: message_stop\n")
    assert sum(e.startswith(b"event: content_block_delta\n") for e in events) > 1
    result = stream.result()
    assert result.complete and result.ttft_ms is not None
    assert result.usage is not None and result.usage.completion_tokens > 0
    assert "simulated answer" in result.text


async def test_openai_stream_reports_cost(make_client: ClientFactory) -> None:
    stream = await make_client().relay_stream("openai", _openai())
    frames = [frame async for frame in stream.frames()]
    assert _events(frames)[-1] == b"data: [DONE]\n\n"
    usage = stream.result().usage
    assert usage is not None and usage.cost is not None and usage.cost > 0


async def test_failure_before_the_first_event_is_retried(
    sim: SimServer, make_client: ClientFactory
) -> None:
    sim.add_fault(Fault(kind="http_error", status=503, path="/messages"))
    stream = await make_client().relay_stream("anthropic", _anthropic())
    _ = [frame async for frame in stream.frames()]
    assert [a.status for a in stream.result().attempts] == [503, 200]


async def test_error_event_before_any_content_is_retried(
    sim: SimServer, make_client: ClientFactory
) -> None:
    sim.add_fault(Fault(kind="error_200", status=503, path="/messages"))
    stream = await make_client().relay_stream("anthropic", _anthropic())
    _ = [frame async for frame in stream.frames()]
    attempts = stream.result().attempts
    assert [a.error for a in attempts] == ["provider", None]


async def test_mid_stream_error_is_handed_on_then_raised(
    sim: SimServer, make_client: ClientFactory
) -> None:
    sim.add_fault(Fault(kind="mid_stream_error", status=502, path="/messages", after_chunks=2))
    stream = await make_client().relay_stream("anthropic", _anthropic())
    frames: list[bytes] = []
    with pytest.raises(OpenRouterError) as caught:
        async for frame in stream.frames():
            frames.append(frame)
    assert _events(frames)[-1].startswith(b"event: error\n")
    assert caught.value.mid_stream and not caught.value.retryable
    assert caught.value.generation_id is not None


async def test_abrupt_close_mid_stream_raises(sim: SimServer, make_client: ClientFactory) -> None:
    sim.add_fault(Fault(kind="abrupt_close", path="/chat/completions", after_chunks=1))
    stream = await make_client().relay_stream("openai", _openai())
    with pytest.raises(OpenRouterError) as caught:
        async for _ in stream.frames():
            pass
    assert caught.value.mid_stream
    assert stream.result().text


async def test_user_errors_are_not_retried(sim: SimServer, make_client: ClientFactory) -> None:
    sim.add_fault(Fault(kind="http_error", status=400, path="/messages"))
    attempts: list[Any] = []
    with pytest.raises(OpenRouterError) as caught:
        await make_client().relay("anthropic", _anthropic(), on_attempt=attempts.append)
    assert caught.value.category is ErrorCategory.USER and caught.value.status == 400
    assert len(attempts) == 1


async def test_closing_a_stream_early_closes_the_connection(
    sim: SimServer, make_client: ClientFactory
) -> None:
    stream = await make_client().relay_stream("anthropic", _anthropic())
    await stream.aclose()
    assert sim.wait_until_done()


def test_meter_reads_openai_error_bodies_and_anthropic_cache_usage() -> None:
    meter = RelayMeter("openai", "m")
    info = meter.feed_body({"error": {"code": 502, "message": "down"}})
    assert info is not None and info.code == 502
    assert RelayMeter("anthropic", "m").feed_event("error", "not json") is not None
    usage = anthropic_usage(
        {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 2, "cost": 0.5}
    )
    assert usage is not None and usage.prompt_tokens == 15 and usage.cached_tokens == 5
    assert str(usage.cost) == "0.5"
    assert anthropic_error_type(402) == "billing_error"
    assert anthropic_error_type(599) == "api_error" and anthropic_error_type(418).startswith("inv")


async def test_stream_bytes_go_on_as_they_came(settings: Settings, fake_key: str) -> None:
    """Events are handed on as the bytes they arrived as, several at once when they came
    together; comments are dropped; nothing after the end event is sent."""
    start = (
        b'event: message_start\r\ndata: {"type":"message_start","message":{"model":"m"}}\r\n\r\n'
    )
    delta = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta",'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    )
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    script = [
        sse_head(),
        chunk(b": OPENROUTER PROCESSING\n\n" + start),
        0.02,
        chunk(delta[:20]),
        0.02,
        chunk(delta[20:] + delta + b": keep-alive\n\n" + stop + b"data: late\n\n"),
        END,
    ]
    async with raw_server([script]) as server, client_for(server, settings, fake_key) as client:
        stream = await client.relay_stream("anthropic", _anthropic())
        frames = [frame async for frame in stream.frames()]
    assert b"".join(frames) == start.replace(b"\r\n", b"\n") + delta + delta + stop
    assert len(frames) <= 2  # one piece per read at most, however the bytes were cut
    assert stream.result().text == "HiHi" and stream.result().complete


async def test_endless_line_in_a_relayed_stream_is_refused(
    settings: Settings, fake_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bounded, "MAX_LINE_CHARS", 10_000)
    pieces = [chunk(b"data: " + b"x" * 4096)] * 4
    async with (
        raw_server([[sse_head(), *pieces, 30.0]]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        with pytest.raises(OpenRouterError) as caught:
            await client.relay_stream("openai", _openai())
    assert caught.value.category is ErrorCategory.INVALID_RESPONSE
    assert "a line is longer than" in caught.value.message
