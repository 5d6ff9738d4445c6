"""The pass-through's body handling: a client's body is encoded once for the first model and
the parsed one let go; a fallback is rebuilt from those bytes with the client's own limits."""

from __future__ import annotations

import orjson

from devflow_tui.gateway.passthrough import PassthroughRequest, _encode
from devflow_tui.routing.catalog import CatalogModel


def _model(model_id: str, limit: int | None) -> CatalogModel:
    return CatalogModel(
        id=model_id, name=model_id, context_length=128_000, max_completion_tokens=limit, prices={}
    )


def _request() -> PassthroughRequest:
    body = {
        "model": "claude-opus-4-5",
        "max_tokens": 5000,
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    return PassthroughRequest(
        api="anthropic",
        body=body,
        client="claude-code",
        route_text="hi",
        prompt_tokens=10,
        max_tokens=5000,
    )


def test_first_encoding_lets_the_parsed_body_go_and_a_fallback_keeps_the_clients_limits() -> None:
    request = _request()
    first = _encode(request, _model("small/model", 100), stream=True)
    sent = orjson.loads(first.payload)
    assert first.model == "small/model"
    assert sent["model"] == "small/model" and sent["max_tokens"] == 100 and sent["stream"] is True
    assert request.body is None and request.sent == first
    fallback = orjson.loads(_encode(request, _model("large/model", None), stream=True).payload)
    # The client's max_tokens again, not the first model's clamp; everything else as sent.
    assert fallback == {**sent, "model": "large/model", "max_tokens": 5000}
    assert request.sent == first


def test_a_non_streamed_body_says_so() -> None:
    encoded = _encode(_request(), _model("any/model", None), stream=False)
    assert orjson.loads(encoded.payload)["stream"] is False
