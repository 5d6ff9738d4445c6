"""When a simulated model answers with a tool call, and with what arguments.

Deterministic: a request offering tools gets a tool call when its last user turn names one of
them (case-sensitive, as a whole word, e.g. "use get_weather for Rome") that the conversation
has not called yet (once called, the model answers from its result). A named MCP tool
(`mcp__server__tool`) that is not offered yet, while Claude Code offers `WaitForMcpServers`,
gets that call first, as a model would wait for the server to connect, and again (up to
`MCP_WAITS` calls in all) while the server is still connecting. Arguments fill the
schema's required properties with plausible values taken from the prompt. Both API shapes are
read: OpenAI `{"type": "function", "function": {"name", "parameters"}}` and Anthropic
`{"name", "input_schema"}`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One tool call planned by the simulated model."""

    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


def offered_tools(tools: Any) -> list[tuple[str, dict[str, Any]]]:
    """(name, JSON schema) of every tool in a request's `tools` list, in order."""
    found: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(tools, list):
        return found
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        function = tool.get("function")
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            schema = function.get("parameters")
            found.append((function["name"], schema if isinstance(schema, dict) else {}))
        elif isinstance(tool.get("name"), str):
            schema = tool.get("input_schema")
            found.append((tool["name"], schema if isinstance(schema, dict) else {}))
    return found


_FREE_TEXT = {"prompt", "query", "question", "text", "task", "description", "message"}


def _value(name: str, spec: Any, prompt: str, tail: str = "") -> Any:
    kind = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(spec, dict) and isinstance(spec.get("enum"), list) and spec["enum"]:
        return spec["enum"][0]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if name in _FREE_TEXT and tail:
        return tail  # the request itself: what follows the tool's name in the prompt
    words = re.findall(r"[A-Za-zÀ-ÿ]+", prompt)
    return words[-1] if words else name


WAIT_FOR_MCP = "WaitForMcpServers"
MCP_WAITS = 8  # a loaded machine can take longer to start an MCP server than one wait lasts
_MCP_NAME = re.compile(r"(?<![\w-])mcp__\w+")


def called_tools(messages: list[dict[str, Any]]) -> Counter[str]:
    """How often an assistant turn of a chat conversation has called each tool."""
    return Counter(
        str((call.get("function") or {}).get("name"))
        for message in messages
        if message.get("role") == "assistant" and isinstance(message.get("tool_calls"), list)
        for call in message["tool_calls"]
        if isinstance(call, dict)
    )


def plan_tool_call(tools: Any, prompt: str, called: Counter[str], seed: str) -> ToolCall | None:
    """The tool call for this turn, or None when the model should answer in text."""
    offered = offered_tools(tools)
    names = {name for name, _ in offered}
    waiting = [m for m in _MCP_NAME.findall(prompt) if m not in names and m not in called]
    for name, schema in offered:
        mentioned = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", prompt)
        if name == WAIT_FOR_MCP and not mentioned:
            if not waiting or called[name] >= MCP_WAITS:
                continue
        elif name in called or not mentioned:
            continue
        properties = schema.get("properties")
        required = schema.get("required")
        tail = prompt[mentioned.end() :].strip(" :,-") if mentioned else ""
        arguments: dict[str, Any] = {}
        if isinstance(properties, dict) and isinstance(required, list):
            for key in required:
                if isinstance(key, str):
                    arguments[key] = _value(key, properties.get(key), prompt, tail)
        digest = hashlib.sha256(f"{seed}\n{name}".encode()).hexdigest()[:24]
        return ToolCall(id=f"toolu_{digest}", name=name, arguments=arguments)
    return None


def tool_prompt(messages: list[dict[str, Any]]) -> str:
    """The text a tool name is looked for in: the last text part of the last user message
    that has text (a turn holding only tool results does not count).

    Only the last part: agents such as Claude Code put reminders that name their tools in
    earlier parts of the same turn, and those must not trigger a call.
    """
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str) and content:
            return content
        if isinstance(content, list):
            texts = [
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text" and part.get("text")
            ]
            if texts:
                return texts[-1]
    return ""
