"""Pass-through calls against wire shapes the simulator does not produce, served byte for
byte by a raw server on 127.0.0.1: refused connections, redirects, stalls, cut streams,
error pages and oversized bodies arrive as the same typed errors as for `devflow ask`."""

from __future__ import annotations

import gzip
import socket
import ssl
from typing import Any

import aiohttp
import pytest

from devflow_tui.config import Settings
from devflow_tui.errors import ErrorCategory, OpenRouterError
from devflow_tui.openrouter import bounded
from devflow_tui.openrouter.client import OpenRouterClient, env_proxy, relay_tls
from tests.openrouter.conftest import MODEL
from tests.openrouter.raw_server import CLOSE, END, chunk, json_response, raw_server, sse_head
from tests.openrouter.test_wire_edge_cases import client_for, text_event

BODY: dict[str, Any] = {"model": "m/raw", "messages": [{"role": "user", "content": "hi"}]}


async def relayed(client: OpenRouterClient, stream: bool) -> bytes:
    """The relayed answer: a whole body, or every frame of a stream."""
    if not stream:
        return (await client.relay("openai", BODY)).body
    opened = await client.relay_stream("openai", BODY)
    return b"".join([frame async for frame in opened.frames()])


@pytest.mark.parametrize("stream", [False, True])
async def test_connection_refused_is_network_down(
    settings: Settings, fake_key: str, stream: bool
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    local = settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}/api/v1"})
    async with OpenRouterClient(local, api_key=fake_key) as client:
        with pytest.raises(OpenRouterError) as caught:
            await relayed(client, stream)
    assert caught.value.category is ErrorCategory.NETWORK_DOWN and not caught.value.retryable
    assert "Cannot reach OpenRouter" in caught.value.message


@pytest.mark.parametrize("stream", [False, True])
async def test_redirect_is_not_followed(settings: Settings, fake_key: str, stream: bool) -> None:
    moved = (
        b"HTTP/1.1 307 Temporary Redirect\r\nLocation: https://elsewhere.example/api/v1\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    async with raw_server([[moved]]) as server, client_for(server, settings, fake_key) as client:
        with pytest.raises(OpenRouterError) as caught:
            await relayed(client, stream)
    assert caught.value.category is ErrorCategory.CONFIG
    assert "redirect (HTTP 307) to https://elsewhere.example/api/v1" in caught.value.message
    assert len(server.requests) == 1


async def test_error_page_for_a_stream_is_typed(settings: Settings, fake_key: str) -> None:
    page = json_response(502, b"<html>Bad gateway</html>", "text/html")
    async with raw_server([[page]]) as server, client_for(server, settings, fake_key) as client:
        with pytest.raises(OpenRouterError) as caught:
            await relayed(client, stream=True)
    assert caught.value.status == 502 and not caught.value.mid_stream


async def test_stalls_hit_their_deadlines(settings: Settings, fake_key: str) -> None:
    silent = [sse_head(), 5.0, END]
    slow = [sse_head(), text_event("slow"), 5.0, END]
    slow_body = [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{", 5.0]
    async with (
        raw_server([silent, slow, slow_body]) as server,
        client_for(
            server,
            settings,
            fake_key,
            first_token_timeout_ms=100,
            chunk_timeout_ms=100,
            timeout_ms=300,
        ) as client,
    ):
        with pytest.raises(OpenRouterError) as first:
            await relayed(client, stream=True)
        with pytest.raises(OpenRouterError) as chunked:
            await relayed(client, stream=True)
        with pytest.raises(OpenRouterError) as total:
            await relayed(client, stream=False)
    assert "first_token_timeout_ms=100" in first.value.message
    assert chunked.value.mid_stream and "chunk_timeout_ms=100" in chunked.value.message
    assert chunked.value.partial_text == "slow"
    assert total.value.category is ErrorCategory.TIMEOUT and "timeout_ms" in total.value.message


async def test_keep_alives_do_not_keep_a_stalled_answer_open(
    settings: Settings, fake_key: str
) -> None:
    """Since timeout_ms no longer bounds an answer that is arriving, a stall is counted from
    the last real event: OpenRouter's keep-alive comments and Anthropic's pings re-armed it,
    so a stalled answer streamed for ever."""
    comment, ping = chunk(b": OPENROUTER PROCESSING\n\n"), chunk(b"event: ping\ndata: {}\n\n")
    stalled = [sse_head(), text_event("slow"), *([0.03, comment, 0.03, ping] * 40), END]
    async with (
        raw_server([stalled]) as server,
        client_for(server, settings, fake_key, chunk_timeout_ms=300, timeout_ms=200) as client,
    ):
        with pytest.raises(OpenRouterError) as stalled_error:
            await relayed(client, stream=True)
    assert stalled_error.value.mid_stream
    assert "chunk_timeout_ms=300" in stalled_error.value.message


async def test_cut_streams(settings: Settings, fake_key: str) -> None:
    empty = [sse_head(), END]
    unfinished = [sse_head(), text_event("part"), END]
    broken = [sse_head(), text_event("part"), chunk(b"data: {"), CLOSE]
    async with (
        raw_server([empty, unfinished, broken]) as server,
        client_for(server, settings, fake_key) as client,
    ):
        errors = []
        for _ in range(3):
            with pytest.raises(OpenRouterError) as caught:
                await relayed(client, stream=True)
            errors.append(caught.value)
    assert "ended before any answer" in errors[0].message and not errors[0].mid_stream
    assert "ended before its end event" in errors[1].message and errors[1].mid_stream
    assert errors[2].category is ErrorCategory.NETWORK and errors[2].mid_stream
    assert errors[2].partial_text == "part"


async def test_gzip_bomb_body_is_refused(
    settings: Settings, fake_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bounded, "MAX_BODY_BYTES", 64 * 1024)
    packed = gzip.compress(b'{"pad": "' + b"0" * 400_000 + b'"}')
    bomb = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(packed)
    ) + packed
    async with raw_server([[bomb]]) as server, client_for(server, settings, fake_key) as client:
        with pytest.raises(OpenRouterError) as caught:
            await relayed(client, stream=False)
    assert caught.value.category is ErrorCategory.INVALID_RESPONSE
    assert "larger than" in caught.value.message


async def test_relay_pool_is_closed_with_the_client(settings: Settings, fake_key: str) -> None:
    client = OpenRouterClient(settings, api_key=fake_key)
    try:
        opened = await client.relay_stream("openai", {**BODY, "model": MODEL})
        _ = [frame async for frame in opened.frames()]
        pool = client._relay_http()
    finally:
        await client.aclose()
    assert pool.closed


def test_env_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert env_proxy("https://openrouter.ai/api/v1") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert env_proxy("https://openrouter.ai/api/v1") == "http://proxy.example:3128"
    assert env_proxy("http://127.0.0.1:9/api/v1") is None
    monkeypatch.setenv("NO_PROXY", "openrouter.ai")
    assert env_proxy("https://openrouter.ai/api/v1") is None


def test_aiohttp_timeouts_are_named_as_timeouts(settings: Settings, fake_key: str) -> None:
    client = OpenRouterClient(settings, api_key=fake_key)
    connect = client._relay_transport_error(aiohttp.ConnectionTimeoutError(), model="m")
    read = client._relay_transport_error(aiohttp.SocketTimeoutError(), model="m")
    assert connect.category is ErrorCategory.TIMEOUT and "connect_timeout_ms" in connect.message
    assert read.category is ErrorCategory.TIMEOUT and "timed out" in read.message


def test_relay_tls_verifies_https_with_the_bundled_certificates() -> None:
    remote = relay_tls("https://openrouter.ai/api/v1")
    assert remote.verify_mode is ssl.CERT_REQUIRED and remote.check_hostname
    assert remote.cert_store_stats()["x509_ca"] > 0
    local = relay_tls("http://127.0.0.1:9/api/v1")
    assert local.cert_store_stats()["x509_ca"] == 0  # plain http: nothing to trust
