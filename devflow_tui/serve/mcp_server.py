"""`devflow mcp`: an MCP server over stdio (the official `mcp` SDK) so Claude Code can hand a
task to the router by itself (`claude mcp add devflow -- devflow mcp`).

Tools: `ask` (the full pipeline, recorded with client `mcp`), `route` (the decision, nothing
sent) and `spend` (the report summary and budgets). The gateway opens on the first call and
closes when the client hangs up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from devflow_tui.config import Settings
from devflow_tui.gateway.checks import prompt_problem
from devflow_tui.gateway.pipeline import Gateway, GatewayRequest
from devflow_tui.types import TASK_TYPES
from devflow_tui.usd import format_usd

GatewayOpener = Callable[[Settings], Awaitable[Gateway]]
INSTRUCTIONS = (
    "devflow routes a prompt to the most cost-effective capable model on OpenRouter and tracks "
    "its cost. Use `ask` to delegate a self-contained task (a draft, a summary, a second "
    "opinion) to a cheaper model; `route` to see which model would take it; `spend` for the "
    "spend so far and the budgets."
)


class _Holder:
    """The gateway, opened on first use (a tool list request should not need a network)."""

    def __init__(self, settings: Settings, opener: GatewayOpener) -> None:
        self.settings = settings
        self.opener = opener
        self.gateway: Gateway | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> Gateway:
        async with self._lock:
            if self.gateway is None:
                self.gateway = await self.opener(self.settings)
            return self.gateway

    async def close(self) -> None:
        if self.gateway is not None:
            await self.gateway.aclose()
            self.gateway = None


def _check_task(task_type: str | None) -> str | None:
    if task_type is not None and task_type not in TASK_TYPES:
        raise ToolError(f"task_type must be one of {', '.join(TASK_TYPES)}; got {task_type!r}.")
    return task_type


def _check_prompt(prompt: str) -> None:
    problem = prompt_problem(prompt)
    if problem is not None:
        raise ToolError(f"The prompt {problem}. Pass the text to answer in `prompt`.")


def build_server(
    settings: Settings, *, demo: bool = False, opener: GatewayOpener | None = None
) -> MCPServer[Any]:
    """The MCP server with its three tools."""

    async def default_opener(current: Settings) -> Gateway:
        from devflow_tui.compose import open_gateway

        return await open_gateway(current, demo=demo)

    holder = _Holder(settings, opener or default_opener)

    @contextlib.asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            # Shielded: when the server is cancelled (SIGTERM), anyio cancels this await too.
            with anyio.CancelScope(shield=True):
                await holder.close()

    server: MCPServer[Any] = MCPServer(
        "devflow", instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING"
    )

    @server.tool()
    async def ask(
        prompt: str,
        task_type: str | None = None,
        model: str | None = None,
        max_tokens: int | None = None,
        include_session: bool = False,
    ) -> str:
        """Answer `prompt` with the model the router picks (or `model`, an OpenRouter id).
        `task_type` (coding, analysis, creative, reasoning, chat) overrides the classifier;
        `include_session` adds the latest Claude Code session of this project as context.
        Returns the answer, then the model, cost and tokens."""
        _check_prompt(prompt)
        if max_tokens is not None and max_tokens < 1:
            raise ToolError(
                f"max_tokens must be at least 1 (got {max_tokens}). Pass the most answer "
                "tokens to allow, or leave it out for the default."
            )
        gateway = await holder.get()
        request = GatewayRequest(
            prompt=prompt,
            model=model,
            task_type=_check_task(task_type),
            max_tokens=max_tokens,
            stream=False,
            claude_session="latest" if include_session else None,
            project_dir=Path.cwd(),
            client="mcp",
        )
        outcome = await gateway.run(request)
        if outcome.status != "ok":
            # A ToolError's message reaches the client (other exceptions are hidden as crashes).
            raise ToolError(outcome.error_message or f"The request ended as {outcome.status}.")
        cost = format_usd(outcome.cost_usd)
        return (
            f"{outcome.text}\n\n---\nmodel: {outcome.model}; cost: {cost} "
            f"({outcome.cost_source}); tokens: {outcome.prompt_tokens} in, "
            f"{outcome.completion_tokens} out"
        )

    @server.tool()
    async def route(prompt: str, task_type: str | None = None) -> dict[str, Any]:
        """Which model would take `prompt`, and why; nothing is sent."""
        _check_prompt(prompt)
        gateway = await holder.get()
        classification, decision = gateway.decide(prompt, task_type=_check_task(task_type))
        return {
            "task_type": classification.task_type,
            "complexity": classification.complexity,
            "model": decision.candidates[0].model.id if decision.candidates else None,
            "reason": decision.candidates[0].reason if decision.candidates else None,
            "estimated_cost_usd": (
                str(decision.candidates[0].estimated_cost_usd)
                if decision.candidates and decision.candidates[0].estimated_cost_usd is not None
                else None
            ),
            "fallbacks": list(decision.fallbacks),
            "warnings": list(decision.warnings),
        }

    @server.tool()
    async def spend(since: str = "7d") -> dict[str, Any]:
        """Spend over `since` (1h, 24h, 7d, 30d, all): totals, per client, per model, budgets."""
        from devflow_tui.accounting.reports import build_report

        gateway = await holder.get()
        prices = {m.id: m.prices for m in gateway.catalog}
        report = await asyncio.to_thread(
            build_report,
            gateway.store,
            since=since,
            prices=prices,
            budgets=gateway.budget_status(),
        )
        data = report.model_dump(mode="json")
        keep = ("key", "requests", "cost_usd", "prompt_tokens", "completion_tokens")
        return {
            "since": since,
            "total": {k: data["totals"][k] for k in keep},
            "by_client": [{k: g[k] for k in keep} for g in data["by_client"]],
            "by_model": [{k: g[k] for k in keep} for g in data["by_model"][:10]],
            "budgets": data["budgets"],
        }

    return server


async def serve_stdio(settings: Settings, *, demo: bool = False) -> None:
    """Serve MCP on stdin/stdout until the client closes the pipe, or until cancelled (the CLI
    cancels it on SIGTERM and SIGHUP: a tool call running is recorded as cancelled)."""
    await build_server(settings, demo=demo).run_stdio_async()
