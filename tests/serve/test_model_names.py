"""Model names through the proxy, over real HTTP against the simulated server: a client's name
resolves as `--model` does (and the API log says how), an unknown one gets its API's own
error with the closest ids and nothing goes upstream, and a `[serve.models]` target that is
no model stops `devflow serve` at start-up naming the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.cli.conftest import Invoke, devflow  # noqa: F401
from tests.serve.conftest import Proxy, ProxyFactory


def _chat(proxy: Proxy, model: str) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {proxy.token}"},
        json={"model": model, "messages": [{"role": "user", "content": "Name a river"}]},
        timeout=60,
    )


def _messages(proxy: Proxy, model: str) -> httpx.Response:
    return httpx.post(
        f"{proxy.url}/v1/messages",
        headers={
            "Authorization": f"Bearer {proxy.token}",
            "anthropic-version": "2023-06-01",
            "cache-control": "no-cache",  # each request reaches the simulator
        },
        json={
            "model": model,
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "Name a river"}],
        },
        timeout=60,
    )


def _log(proxy: Proxy, event: str) -> list[dict[str, Any]]:
    lines = proxy.settings.log_path.read_text(encoding="utf-8").splitlines()
    return [entry for entry in map(json.loads, lines) if entry.get("event") == event]


@pytest.mark.parametrize(
    ("name", "model", "how"),
    [
        ("gpt-4", "openai/gpt-5", "closest version"),
        ("gpt-5-mini", "openai/gpt-5-mini", "slug"),
        ("Google: Gemini 2.5 Flash", "google/gemini-2.5-flash", "slug"),
        ("qwen-coder", "qwen/qwen3-coder", "family"),
        ("llama-3.3-70b-instruct:free", "meta-llama/llama-3.3-70b-instruct:free", "slug"),
    ],
)
def test_a_client_name_resolves_as_model_does_and_the_log_says_how(
    proxy: Proxy, name: str, model: str, how: str
) -> None:
    response = _chat(proxy, name)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == model
    assert [body["model"] for body in proxy.upstream("/chat/completions")] == [model]
    (row,) = proxy.rows(expect=1)
    assert row.requested_model == name and row.model == model
    (logged,) = _log(proxy, "serve model name")
    assert logged["name"] == name and logged["model"] == f"{name} -> {model} ({how})"


def test_an_unknown_name_gets_each_apis_not_found_and_nothing_is_sent(proxy: Proxy) -> None:
    openai_side = _chat(proxy, "gemni-flash")
    assert openai_side.status_code == 404
    error = openai_side.json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert error["type"] == "invalid_request_error"
    assert "'gemni-flash' matches nothing" in error["message"]
    assert "google/gemini-2.5-flash" in error["message"]
    anthropic_side = _messages(proxy, "sonet-4.5")
    assert anthropic_side.status_code == 404
    body = anthropic_side.json()
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert "anthropic/claude-sonnet-4.5" in body["error"]["message"]
    # An OpenRouter id the catalog lacks is not sent as written for OpenRouter to judge.
    assert _chat(proxy, "x-ai/grok-9").status_code == 404
    assert not [r for r in proxy.sim.requests if r.path.endswith(("/completions", "/messages"))]
    assert [e["name"] for e in _log(proxy, "serve model name")] == [
        "gemni-flash",
        "sonet-4.5",
        "x-ai/grok-9",
    ]


def test_the_sdks_read_the_unknown_model_error(proxy: Proxy) -> None:
    with pytest.raises(openai.NotFoundError, match="gpt-5-nano"):
        openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.token).chat.completions.create(
            model="gpt-5-nanoo", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.NotFoundError, match=r"claude-haiku-4\.5"):
        anthropic.Anthropic(base_url=proxy.url, auth_token=proxy.token).messages.create(
            model="haikuu-4.5", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )


def test_claude_code_names_route_by_default_and_follow_the_config(
    make_proxy: ProxyFactory,
) -> None:
    routed = make_proxy()
    for name in ("claude-opus-4-8", "claude-sonnet-4-5-20250929"):
        assert _messages(routed, name).status_code == 200
    assert len(routed.upstream("/messages")) == 2
    assert {e["rule"] for e in _log(routed, "serve model name")} == {
        'default: "claude-*" names are routed'
    }
    mapped = make_proxy(serve={"models": {"*haiku*": "passthrough", "claude-opus-*": "gpt-5-mini"}})
    assert _messages(mapped, "claude-haiku-4-5-20251001").json()["model"] == (
        "anthropic/claude-haiku-4.5"
    )
    assert _messages(mapped, "claude-opus-4-8").json()["model"] == "openai/gpt-5-mini"
    (startup,) = _log(mapped, "serve models")
    assert startup["names"] == [
        '[serve.models] "claude-opus-*": gpt-5-mini -> openai/gpt-5-mini (slug)'
    ]


def test_a_target_that_is_no_model_stops_serve_at_start(
    devflow: Invoke,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = Path(__import__("os").environ["DEVFLOW_CONFIG"])
    config.write_text('[serve.models]\n"*opus*" = "auto"\n"*sonnet*" = "claude-sonet-4.5"\n')
    result = devflow("serve", "--port", "0")
    assert result.exit_code == 2
    assert '[serve.models] "*sonnet*" in the config file' in result.stderr
    assert str(config) in result.stderr and "'claude-sonet-4.5' matches nothing" in result.stderr
    assert "Closest catalog models: anthropic/claude-sonnet-4.5" in result.stderr
    assert "Correct it in" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "listening" not in result.stdout  # nothing claimed to be listening first
    assert "Application startup failed" not in result.stderr + result.stdout
