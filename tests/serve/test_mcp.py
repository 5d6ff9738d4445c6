"""`devflow mcp` driven by the mcp SDK's own stdio client: list tools, call them, and find the
request in the report with client `mcp`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.mcpserver.exceptions import ToolError

import devflow_tui
from devflow_tui.accounting.reports import build_report
from devflow_tui.accounting.store import AnalyticsStore
from devflow_tui.config import load_settings
from devflow_tui.sim import Fault, SimServer
from tests.sim_fixture import sim  # noqa: F401

ROOT = Path(devflow_tui.__file__).resolve().parent.parent


async def test_mcp_tools_over_stdio(sim: SimServer, fake_key: str) -> None:  # noqa: F811
    env = {
        **os.environ,
        "OPENROUTER_BASE_URL": sim.base_url,
        "OPENROUTER_API_KEY": fake_key,
        "PYTHONPATH": str(ROOT),
    }
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", "from devflow_tui.cli import main; main()", "mcp"],
        env=env,
        cwd=str(ROOT),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) == {"ask", "route", "spend"}
        assert {"prompt", "task_type", "model", "max_tokens", "include_session"} <= set(
            tools["ask"].input_schema["properties"]
        )
        routed = await session.call_tool("route", {"prompt": "write a sonnet about the sea"})
        assert not routed.is_error and routed.structured_content is not None
        assert routed.structured_content["model"]
        asked = await session.call_tool(
            "ask", {"prompt": "Write a python function that adds two numbers", "max_tokens": 300}
        )
        assert not asked.is_error
        text = asked.content[0].text  # type: ignore[union-attr]
        assert text.startswith("[simulated answer from ") and "cost: $" in text
        bad = await session.call_tool("ask", {"prompt": "hi", "task_type": "dancing"})
        assert bad.is_error
        spent = await session.call_tool("spend", {"since": "all"})
        assert spent.structured_content is not None
        assert spent.structured_content["by_client"][0]["key"] == "mcp"
    settings = load_settings()
    with AnalyticsStore(settings.db_path) as store:
        report = build_report(store, since="all", by="client")
    (mcp_group,) = report.by_client
    assert mcp_group.key == "mcp" and mcp_group.requests == 1
    assert mcp_group.cost_usd is not None and mcp_group.cost_usd > 0


async def test_mcp_tools_in_process(sim: SimServer, fake_key: str) -> None:  # noqa: F811
    from devflow_tui.compose import open_gateway
    from devflow_tui.serve.mcp_server import build_server

    settings = load_settings(cli={"base_url": sim.base_url, "api_key": fake_key})
    gateway = await open_gateway(settings, demo=False)

    async def opener(_settings: object) -> object:
        return gateway

    try:
        server = build_server(settings, opener=opener)  # type: ignore[arg-type]
        names = {tool.name for tool in await server.list_tools()}
        assert names == {"ask", "route", "spend"}
        asked = await server.call_tool(
            "ask", {"prompt": "Explain recursion briefly", "task_type": "chat", "max_tokens": 200}
        )
        text = asked.content[0].text  # type: ignore[union-attr]
        assert "model: " in text and "tokens: " in text
        routed = await server.call_tool("route", {"prompt": "prove that 2+2=4"})
        assert routed.structured_content is not None  # type: ignore[union-attr]
        spent = await server.call_tool("spend", {"since": "24h"})
        data = spent.structured_content  # type: ignore[union-attr]
        assert data is not None and data["by_client"][0]["key"] == "mcp"
        sim.add_fault(Fault(kind="http_error", status=400))
        with pytest.raises(ToolError, match="HTTP 400"):
            await server.call_tool("ask", {"prompt": "this one fails"})
        with pytest.raises(ToolError, match="task_type must be one of"):
            await server.call_tool("ask", {"prompt": "x", "task_type": "dancing"})
        requests_before = len(gateway.store.recent_requests(50))
        # Refused before anything is sent or recorded, with the cause and the fix: a negative
        # max_tokens used to crash in the pipeline (its row left running), a blank prompt was
        # sent and billed.
        cases: list[tuple[dict[str, Any], str]] = [
            ({"prompt": "hi", "max_tokens": -3}, "max_tokens must be at least 1 .got -3."),
            ({"prompt": "hi", "max_tokens": 0}, "max_tokens must be at least 1"),
            ({"prompt": "   \n"}, "The prompt is empty. Pass the text"),
            ({"prompt": "a\x00b"}, "The prompt contains a NUL byte"),
        ]
        for bad, message in cases:
            with pytest.raises(ToolError, match=message):
                await server.call_tool("ask", bad)
        with pytest.raises(ToolError, match="The prompt is empty"):
            await server.call_tool("route", {"prompt": " "})
        assert len(gateway.store.recent_requests(50)) == requests_before
    finally:
        await gateway.aclose()
