"""Every fault kind, with the exact body and header shapes clients must handle."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devflow_tui.sim import Fault, SimConfig, SimServer
from devflow_tui.sim.error_bodies import DAY_MS, USER_ID
from tests.sim.sse import content_of, data_events, parse_sse

CHAT = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "tell me a story"}]}


def _post(client: httpx.Client, body: dict[str, Any] | None = None, **extra: Any) -> httpx.Response:
    return client.post("/chat/completions", json={**(body or CHAT), **extra})


@pytest.mark.parametrize(
    ("status", "message", "error_type"),
    [
        (400, "Invalid request parameters", "invalid_request"),
        (401, "User not found.", "authentication"),
        (402, "This request requires more credits, or fewer max_tokens.", "payment_required"),
        (404, "No endpoints found that support tool use.", "not_found"),
        (408, "Operation timed out. Please try again later.", "timeout"),
        (413, "Payload too large", "payload_too_large"),
        (422, "Unprocessable request", "unprocessable"),
        (500, "Internal Server Error", "server"),
        (502, "Provider returned error", "provider_unavailable"),
        (503, "Service temporarily unavailable", "provider_overloaded"),
        (504, "Gateway timeout", "timeout"),
        (524, "Request timed out. Please try again later.", "timeout"),
        (529, "Provider returned error", "provider_overloaded"),
        (599, "Provider returned error", "server"),
    ],
)
def test_http_error_bodies(
    sim: SimServer, client: httpx.Client, status: int, message: str, error_type: str
) -> None:
    sim.add_fault(Fault(kind="http_error", status=status))
    response = _post(client)
    assert response.status_code == status
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    assert "retry-after" not in response.headers
    body = response.json()
    assert body["user_id"] == USER_ID
    error = body["error"]
    assert error["code"] == status
    assert error["message"].startswith(message)
    assert error["metadata"]["error_type"] == error_type
    if status in {502, 529, 599}:
        assert error["metadata"]["provider_name"] == "OpenAI"
        assert error["metadata"]["raw"]
    else:
        assert error["metadata"]["provider_name"] is None
    assert sim.requests[-1].faults == ["http_error"]
    assert _post(client).status_code == 200  # times=1: the next request is fine


def test_http_error_overrides_and_retry_after(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="http_error", status=400, error_type="context_length_exceeded",
                        message="too many tokens", retry_after_s=2.5))  # fmt: skip
    response = _post(client)
    assert response.headers["retry-after"] == "3"
    error = response.json()["error"]
    assert error["message"] == "too many tokens"
    assert error["metadata"]["error_type"] == "context_length_exceeded"
    sim.add_fault(Fault(kind="http_error", status=402))
    assert _post(client).json()["error"]["metadata"]["limit_source"] == "openrouter_credits"


def test_moderation_403(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="http_error", status=403))
    prompt = "x" * 60 + "middle" + "y" * 60
    response = _post(
        client, {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["message"] == (
        'openai/gpt-4o-mini requires moderation on OpenAI. Your input was flagged for "harassment".'
    )
    metadata = error["metadata"]
    assert metadata["reasons"] == ["harassment"]
    assert metadata["model_slug"] == "openai/gpt-4o-mini"
    assert metadata["provider_name"] == "OpenAI"
    assert len(metadata["flagged_input"]) == 100
    assert metadata["flagged_input"].startswith("x" * 48) and "..." in metadata["flagged_input"]


def test_platform_rate_limit_for_free_model(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="rate_limit", reset_ms=1779321600000, retry_after_s=30))
    model = "meta-llama/llama-3.3-70b-instruct:free"
    response = _post(client, {**CHAT, "model": model})
    assert response.status_code == 429
    headers = {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1779321600000",
    }
    for name, value in headers.items():
        assert response.headers[name] == value
    assert response.headers["retry-after"] == "30"
    body = response.json()
    assert body["error"]["message"] == (
        "Rate limit exceeded: free-models-per-day. "
        "Add 10 credits to unlock 1000 free model requests per day"
    )
    assert body["error"]["metadata"]["headers"] == headers
    assert body["error"]["metadata"]["provider_name"] is None
    assert body["error"]["metadata"]["error_type"] == "rate_limit_exceeded"
    assert body["user_id"] == USER_ID


def test_platform_rate_limit_default_reset_is_next_utc_midnight(fake_key: str) -> None:
    now = 1_779_300_000.5
    with (
        SimServer(SimConfig(time_scale=0.0), wall_clock=lambda: now) as sim,
        httpx.Client(
            base_url=sim.base_url, headers={"Authorization": f"Bearer {fake_key}"}
        ) as client,
    ):
        sim.add_fault(Fault(kind="rate_limit"))
        response = _post(client)
        reset = int(response.headers["x-ratelimit-reset"])
        assert reset == 1_779_321_600_000
        assert reset % DAY_MS == 0
        assert "High demand for openai/gpt-4o-mini" in response.json()["error"]["message"]
        assert "retry-after" not in response.headers


def test_upstream_rate_limit(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="rate_limit", upstream=True, retry_after_s=15.751))
    response = _post(client, {**CHAT, "model": "qwen/qwen3-coder"})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "16"
    assert "x-ratelimit-limit" not in response.headers
    error = response.json()["error"]
    assert error["message"] == "Provider returned error"
    metadata = error["metadata"]
    assert metadata["raw"].startswith("qwen/qwen3-coder is temporarily rate-limited upstream.")
    assert metadata["provider_name"] == "Alibaba"
    assert metadata["retry_after_seconds"] == 16
    assert metadata["retry_after_seconds_raw"] == 15.751
    assert metadata["headers"] == {"Retry-After": "16"}
    sim.add_fault(Fault(kind="rate_limit", upstream=True))
    bare = _post(client)
    assert "retry-after" not in bare.headers
    assert bare.json()["error"]["metadata"]["retry_after_seconds"] == 16


@pytest.mark.parametrize("as_string", [False, True])
def test_mid_stream_error(sim: SimServer, client: httpx.Client, as_string: bool) -> None:
    sim.add_fault(
        Fault(kind="mid_stream_error", after_chunks=2, status=502, code_as_string=as_string)
    )
    response = _post(client, stream=True)  # the whole body reads cleanly: framing is intact
    assert response.status_code == 200
    events = parse_sse(response.text)
    assert all(event.kind == "data" for event in events)  # no [DONE] after the error
    chunks = [event.data for event in events]
    assert len(chunks) == 3
    error_chunk = chunks[-1]
    assert error_chunk["error"] == {
        "code": "server_error" if as_string else 502,
        "message": "Provider disconnected unexpectedly",
        "metadata": {"error_type": "provider_unavailable"},
    }
    assert error_chunk["choices"][0]["finish_reason"] == "error"
    assert sim.requests[-1].chunks_sent == 2
    gen = sim.generations[response.headers["x-generation-id"]]
    assert gen["finish_reason"] == "error"
    assert gen["tokens_completion"] == 6  # two chunks of three tokens were produced


def test_mid_stream_rate_limit_as_first_event(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="mid_stream_error", status=429))
    chunks = data_events(_post(client, stream=True).text)
    assert len(chunks) == 1
    assert chunks[0]["error"]["code"] == 429
    assert chunks[0]["error"]["message"] == "Rate limit exceeded"
    assert chunks[0]["error"]["metadata"]["error_type"] == "rate_limit_exceeded"


def test_mid_stream_error_without_streaming_is_a_partial_choice(
    sim: SimServer, client: httpx.Client
) -> None:
    sim.add_fault(Fault(kind="mid_stream_error", after_chunks=1, message="boom"))
    response = _post(client)
    assert response.status_code == 200
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "error"
    assert choice["message"]["content"] == "[simulated a"
    assert choice["error"]["message"] == "boom"
    assert response.json()["usage"]["completion_tokens"] == 3


def test_abrupt_close_mid_stream(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="abrupt_close", after_chunks=3))
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response,
    ):
        for text in response.iter_text():
            received.append(text)
    assert len(data_events("".join(received))) == 3
    assert sim.requests[-1].chunks_sent == 3
    assert _post(client).status_code == 200  # the server itself is fine afterwards


def test_abrupt_close_without_streaming(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="abrupt_close"))
    with pytest.raises(httpx.RemoteProtocolError):
        _post(client)
    assert sim.requests[-1].status is None


def test_error_200(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="error_200", status=502, message="Upstream failed"))
    response = _post(client)
    assert response.status_code == 200
    assert response.json() == {
        "error": {
            "code": 502,
            "message": "Upstream failed",
            "metadata": {"error_type": "provider_unavailable"},
        },
        "user_id": USER_ID,
    }
    sim.add_fault(Fault(kind="error_200"))
    chunks = data_events(_post(client, stream=True).text)
    assert len(chunks) == 1 and chunks[0]["error"]["code"] == 503


def test_keepalive_comments(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="keepalive", count=3))
    events = parse_sse(_post(client, stream=True).text)
    assert [e.kind for e in events[:5]] == ["comment", "comment", "comment", "data", "comment"]
    assert {e.comment for e in events if e.kind == "comment"} == {"OPENROUTER PROCESSING"}
    assert sum(e.kind == "comment" for e in events) == 4
    assert events[-1].kind == "done"
    sim.add_fault(Fault(kind="keepalive", count=0))
    assert all(e.kind != "comment" for e in parse_sse(_post(client, stream=True).text))


def test_empty_content(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="empty_content", times=2))
    body = _post(client).json()
    assert body["choices"][0]["message"]["content"] == ""
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 0
    assert body["usage"]["cost"] > 0  # the prompt is still billed
    streamed = _post(client, stream=True).text
    assert content_of(streamed) == ""
    assert data_events(streamed)[-1]["usage"]["completion_tokens"] == 0


def test_generation_404_fault(sim: SimServer, client: httpx.Client) -> None:
    gen_id = _post(client).headers["x-generation-id"]
    sim.add_fault(Fault(kind="generation_404"))
    missing = client.get("/generation", params={"id": gen_id})
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == f"Generation {gen_id} not found"
    assert client.get("/generation", params={"id": gen_id}).status_code == 200


def test_slow_first_token_is_not_scaled(fake_key: str) -> None:
    sleeps: list[float] = []
    config = SimConfig(time_scale=0.0, faults=[Fault(kind="slow_first_token", delay_ms=2500)])
    with (
        SimServer(config, sleep=sleeps.append) as sim,
        httpx.Client(
            base_url=sim.base_url, headers={"Authorization": f"Bearer {fake_key}"}
        ) as client,
    ):
        _post(client, stream=True)
        assert sleeps == [2.5]
        sim.add_fault(Fault(kind="slow_first_token", delay_ms=100))
        _post(client)
        assert sleeps == [2.5, 0.1]


def test_fault_times_model_and_clear(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="http_error", model="openai/gpt-5", times=2))
    assert _post(client).status_code == 200  # other model: untouched
    gpt5 = {**CHAT, "model": "openai/gpt-5"}
    assert [_post(client, gpt5).status_code for _ in range(3)] == [503, 503, 200]
    sim.add_fault(Fault(kind="http_error", times=None))
    assert [_post(client).status_code for _ in range(3)] == [503, 503, 503]
    sim.clear_faults()
    assert _post(client).status_code == 200


def test_fallback_models_skip_failing_ones(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="rate_limit", model="openai/gpt-5"))
    sim.add_fault(Fault(kind="http_error", model="anthropic/claude-haiku-4.5", status=502))
    body = {
        **CHAT,
        "model": "openai/gpt-5",
        "models": ["anthropic/claude-haiku-4.5", "google/gemini-2.5-flash"],
    }
    response = _post(client, body)
    assert response.status_code == 200
    assert response.json()["model"] == "google/gemini-2.5-flash"
    assert response.json()["provider"] == "Google AI Studio"
    record = sim.requests[-1]
    assert record.attempted == [
        "openai/gpt-5",
        "anthropic/claude-haiku-4.5",
        "google/gemini-2.5-flash",
    ]
    assert record.model == "google/gemini-2.5-flash"
    attempts = sim.generations[response.headers["x-generation-id"]]["provider_responses"]
    assert [a["status"] for a in attempts] == [429, 502, 200]
    assert [a["model_permaslug"] for a in attempts] == record.attempted


def test_fallback_exhausted_returns_the_last_error(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="http_error", times=None, status=503))
    response = _post(client, {**CHAT, "models": ["openai/gpt-5-nano"]})
    assert response.status_code == 503
    assert sim.requests[-1].attempted == ["openai/gpt-4o-mini", "openai/gpt-5-nano"]


def test_mid_stream_faults_do_not_fall_back(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="error_200"))
    response = _post(client, {**CHAT, "models": ["openai/gpt-5-nano"]})
    assert "error" in response.json()
    assert sim.requests[-1].attempted == ["openai/gpt-4o-mini"]


@pytest.mark.parametrize("path", ["/models", "/key", "/credits", "/generation"])
def test_faults_on_other_endpoints(sim: SimServer, client: httpx.Client, path: str) -> None:
    sim.add_fault(Fault(kind="http_error", status=500, path=path))
    response = client.get(path, params={"id": "gen-1-x"})
    assert response.status_code == 500
    assert response.json()["error"]["metadata"]["error_type"] == "server"
    sim.add_fault(Fault(kind="rate_limit", path=path))
    assert client.get(path, params={"id": "gen-1-x"}).status_code == 429


@pytest.fixture
def never_ending(fake_key: str) -> Iterator[tuple[SimServer, httpx.Client]]:
    config = SimConfig(time_scale=0.0, answer_tokens=200_000)
    with (
        SimServer(config) as sim,
        httpx.Client(
            base_url=sim.base_url, headers={"Authorization": f"Bearer {fake_key}"}
        ) as client,
    ):
        yield sim, client


def test_client_disconnect_is_recorded_as_cancelled(
    never_ending: tuple[SimServer, httpx.Client],
) -> None:
    sim, client = never_ending
    with client.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as response:
        first = next(response.iter_text())
        assert first.startswith("data: ")
    # Leaving the block closes the connection mid-body; the server notices on its next write.
    assert sim.wait_until_done()
    record = sim.requests[-1]
    assert record.cancelled is True
    assert 0 < record.chunks_sent < 200_000 // 3
    gen = sim.generations[record.generation_id or ""]
    assert gen["cancelled"] is True
    assert gen["finish_reason"] is None
    assert gen["tokens_completion"] == 3 * record.chunks_sent
    assert sim.spent == gen["total_cost"]  # billed once, for what was produced
