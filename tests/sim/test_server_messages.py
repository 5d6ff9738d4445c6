"""The simulated /messages endpoint: Anthropic shapes, SSE events, tool use, thinking, errors,
faults and the /generation record."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from devflow_tui.sim import Fault, SimServer
from devflow_tui.sim.tools import MCP_WAITS

MODEL = "anthropic/claude-sonnet-4.5"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}


def _body(text: str = "Say hello", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "max_tokens": 300,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each Anthropic SSE event; checks the framing."""
    out: list[tuple[str, dict[str, Any]]] = []
    for block in text.split("\n\n")[:-1]:
        if block.startswith(":"):
            continue
        name_line, data_line = block.split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line[6:])
        assert data["type"] == name_line[7:]
        out.append((name_line[7:], data))
    return out


def test_message_has_anthropic_shape_and_generation(sim: SimServer, client: httpx.Client) -> None:
    response = client.post("/messages", json=_body(system=[{"type": "text", "text": "Be brief"}]))
    assert response.status_code == 200
    data = response.json()
    assert data["type"] == "message" and data["role"] == "assistant" and data["model"] == MODEL
    assert [block["type"] for block in data["content"]] == ["text"]
    assert data["content"][0]["text"].startswith(f"[simulated answer from {MODEL}]")
    assert data["stop_reason"] == "end_turn"
    usage = data["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    gen_id = response.headers["x-generation-id"]
    record = client.get("/generation", params={"id": gen_id}).json()["data"]
    assert record["tokens_completion"] == usage["output_tokens"]
    assert record["tokens_prompt"] == usage["input_tokens"]
    assert record["total_cost"] > 0


def test_stream_sends_the_anthropic_event_sequence(client: httpx.Client) -> None:
    response = client.post("/messages", json=_body(stream=True))
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    names = [name for name, _ in events]
    assert names[:4] == ["message_start", "ping", "content_block_start", "content_block_delta"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    whole = client.post("/messages", json=_body()).json()
    assert text == whole["content"][0]["text"]
    final = next(d for n, d in events if n == "message_delta")
    assert final["usage"]["output_tokens"] == whole["usage"]["output_tokens"]
    assert final["delta"]["stop_reason"] == "end_turn"


def test_tool_use_then_tool_result_answers_in_text(client: httpx.Client) -> None:
    ask = _body("What is the weather? use get_weather for Rome", tools=[WEATHER_TOOL])
    data = client.post("/messages", json=ask).json()
    assert data["stop_reason"] == "tool_use"
    call = data["content"][-1]
    assert call["type"] == "tool_use" and call["name"] == "get_weather"
    assert call["input"] == {"city": "Rome", "days": 1}
    follow = dict(ask)
    follow["messages"] = [
        *ask["messages"],
        {"role": "assistant", "content": data["content"]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "Sunny"}],
        },
    ]
    answer = client.post("/messages", json=follow).json()
    assert answer["stop_reason"] == "end_turn"
    assert [b["type"] for b in answer["content"]] == ["text"]


def test_streamed_tool_use_sends_input_json_deltas(client: httpx.Client) -> None:
    ask = _body("use get_weather for Milan", tools=[WEATHER_TOOL], stream=True)
    events = _events(client.post("/messages", json=ask).text)
    start = next(d for n, d in events if n == "content_block_start" and d["index"] == 1)
    assert start["content_block"]["type"] == "tool_use"
    partial = "".join(
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"city": "Milan", "days": 1}
    assert next(d for n, d in events if n == "message_delta")["delta"]["stop_reason"] == "tool_use"


def test_tool_named_only_in_an_earlier_part_is_not_called(client: httpx.Client) -> None:
    content = [
        {"type": "text", "text": "<reminder>get_weather exists</reminder>"},
        {"type": "text", "text": "say hello"},
    ]
    body = _body(tools=[WEATHER_TOOL])
    body["messages"] = [{"role": "user", "content": content}]
    assert client.post("/messages", json=body).json()["stop_reason"] == "end_turn"


def test_thinking_comes_as_a_thinking_block(client: httpx.Client) -> None:
    body = _body("Explain recursion", thinking={"type": "enabled", "budget_tokens": 1024})
    data = client.post("/messages", json=body).json()
    assert [b["type"] for b in data["content"]] == ["thinking", "text"]
    assert data["content"][0]["thinking"] and data["content"][0]["signature"]
    events = _events(client.post("/messages", json={**body, "stream": True}).text)
    kinds = [d["delta"]["type"] for n, d in events if n == "content_block_delta"]
    assert kinds[0] == "thinking_delta" and "signature_delta" in kinds
    assert kinds[-1] == "text_delta"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": MODEL, "max_tokens": 10, "messages": []}, "messages"),
        ({"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ],
)
def test_invalid_request_gets_the_anthropic_envelope(
    client: httpx.Client, body: dict[str, Any], message: str
) -> None:
    response = client.post("/messages", json=body)
    assert response.status_code == 400
    data = response.json()
    assert data["type"] == "error" and data["request_id"] is None
    assert data["error"]["type"] == "invalid_request_error"
    assert message in data["error"]["message"]


def test_missing_key_is_an_anthropic_authentication_error(sim: SimServer) -> None:
    response = httpx.post(f"{sim.base_url}/messages", json=_body())
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(402, "billing_error"), (429, "rate_limit_error"), (503, "overloaded_error")],
)
def test_pre_stream_faults_use_anthropic_error_types(
    sim: SimServer, client: httpx.Client, status: int, kind: str
) -> None:
    if status == 429:
        sim.add_fault(Fault(kind="rate_limit", status=status, path="/messages"))
    else:
        sim.add_fault(Fault(kind="http_error", status=status, path="/messages"))
    response = client.post("/messages", json=_body())
    assert response.status_code == status
    assert response.json()["error"]["type"] == kind


def test_fallbacks_move_past_a_failing_model(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="http_error", status=503, path="/messages", model=MODEL))
    body = _body(fallbacks=[{"model": "openai/gpt-4o-mini"}])
    data = client.post("/messages", json=body).json()
    assert data["model"] == "openai/gpt-4o-mini"


def test_mid_stream_error_is_an_error_event_and_billed(
    sim: SimServer, client: httpx.Client
) -> None:
    sim.add_fault(Fault(kind="mid_stream_error", status=502, path="/messages", after_chunks=2))
    response = client.post("/messages", json=_body(stream=True))
    events = _events(response.text)
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == "api_error"
    deltas = [d for n, d in events if n == "content_block_delta"]
    assert len(deltas) == 2
    record = sim.generations[response.headers["x-generation-id"]]
    assert record["finish_reason"] == "error"


def test_non_streamed_failure_is_an_anthropic_error(sim: SimServer, client: httpx.Client) -> None:
    sim.add_fault(Fault(kind="error_200", status=529, path="/messages"))
    response = client.post("/messages", json=_body())
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"
    assert response.json()["request_id"] == response.headers["x-generation-id"]


def test_chat_completions_answer_with_tool_calls(client: httpx.Client) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER_TOOL["input_schema"],
            },
        }
    ]
    messages = [{"role": "user", "content": "use get_weather for Oslo"}]
    body = {"model": "openai/gpt-4o-mini", "messages": messages, "tools": tools}
    choice = client.post("/chat/completions", json=body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo", "days": 1}
    streamed = client.post("/chat/completions", json={**body, "stream": True}).text
    assert '"tool_calls"' in streamed
    answered = [
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "Cold"},
    ]
    again = client.post("/chat/completions", json={**body, "messages": answered}).json()
    assert again["choices"][0]["finish_reason"] == "stop"


def test_named_mcp_tool_not_offered_yet_waits_for_the_servers(client: httpx.Client) -> None:
    wait = {"name": "WaitForMcpServers", "input_schema": {"type": "object", "properties": {}}}
    ask_tool = {
        "name": "mcp__devflow__ask",
        "input_schema": {
            "type": "object",
            "properties": {"prompt": {"type": "string"}},
            "required": ["prompt"],
        },
    }
    prompt = "Delegate with mcp__devflow__ask: write a haiku"
    first = client.post("/messages", json=_body(prompt, tools=[wait])).json()
    assert first["content"][-1]["name"] == "WaitForMcpServers"
    waited = [
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": first["content"][-1]["id"], "content": "ok"}
            ],
        },
    ]
    body = _body(tools=[wait, ask_tool])
    body["messages"] = waited
    second = client.post("/messages", json=body).json()
    call = second["content"][-1]
    assert call["name"] == "mcp__devflow__ask" and call["input"] == {"prompt": "write a haiku"}


def test_a_server_still_connecting_gets_more_waits_then_a_text_answer(
    client: httpx.Client,
) -> None:
    # Claude Code's wait ends after a few seconds; a slow machine can take longer to start the
    # MCP server, and a model then waits again rather than give up, a bounded number of times.
    wait = {"name": "WaitForMcpServers", "input_schema": {"type": "object", "properties": {}}}
    prompt = "Delegate with mcp__devflow__ask: write a haiku"
    messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
    names = []
    for _ in range(MCP_WAITS + 1):
        answer = client.post("/messages", json={**_body(tools=[wait]), "messages": messages})
        last = answer.json()["content"][-1]
        names.append(last.get("name", last["type"]))
        if last["type"] != "tool_use":
            break
        messages += [
            {"role": "assistant", "content": answer.json()["content"]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": last["id"], "content": "ok"}],
            },
        ]
    assert names == ["WaitForMcpServers"] * MCP_WAITS + ["text"]
