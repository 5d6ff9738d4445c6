"""Catalog, key, credits and generation endpoints, auth and request validation (real HTTP)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from devflow_tui.data.snapshot import load_snapshot
from devflow_tui.openrouter.wire import CreditsResponse, KeyResponse, ModelsResponse
from devflow_tui.sim import SimConfig, SimServer

CHAT = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


def _exact(response: httpx.Response) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def test_models_needs_no_auth_and_serves_the_snapshot(sim: SimServer) -> None:
    response = httpx.get(f"{sim.base_url}/models", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == load_snapshot()
    assert body["total_count"] == len(body["data"])
    assert ModelsResponse.model_validate(body).data[0].id == load_snapshot()[0]["id"]
    assert "content-length" in response.headers
    assert response.headers["access-control-allow-origin"] == "*"


def test_models_filters_on_supported_parameters(client: httpx.Client) -> None:
    body = client.get("/models", params={"supported_parameters": "reasoning,tools"}).json()
    ids = {model["id"] for model in body["data"]}
    assert "deepseek/deepseek-r1" in ids
    assert "openai/gpt-4o-mini" not in ids
    assert all("reasoning" in model["supported_parameters"] for model in body["data"])


def test_models_override(sim: SimServer) -> None:
    sim.config.models = [{"id": "acme/one", "pricing": {"prompt": "0", "completion": "0"}}]
    body = httpx.get(f"{sim.base_url}/models").json()
    assert [model["id"] for model in body["data"]] == ["acme/one"]


def test_missing_auth_header(sim: SimServer) -> None:
    response = httpx.post(f"{sim.base_url}/chat/completions", json=CHAT)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "No cookie auth credentials found", "code": 401}
    }
    assert response.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.headers
    empty = httpx.get(f"{sim.base_url}/key", headers={"Authorization": "Basic abc"})
    assert empty.json()["error"]["message"] == "No cookie auth credentials found"


def test_invalid_key_when_valid_keys_are_configured(sim: SimServer, fake_key: str) -> None:
    sim.config.valid_keys = {fake_key}
    bad = httpx.get(f"{sim.base_url}/key", headers={"Authorization": "Bearer sk-or-v1-wrong"})
    assert bad.status_code == 401
    assert bad.json() == {"error": {"message": "User not found.", "code": 401}}
    good = httpx.get(f"{sim.base_url}/key", headers={"Authorization": f"Bearer {fake_key}"})
    assert good.status_code == 200


def test_recorded_requests_mask_the_key(
    sim: SimServer, client: httpx.Client, fake_key: str
) -> None:
    client.post("/chat/completions", json=CHAT)
    record = sim.requests[-1]
    assert record.method == "POST"
    assert record.path == "/chat/completions"
    assert record.json == CHAT
    assert record.status == 200
    assert fake_key not in repr(record)
    assert record.headers["authorization"] == "Bearer sk-or-…fa1e"


@pytest.mark.parametrize("path", ["/key", "/auth/key"])
def test_key_endpoints(sim: SimServer, client: httpx.Client, path: str) -> None:
    body = _exact(client.get(path))
    data = body["data"]
    assert data["label"] == "sk-or-…fa1e"
    assert data["limit"] == Decimal(100)
    assert data["usage"] == Decimal("25.5")
    assert data["limit_remaining"] == Decimal("74.5")
    assert data["limit_reset"] == "monthly"
    assert data["rate_limit"]["requests"] == -1
    assert KeyResponse.model_validate(body).data.limit_remaining == Decimal("74.5")


def test_key_usage_grows_with_billed_completions(sim: SimServer, client: httpx.Client) -> None:
    sim.config.key_limit = None
    sim.config.key_label = "demo key"
    cost = _exact(client.post("/chat/completions", json=CHAT))["usage"]["cost"]
    data = _exact(client.get("/key"))["data"]
    assert data["label"] == "demo key"
    assert data["limit"] is None and data["limit_remaining"] is None
    assert data["usage"] == Decimal("25.5") + cost
    assert data["usage_daily"] == cost
    credits = _exact(client.get("/credits"))["data"]
    assert credits == {"total_credits": Decimal("100.5"), "total_usage": Decimal("25.75") + cost}
    parsed = CreditsResponse.model_validate(client.get("/credits").json()).data
    assert parsed.balance == Decimal("100.5") - Decimal("25.75") - cost
    assert sim.spent == cost


def test_generation_lookup(sim: SimServer, client: httpx.Client) -> None:
    response = client.post("/chat/completions", json={**CHAT, "user": "u-1"})
    gen_id = response.headers["x-generation-id"]
    usage = _exact(response)["usage"]
    data = _exact(client.get("/generation", params={"id": gen_id}))["data"]
    assert data["id"] == gen_id
    assert data["total_cost"] == usage["cost"]
    assert data["tokens_prompt"] == usage["prompt_tokens"]
    assert data["tokens_completion"] == usage["completion_tokens"]
    assert data["model"] == "openai/gpt-4o-mini"
    assert data["provider_name"] == "OpenAI"
    assert data["streamed"] is False and data["cancelled"] is False
    assert data["finish_reason"] == "stop"
    assert data["external_user"] == "u-1"
    assert data["created_at"].endswith("Z")
    assert [attempt["status"] for attempt in data["provider_responses"]] == [200]
    assert sim.generations[gen_id]["total_cost"] == usage["cost"]


def test_generation_unknown_and_missing_id(client: httpx.Client) -> None:
    missing = client.get("/generation", params={"id": "gen-1-nope"})
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "Generation gen-1-nope not found", "code": 404}}
    assert client.get("/generation").status_code == 400


def test_generation_404_window_uses_the_injected_clock(fake_key: str) -> None:
    now = [1000.0]
    config = SimConfig(time_scale=0.0, generation_delay_s=2.0)
    with (
        SimServer(config, clock=lambda: now[0]) as sim,
        httpx.Client(
            base_url=sim.base_url, headers={"Authorization": f"Bearer {fake_key}"}
        ) as client,
    ):
        gen_id = client.post("/chat/completions", json=CHAT).headers["x-generation-id"]
        assert client.get("/generation", params={"id": gen_id}).status_code == 404
        now[0] += 1.9
        assert client.get("/generation", params={"id": gen_id}).status_code == 404
        now[0] += 0.2
        assert client.get("/generation", params={"id": gen_id}).status_code == 200


def test_unknown_paths_and_methods(sim: SimServer, client: httpx.Client) -> None:
    assert client.get("/nope").status_code == 404
    assert httpx.get(f"http://127.0.0.1:{sim.port}/other").status_code == 404
    wrong = client.get("/chat/completions")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == 405


def test_invalid_json_body(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Invalid JSON in request body"


@pytest.mark.parametrize("body", [{"model": "openai/gpt-4o-mini"}, {"messages": []}, [1, 2]])
def test_input_required(client: httpx.Client, body: Any) -> None:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == 'Input required: specify "prompt" or "messages"'
    assert response.json()["user_id"].startswith("user_")


@pytest.mark.parametrize(
    "body",
    [
        {"messages": "hello"},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": "ten"},
        {"messages": [{"role": "user", "content": "x"}], "max_tokens": True},
    ],
)
def test_invalid_parameters(client: httpx.Client, body: dict[str, Any]) -> None:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["metadata"]["error_type"] == "invalid_request"


def test_unknown_model_is_a_400_naming_it(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json={**CHAT, "model": "nonexistent/not-a-model:free"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["message"] == "nonexistent/not-a-model:free is not a valid model ID"
    assert body["error"]["code"] == 400
    assert "user_id" in body


def test_context_length_exceeded(sim: SimServer, client: httpx.Client) -> None:
    # 20,000 common words, one token each in the simulator's count, + 1 for the trailing space,
    # + 3 for the message + 3 reply priming; over gpt-3.5-turbo's 16,385.
    long_prompt = "word " * 20_000
    body = {"model": "openai/gpt-3.5-turbo", "messages": [{"role": "user", "content": long_prompt}]}
    response = client.post("/chat/completions", json={**body, "max_tokens": 500})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["metadata"]["error_type"] == "context_length_exceeded"
    assert "maximum context length is 16385 tokens" in error["message"]
    assert "(20007 of text input, 500 in the output)" in error["message"]
    fits = client.post("/chat/completions", json={**body, "model": "openai/gpt-4o-mini"})
    assert fits.status_code == 200


def test_context_length_moves_to_the_next_fallback(client: httpx.Client) -> None:
    long_prompt = "word " * 20_000  # 20,007 tokens + 16,000 out: over mistral's 32,768
    body = {
        "model": "openai/gpt-3.5-turbo",
        "models": ["mistralai/mistral-7b-instruct", "openai/gpt-4o-mini"],
        "messages": [{"role": "user", "content": long_prompt}],
        "max_tokens": 16_000,
    }
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json()["model"] == "openai/gpt-4o-mini"


def _fill(budget: int) -> list[dict[str, Any]]:
    """A plain-prose request the simulator counts as exactly `budget` prompt tokens."""
    words = budget - 3 - 3  # reply priming and one message's framing
    return [{"role": "user", "content": "word" + " word" * (words - 1)}]


def test_a_request_that_fills_the_window_exactly_is_accepted(client: httpx.Client) -> None:
    """The window is prompt + max_tokens in the simulator's own count, to the token."""
    window, out = 16_385, 500  # openai/gpt-3.5-turbo
    messages = _fill(window - out)
    body = {"model": "openai/gpt-3.5-turbo", "messages": messages, "max_tokens": out}
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 200
    assert response.json()["usage"]["prompt_tokens"] == window - out
    over = client.post("/chat/completions", json={**body, "max_tokens": out + 1})
    assert over.status_code == 400
    assert over.json()["error"]["metadata"]["error_type"] == "context_length_exceeded"
