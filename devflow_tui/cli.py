"""The `devflow` command. Parses arguments, builds objects, runs the app or one command.

Heavy modules (Textual, the simulated server, the database layer) are imported inside the
command that needs them, so `devflow ask` starts fast.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import gc
import json
import math
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from devflow_tui.accounting.windows import WINDOWS
from devflow_tui.errors import DevflowError, ErrorCategory
from devflow_tui.memory import freeze_startup
from devflow_tui.stopping import Stopped, exit_code, install_stop_handlers, stopped_by
from devflow_tui.usd import short_usd

if TYPE_CHECKING:
    from devflow_tui.accounting.reconcile import Reconciliation
    from devflow_tui.config import Settings
    from devflow_tui.context.assembly import AssembledContext
    from devflow_tui.gateway.events import GatewayEvent, RequestOutcome
    from devflow_tui.gateway.pipeline import Gateway, GatewayRequest
    from devflow_tui.routing.catalog import CatalogModel

# httpx imports its own command-line client (and with it rich and pygments, ~30 ms) when they
# are installed; we never use it. A None entry makes that optional import fail fast, and httpx
# falls back to its stub, as it documents for installs without the CLI extra.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

T = TypeVar("T")

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CREDITS = 4
EXIT_FAILURE = 5
EXIT_REJECTED = 6
OWN_PROCESS = "own_process"  # ctx.obj key: devflow runs as its own process (see `run`)
FAST_EXIT = "fast_exit"  # ctx.obj key: the command has closed all it opened (see `end_process`)
REPORT_LOCK_WAIT_S = 0.5  # how long `report` waits for the write lock it can do without

_EXIT_BY_CATEGORY = {
    ErrorCategory.CONFIG.value: EXIT_USAGE,
    ErrorCategory.AUTH.value: EXIT_AUTH,
    ErrorCategory.CREDITS.value: EXIT_CREDITS,
    ErrorCategory.BUDGET.value: EXIT_CREDITS,
    ErrorCategory.USER.value: EXIT_REJECTED,
    ErrorCategory.MODERATION.value: EXIT_REJECTED,
    ErrorCategory.RATE_LIMIT.value: EXIT_FAILURE,
    ErrorCategory.PROVIDER.value: EXIT_FAILURE,
    ErrorCategory.NETWORK.value: EXIT_FAILURE,
    ErrorCategory.TIMEOUT.value: EXIT_FAILURE,
    ErrorCategory.INVALID_RESPONSE.value: EXIT_FAILURE,
    ErrorCategory.CANCELLED.value: EXIT_FAILURE,
}

NO_KEY_MESSAGE = (
    "No OpenRouter API key found. Set one with `devflow auth set` or the OPENROUTER_API_KEY "
    "environment variable, or add --demo to use the built-in simulated OpenRouter."
)


class CollectorPaused:
    """Python's cyclic garbage collector paused while a short command imports and builds its
    objects: start-up creates a few hundred thousand objects that live until exit (classes,
    validators, compiled patterns), and the collector walked them about 125 times per `devflow
    ask`, and once more at exit, without freeing anything (~70 ms, over a tenth of the
    command). `resume()` once the heavy part is built; leaving the block resumes too.

    With `freeze` (only when devflow is its own process, see `run`), what exists then moves to
    the collector's permanent generation, so neither later collections nor the one at exit walk
    it again. Inside another program (the tests call `main` in-process) nothing is frozen: that
    would hide the caller's own objects from the collector for good."""

    def __init__(self, *, freeze: bool) -> None:
        self._freeze = freeze
        self._resume = False

    def __enter__(self) -> CollectorPaused:
        self._resume = gc.isenabled()
        gc.disable()
        return self

    def resume(self) -> None:
        if self._resume:
            self._resume = False
            if self._freeze:
                freeze_startup(collect=False)
            gc.enable()

    def __exit__(self, *_exc: object) -> None:
        self.resume()


def pause_collector(ctx: click.Context) -> CollectorPaused:
    """Pause the collector until `resume()` or the end of the command (freezing only when
    devflow is its own process)."""
    return ctx.with_resource(CollectorPaused(freeze=bool(ctx.obj.get(OWN_PROCESS))))


def exit_code_for(category: str | None) -> int:
    """The documented exit code for an error category."""
    return _EXIT_BY_CATEGORY.get(category or "", EXIT_FAILURE)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"devflow: {message}", err=True)
    sys.exit(code)


def load(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings with CLI overrides; a bad value exits 2 with a one-line message."""
    from devflow_tui.config import load_settings

    try:
        return load_settings(cli=overrides)
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)


def _set_demo(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.ensure_object(dict)["demo"] = True
    return value


demo_option = click.option(
    "--demo",
    is_flag=True,
    expose_value=False,
    callback=_set_demo,
    help="Use the built-in simulated OpenRouter and the demo database ($DEVFLOW_HOME/demo/).",
)


AUTH_WITHOUT_DEMO = (
    "`auth` manages your real OpenRouter key and demo mode needs none, so it does not take "
    "--demo (`auth clear` would remove the real key). Run it without --demo."
)


def _refuse_demo(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value or is_demo(ctx):
        fail(AUTH_WITHOUT_DEMO, EXIT_USAGE)
    return value


refused_demo_option = click.option(
    "--demo",
    is_flag=True,
    expose_value=False,
    callback=_refuse_demo,
    help="Refused: this command acts on your real key, which demo mode does not use.",
)


def is_demo(ctx: click.Context) -> bool:
    """`--demo` given before the command or after it."""
    return bool(ctx.ensure_object(dict).get("demo"))


def data_settings(ctx: click.Context, settings: Settings) -> Settings:
    """The settings whose database this command reads or writes: with `--demo` the demo
    database, the one the dashboard and `ask` use in demo mode; otherwise the real one (even
    without a key: a proxy or another process may be recording real traffic there)."""
    if not is_demo(ctx):
        return settings
    from devflow_tui.compose import demo_settings

    return demo_settings(settings)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine. SIGTERM and SIGHUP stop it as Ctrl-C does: the running
    request is cancelled and recorded, what arrived is kept, and the exit code is 128 + the
    signal's number (130 for Ctrl-C)."""
    received: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        install_stop_handlers(loop, functools.partial(_cancel_on_signal, task, received))
        return await coro

    try:
        return asyncio.run(guarded())
    except KeyboardInterrupt:
        fail("interrupted.", 130)
    except asyncio.CancelledError:
        if not received:
            raise
        fail(stopped_by(received[0]), exit_code(received[0]))
    except DevflowError as exc:
        fail(str(exc), exit_code_for(exc.category.value))


def _cancel_on_signal(task: asyncio.Task[Any] | None, received: list[int], number: int) -> None:
    received.append(number)
    if task is not None:
        task.cancel()


class DevflowGroup(click.Group):
    """The command group: Ctrl-C anywhere exits 130 (click would print "Aborted!" and exit 1),
    and a DevflowError that escapes a command is its one-line message and exit code, never a
    traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            fail("interrupted.", 130)
        except Stopped as stop:  # a signal while no loop handles them (see stopping.py)
            fail(str(stop), exit_code(stop.number))
        except DevflowError as exc:
            fail(str(exc), exit_code_for(exc.category.value))


MAX_STDIN_BYTES = 32 * 1024 * 1024  # ~8 M tokens: four times the largest context window


def read_prompt(prompt: str) -> str:
    """The prompt argument, or stdin for "-"; text that is not UTF-8 is refused (exit 2)."""
    if prompt == "-":
        from devflow_tui.filekinds import UnreadableText, read_user_text

        # Bounded: `devflow route - < /dev/zero` must end with a message, not use all memory.
        try:
            text = read_user_text(getattr(sys.stdin, "buffer", sys.stdin), MAX_STDIN_BYTES)
        except UnreadableText as exc:
            if exc.problem == "too large":
                fail(
                    f"stdin has more than {MAX_STDIN_BYTES // (1024 * 1024)} MB: more than any "
                    "model's context window holds. Send the part that matters, or attach "
                    "files as context (-c) to have them fitted.",
                    EXIT_USAGE,
                )
            fail("stdin is not UTF-8 text. Convert it (e.g. with iconv) and retry.", EXIT_USAGE)
    else:
        text = prompt
    from devflow_tui.gateway.checks import prompt_problem

    problem = prompt_problem(text)
    if problem is not None:
        fix = {
            "is not valid UTF-8 text": "Check your terminal's encoding.",
            "contains a NUL byte": "Pass text, not a binary file.",
        }.get(problem, "Pass text, or - to read it from stdin.")
        fail(f"the prompt {problem}. {fix}", EXIT_USAGE)
    return text


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(type(value).__name__)


@click.group(cls=DevflowGroup, invoke_without_command=True)
@click.option("--verbose", "-v", is_flag=True, help="Also log every API call to stderr.")
@click.option("--demo", is_flag=True, help="Use the built-in simulated OpenRouter.")
@click.version_option(package_name="devflow-tui")
@click.pass_context
def main(ctx: click.Context, verbose: bool, demo: bool) -> None:
    """devflow: route every prompt to the most cost-effective capable model via OpenRouter.

    Run without a command to open the dashboard.
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["demo"] = demo
    if ctx.invoked_subcommand is None:
        open_dashboard(ctx, demo=True if demo else None)


def open_dashboard(
    ctx: click.Context,
    *,
    demo: bool | None,
    claude_session: str | None = None,
    project: Path | None = None,
) -> None:
    settings = load(ctx)
    from devflow_tui.tui.app import create_app, dashboard_exit

    app = create_app(
        settings,
        demo=demo,
        claude_session=claude_session,
        project_dir=project,
        proxy_starter=_start_proxy,
    )
    app.run()
    # A signal, or the terminal went away (then the reason goes to /dev/null); or the app
    # crashed (Textual printed why): the shell is told too.
    code, reason = dashboard_exit(app)
    if reason:
        fail(reason, code)
    if code:
        sys.exit(code)


async def _start_proxy(settings: Settings, gateway: Any) -> Any:
    """`devflow serve` inside the dashboard; imported only when asked for (start-up time)."""
    from devflow_tui.serve.server import start_embedded

    return await start_embedded(settings, gateway)


# ---------------------------------------------------------------------- ask


class FiniteRange(click.FloatRange):
    """A float in a range; `nan` and `inf` are refused (click's range lets nan through)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a number in the range {self._describe_range()}.")
        return number


def request_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by `ask`, `route` and `context show`."""
    options = [
        click.option("--model", "-m", help="Pin a model (skip routing)."),
        click.option("--max-tokens", type=click.IntRange(min=1), help="Maximum answer tokens."),
        click.option("--cost-priority", type=FiniteRange(0, 1), help="0..1, weight of price."),
        click.option(
            "--performance-priority",
            type=FiniteRange(0, 1),
            help="0..1, weight of quality/speed.",
        ),
        click.option(
            "--task",
            type=click.Choice(["coding", "analysis", "creative", "reasoning", "chat"]),
            help="Override the task classification.",
        ),
        click.option(
            "--context", "-c", "contexts", multiple=True, help="File, directory or glob to inject."
        ),
        click.option(
            "--claude-session",
            help="Inject a Claude Code session: latest, an id, or a .jsonl path.",
        ),
        click.option(
            "--project",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            help="Project directory (default: the current one).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def build_request(prompt: str, **kw: Any) -> GatewayRequest:
    from devflow_tui.gateway.pipeline import GatewayRequest

    return GatewayRequest(
        client="cli",
        prompt=prompt,
        model=kw.get("model"),
        task_type=kw.get("task"),
        cost_priority=kw.get("cost_priority"),
        performance_priority=kw.get("performance_priority"),
        max_tokens=kw.get("max_tokens"),
        temperature=kw.get("temperature"),
        stream=not kw.get("no_stream", False),
        use_cache=not kw.get("no_cache", False),
        context_specs=list(kw.get("contexts") or ()),
        claude_session=kw.get("claude_session"),
        project_dir=kw.get("project"),
    )


async def _open(
    ctx: click.Context,
    settings: Settings,
    *,
    demo_without_key: bool = False,
    refresh: bool = False,
) -> Gateway:
    """The gateway; without a key it fails (exit 2), or with `demo_without_key` says so and
    uses the simulated server (for commands that send nothing, like `route`)."""
    from devflow_tui.compose import open_gateway

    want_demo = is_demo(ctx)
    if not want_demo and not _has_key(settings):
        if not demo_without_key:
            fail(NO_KEY_MESSAGE, EXIT_USAGE)
        click.echo(
            "devflow: no API key found; using the built-in simulated OpenRouter's catalog.",
            err=True,
        )
        want_demo = True
    return await open_gateway(
        settings,
        demo=want_demo,
        verbose=bool(ctx.obj.get("verbose")),
        force_catalog_refresh=refresh,
    )


def outcome_json(outcome: RequestOutcome) -> dict[str, Any]:
    from devflow_tui.cli_output import ask_json

    return ask_json(outcome)


@main.command()
@click.argument("prompt")
@request_options
@click.option("--temperature", type=FiniteRange(0, 2), help="Sampling temperature, 0..2.")
@click.option("--no-stream", is_flag=True, help="Wait for the whole answer instead of streaming.")
@click.option("--no-cache", is_flag=True, help="Do not answer from the response cache.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@demo_option
@click.pass_context
def ask(ctx: click.Context, /, prompt: str, as_json: bool, **kw: Any) -> None:
    """Send PROMPT (- reads stdin) to the routed model and stream the answer to stdout."""
    collector = pause_collector(ctx)
    text = read_prompt(prompt)
    settings = load(ctx)
    request = build_request(text, **kw)
    stream_to_stdout = not as_json
    received: list[str] = []  # the answer as it arrived, kept if it cannot be recorded
    unrecorded: list[DevflowError] = []
    ended: list[RequestOutcome] = []  # how the request ended, as recorded

    def on_event(event: GatewayEvent) -> None:
        from devflow_tui.gateway.events import (
            AttemptFailed,
            BudgetAlert,
            ChunkReceived,
            Failed,
            RoutingDecided,
        )

        if isinstance(event, Failed):
            ended.append(event.outcome)
        elif isinstance(event, RoutingDecided):
            for warning in event.warnings:
                click.echo(f"devflow: warning: {warning}", err=True)
        elif isinstance(event, ChunkReceived) and event.text:
            received.append(event.text)
            if stream_to_stdout:
                sys.stdout.write(event.text)
                sys.stdout.flush()
        elif isinstance(event, AttemptFailed) and ctx.obj.get("verbose"):
            click.echo(
                f"devflow: attempt on {event.record.model} failed "
                f"({event.record.error}: {event.record.message})",
                err=True,
            )
        elif isinstance(event, BudgetAlert):
            click.echo(f"devflow: {event.message}", err=True)

    async def go() -> RequestOutcome | None:
        from devflow_tui.accounting.errors import StoreError

        gateway = await _open(ctx, settings)
        collector.resume()  # what start-up built is in place; the request runs as usual
        try:
            return await gateway.run(request, on_event)
        except asyncio.CancelledError:
            # Ctrl-C, SIGTERM or SIGHUP: the request was recorded as cancelled; a script
            # reading --json still gets its one object (then the exit says what stopped it).
            if as_json and ended:
                click.echo(dumps(outcome_json(ended[-1])))
            raise
        except StoreError as exc:
            if not received:
                raise
            unrecorded.append(exc)  # e.g. the disk filled up: the answer still counts
            return None
        finally:
            await gateway.aclose()

    outcome = run_async(go())
    ctx.obj[FAST_EXIT] = True  # the gateway is closed: its records are written
    if outcome is None:
        answer = "".join(received)
        if as_json:
            from devflow_tui.cli_output import UnrecordedAskJson

            document = UnrecordedAskJson(text=answer, error=str(unrecorded[0]))
            click.echo(dumps(document.model_dump(mode="json")))
        elif not answer.endswith("\n"):
            sys.stdout.write("\n")
        fail(f"the answer could not be recorded: {unrecorded[0]}", EXIT_FAILURE)
    if as_json:
        click.echo(dumps(outcome_json(outcome)))
    elif outcome.text and not outcome.text.endswith("\n"):
        sys.stdout.write("\n")
    if outcome.secrets_removed:
        click.echo(
            f"devflow: removed {outcome.secrets_removed} secret(s) from the prompt and its context "
            "before sending (see `devflow context show`).",
            err=True,
        )
    if outcome.status == "ok":
        if outcome.finish_reason == "length":
            click.echo(
                "devflow: the answer reached the output token limit and was cut off; "
                "raise --max-tokens for a complete answer.",
                err=True,
            )
        elif not outcome.complete:
            click.echo("devflow: the answer was cut off before it was complete.", err=True)
            sys.exit(EXIT_FAILURE)
        return
    if outcome.text:
        click.echo("devflow: the answer was cut off before it was complete.", err=True)
    if not as_json:
        click.echo(f"devflow: {outcome.error_message}", err=True)
    sys.exit(exit_code_for(outcome.error_category))


# ---------------------------------------------------------------------- route


@main.command()
@click.argument("prompt")
@request_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@demo_option
@click.pass_context
def route(ctx: click.Context, /, prompt: str, as_json: bool, **kw: Any) -> None:
    """Show the routing decision for PROMPT (- reads stdin) without sending anything."""
    pause_collector(ctx)  # for the whole command: it is all start-up
    text = read_prompt(prompt)
    settings = load(ctx)
    request = build_request(text, **kw)

    async def go() -> tuple[dict[str, Any], DevflowError | None]:
        from devflow_tui.context.errors import ContextWindowError

        gateway = await _open(ctx, settings, demo_without_key=True)
        error: DevflowError | None = None
        served = None
        try:
            prepared = gateway.prepare(request)
            if not prepared.decision.candidates:
                error = await gateway.unroutable_error(prepared)
            else:
                # What `ask` would send, by the same fit rule: the model may not take it.
                try:
                    served = gateway.fit(prepared)[0][0].id
                except ContextWindowError as exc:
                    error = exc
        finally:
            await gateway.aclose()
        from devflow_tui.cli_output import route_json

        text = str(error) if error is not None else None
        data = route_json(prepared, gateway.catalog_source, text)
        if served is not None and served != data["model"]:
            data["warnings"].append(
                f"the prompt does not fit {data['model']}'s window with the margin kept for "
                f"the token estimate: {served} (a fallback) would answer"
            )
        return data, error

    data, error = run_async(go())
    if as_json:
        click.echo(dumps(data))
    else:
        _print_route(data)
    if error is not None:
        fail(str(error), exit_code_for(error.category.value))


def _print_route(data: dict[str, Any]) -> None:
    click.echo(
        f"task: {data['task_type']} ({data['complexity']})  signals: "
        f"{', '.join(data['signals']) or '-'}"
    )
    if data["model"] is None:
        click.echo("model: none (no model can take this request: why and the fix below)")
    else:
        click.echo(f"model: {data['model']}   fallbacks: {', '.join(data['fallbacks']) or '-'}")
    if data["resolved_names"]:
        click.echo("names: " + ", ".join(data["resolved_names"]))
    for warning in data["warnings"]:
        click.echo(f"warning: {warning}")
    for c in data["candidates"][:10]:
        cost = c["estimated_cost_usd"]
        cost_text = short_usd(Decimal(cost) if cost is not None else None)
        click.echo(f"  {c['score']:6.3f}  {cost_text:>11}  {c['model']:<44} {c['reason']}")


@main.command("eval-routing")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@demo_option  # accepted and the same either way: it reads FILE only, no server, no database
def eval_routing(file: Path, as_json: bool) -> None:
    """Score the classifier on FILE: JSONL with prompt, task_type and optional complexity.

    Prints accuracy, the confusion matrices, figures per language and the worst misses, so
    you can check the router on your own traffic. Nothing is sent anywhere.
    """
    from devflow_tui.routing.evaluation import evaluate, load_labelled, render_report

    try:
        rows = load_labelled(file)
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)
    report = evaluate(rows)
    if as_json:
        click.echo(dumps(report.model_dump(mode="json")))
        return
    click.echo(f"{len(rows)} labelled prompts from {file}")
    click.echo(render_report(report))


def _has_key(settings: Settings) -> bool:
    from devflow_tui.keystore import KeyStore, resolve_api_key

    return resolve_api_key(settings, KeyStore(settings.home))[0] is not None


# ---------------------------------------------------------------------- models


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--refresh", is_flag=True, help="Fetch the catalog now instead of using the cache.")
@demo_option
@click.pass_context
def models(ctx: click.Context, as_json: bool, refresh: bool) -> None:
    """List the model catalog with prices per million tokens, context and capabilities."""
    settings = load(ctx)

    from devflow_tui.cli_output import ModelJson, ModelsJson

    async def go() -> ModelsJson:
        from devflow_tui.routing.names import UnknownModelError

        gateway = await _open(ctx, settings, demo_without_key=True, refresh=refresh)
        try:
            names, error = [], None
            try:
                names = gateway.model_names()
            except UnknownModelError as exc:
                error = str(exc)
            return ModelsJson(
                source=gateway.catalog_source,
                models=[
                    ModelJson.of(m, gateway.health.stats(m.id))
                    for m in sorted(gateway.catalog, key=lambda m: m.id)
                ],
                names=names,
                names_error=error,
            )
        finally:
            await gateway.aclose()

    listing = run_async(go())
    if listing.names_error:
        click.echo(f"devflow: error in the settings: {listing.names_error}", err=True)
    if as_json:
        click.echo(dumps(listing.model_dump(mode="json")))
        return
    click.echo(
        f"{len(listing.models)} models (source: {listing.source}); prices in USD per million tokens"
    )
    for line in listing.names:
        click.echo(f"  name {line}")
    for r in listing.models:
        p, c = r.prompt_per_million_usd, r.completion_per_million_usd
        # Measured health, as the dashboard's models screen shows it (none before a request).
        health = "no data yet"
        if r.success_rate is not None:
            health = f"{r.success_rate:.0%} ok"
            if r.latency_p50_ms is not None:
                health += f", p50 {r.latency_p50_ms:,.0f} ms"
        click.echo(
            f"  {r.id:<46} in {p if p is not None else 'unknown':>8}  out "
            f"{c if c is not None else 'unknown':>8}  ctx {r.context_length or '?':>8}  "
            f"health {health:<20}  {','.join(r.capabilities)}"
        )


# ---------------------------------------------------------------------- report


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--since",
    default="30d",
    type=click.Choice(WINDOWS),
    help="The window: the last hour, day, 7 or 30 days, or all time.",
)
@click.option(
    "--by", default="model", type=click.Choice(["model", "task", "day", "client", "member"])
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also export the grouped rows to this CSV file.",
)
@click.option(
    "--export-json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also export the whole report to this JSON file.",
)
@click.option(
    "--from-rows",
    is_flag=True,
    help="Add every figure up from the request rows instead of the rollups (slower; for "
    "checking the rollups). Percentiles are then always exact.",
)
@demo_option
@click.pass_context
def report(
    ctx: click.Context,
    as_json: bool,
    since: str,
    by: str,
    csv_path: Path | None,
    json_path: Path | None,
    from_rows: bool,
) -> None:
    """Requests, cost, latency, savings against a baseline model, and recommendations."""
    settings = data_settings(ctx, load(ctx))
    from devflow_tui.accounting.budget import BudgetManager
    from devflow_tui.accounting.reports import build_report, report_to_csv
    from devflow_tui.accounting.store import AnalyticsStore
    from devflow_tui.routing.catalog import ModelCatalog

    store = _open_store(settings, AnalyticsStore)
    try:
        with contextlib.suppress(DevflowError):
            # Rows and budget reservations of killed processes count at once. A report only
            # reads: when the database is read-only, or another process holds its write lock
            # for more than a moment, it goes on without this.
            store.mark_stale_running_as_interrupted(wait_s=REPORT_LOCK_WAIT_S)
        catalog = _cached_catalog(store, ModelCatalog)
        prices = {m.id: m.prices for m in catalog}
        # The key's credit limit is real money: not part of the demo's figures.
        key_info = None if is_demo(ctx) else _key_info(settings)
        budgets = BudgetManager(store, settings.budget, settings.cost_budget_usd).status(key_info)
        rep = build_report(
            store,
            since=since,
            by=by,
            baseline_model=settings.baseline_model,
            prices=prices,
            budgets=budgets,
            from_rows=from_rows,
        )
    finally:
        store.close()
    data = rep.model_dump(mode="json")
    if csv_path:
        _write(csv_path, report_to_csv(rep, by))
    if json_path:
        _write(json_path, dumps(data))
    if as_json:
        click.echo(dumps(data))
    else:
        click.echo(render_report(rep))


def _key_info(settings: Settings) -> Any:
    """The key's OpenRouter credit limit and usage, best effort (None offline or keyless)."""
    from devflow_tui.keystore import KeyStore, resolve_api_key

    key, _source = resolve_api_key(settings, KeyStore(settings.home))
    if key is None:
        return None
    quick = settings.model_copy(update={"max_retries": 0, "timeout_ms": 3000})
    try:
        return _fetch_key(quick, key)
    except DevflowError:
        return None


def _fetch_key(settings: Settings, key: str) -> Any:
    """OpenRouter's /key answer for `key`; a DevflowError if it cannot be had."""
    from devflow_tui.openrouter.client import OpenRouterClient

    async def fetch() -> Any:
        async with OpenRouterClient(settings, api_key=key) as client:
            return await client.get_key()

    return asyncio.run(fetch())


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}. Pick a writable path.", EXIT_USAGE)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render_report(rep: Any) -> str:
    """The report as text for a terminal: totals, one table per grouping, savings, advice."""

    t = rep.totals
    rate = "-" if t.success_rate is None else f"{t.success_rate:.0%}"
    # How the requests ended, each kind named when there is one: the success rate leaves out
    # refused and cancelled requests, which were otherwise nowhere in the text.
    ends = ", ".join(
        f"{n} {name}"
        for n, name in (
            (t.ok, "ok"),
            (t.failed, "failed"),
            (t.cancelled, "cancelled"),
            (t.refused, "refused"),
        )
        if n
    )
    lines = [
        f"Since {rep.since}: {t.requests} requests{f' ({ends})' if ends else ''}, "
        f"{rate} of those sent ok, {t.cache_hits} cache hits",
        f"Cost {short_usd(t.cost_usd)} (reported {short_usd(t.cost_reported_usd)}, estimated "
        f"{short_usd(t.cost_estimated_usd)}, {t.unknown_cost_requests} with unknown cost)",
        f"Tokens: {t.prompt_tokens} in, {t.completion_tokens} out.  Latency p50/p95/p99 "
        f"{_ms(t.latency_p50_ms)}/{_ms(t.latency_p95_ms)}/{_ms(t.latency_p99_ms)} ms, "
        f"first token p50/p95 {_ms(t.ttft_p50_ms)}/{_ms(t.ttft_p95_ms)} ms",
    ]
    groups = {
        "model": rep.by_model,
        "task": rep.by_task,
        "day": rep.by_day,
        "client": rep.by_client,
        "member": rep.by_member,
    }[rep.by]
    lines.append("")
    lines.append(
        f"{'by ' + rep.by:<44} {'req':>5} {'ok':>5} {'cost':>11} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'tok/s':>6}"
    )
    for g in groups:
        ok = "-" if g.success_rate is None else f"{g.success_rate:.0%}"
        tps = "-" if g.tokens_per_s is None else f"{g.tokens_per_s:.0f}"
        lines.append(
            f"{g.key[:44]:<44} {g.requests:>5} {ok:>5} {short_usd(g.cost_usd):>11} "
            f"{_ms(g.latency_p50_ms):>7} {_ms(g.latency_p95_ms):>7} {tps:>6}"
        )
    sv = rep.savings
    lines.append("")
    if sv.baseline_model and sv.baseline_cost_usd is not None:
        lines.append(
            f"Savings: {short_usd(sv.actual_cost_usd)} spent vs "
            f"{short_usd(sv.baseline_cost_usd)} on "
            f"{sv.baseline_model}: saved {short_usd(sv.saved_usd)}"
        )
    else:
        lines.append(f"Savings: {sv.note or 'no priced requests yet'}")
    for b in rep.budgets:
        limit = "no limit" if b.limit_usd is None else short_usd(b.limit_usd)
        lines.append(f"Budget {b.name}: {short_usd(b.spent_usd)} of {limit}")
    if rep.escalations:
        lines.append("")
        lines.append("Escalations (answers re-asked with a stronger model):")
        lines.extend(
            f"  {e.model[:44]:<44} {e.task_type or '-':<10} {e.escalated:>4} of {e.answered:<5} "
            f"{e.rate:.0%}"
            for e in rep.escalations
        )
    if rep.recommendations:
        lines.append("")
        lines.append("Recommendations:")
        lines.extend(f"  - {r}" for r in rep.recommendations)
    return "\n".join(lines)


def _open_store(settings: Settings, store_cls: Any) -> Any:
    from devflow_tui.config import ensure_home

    try:
        ensure_home(settings)
        return store_cls.open(settings)
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)


def _cached_catalog(store: Any, catalog_cls: Any) -> Any:
    from devflow_tui.openrouter.wire import ModelInfo

    cached = store.load_catalog()
    if cached:
        return catalog_cls.from_wire([ModelInfo.model_validate(m) for m in cached[0]])
    return catalog_cls.bundled()


@main.command()
@click.option("--limit", default=50, type=click.IntRange(1, 1000), help="Requests to check.")
@click.option("--json", "as_json", is_flag=True)
@demo_option
@click.pass_context
def reconcile(ctx: click.Context, limit: int, as_json: bool) -> None:
    """Fetch the billed cost of recent requests from /generation and report drift."""
    settings = load(ctx)

    async def go() -> Reconciliation:
        from devflow_tui.accounting.reconcile import reconcile as do_reconcile

        gateway = await _open(ctx, settings)
        try:
            # A 404 is reported as not billed yet, not waited on: run this again later.
            fetch = functools.partial(gateway.client.get_generation, wait_s=0.0)
            return await do_reconcile(gateway.store, fetch, limit=limit)
        finally:
            await gateway.aclose()

    done = run_async(go())
    drifts = done.drifts
    if as_json:
        click.echo(dumps([d.model_dump(mode="json") for d in drifts]))
        return
    if done.unresolved:
        where = (
            "the simulated server of this run never saw them (each demo run starts its own)"
            if is_demo(ctx)
            else "OpenRouter has no bill for them yet; run this again in a minute"
        )
        click.echo(f"{done.unresolved} request(s) not reconciled: {where}.")
    if not drifts:
        if not done.unresolved:
            click.echo("Nothing to reconcile: every recent request with a generation id is billed.")
        return
    from devflow_tui.accounting.reconcile import summarise

    click.echo(f"{'model':<40} {'recorded':>12} {'billed':>12} {'drift':>12}")
    for d in drifts:
        click.echo(
            f"{(d.model or '?')[:40]:<40} {short_usd(d.recorded_usd):>12} "
            f"{short_usd(d.billed_usd):>12} "
            f"{short_usd(d.drift_usd):>12}"
        )
    total = summarise(drifts)
    fraction = total.drift_fraction
    click.echo(
        f"{total.requests} requests reconciled: billed {short_usd(total.billed_usd)}; where we had "
        f"a cost, recorded {short_usd(total.recorded_usd)} against "
        f"{short_usd(total.billed_of_recorded_usd)}"
        f" billed (drift {short_usd(total.drift_usd)}"
        + (f", {fraction:+.1%}" if fraction is not None else "")
        + f"); {total.previously_unknown} had an unknown cost until now."
    )


# ---------------------------------------------------------------------- auth


@main.group()
def auth() -> None:
    """Store, check or remove the OpenRouter API key (kept outside the project)."""


@auth.command("set")
@click.option("--key", help="The key (default: prompt for it without echo, or read stdin).")
@refused_demo_option
@click.pass_context
def auth_set(ctx: click.Context, key: str | None) -> None:
    """Store a key (replacing the old one atomically), then check it against /key."""
    from devflow_tui.keystore import KeyStore, check_key
    from devflow_tui.redaction import mask_key

    settings = load(ctx)
    if key is None:
        if sys.stdin.isatty():
            key = click.prompt("OpenRouter API key", hide_input=True)
        else:
            key = sys.stdin.readline()
    try:
        key = check_key(key or "")
        where = KeyStore(settings.home).set(key)
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)
    click.echo(f"Stored {mask_key(key)} in the {where}.")
    if settings.api_key is not None:
        click.echo(
            f"devflow: note: OPENROUTER_API_KEY ({settings.key_hint}) is set and takes "
            "precedence over the stored key; unset it to use the stored one.",
            err=True,
        )
    _show_key_status(ctx, settings, key)


@auth.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@refused_demo_option
@click.pass_context
def auth_status(ctx: click.Context, as_json: bool) -> None:
    """Show which key is used, from where, and its label, limit and usage."""
    from devflow_tui.keystore import KeyStore, resolve_api_key

    settings = load(ctx)
    key, source = resolve_api_key(settings, KeyStore(settings.home))
    if key is None:
        fail(NO_KEY_MESSAGE, EXIT_USAGE)
    from devflow_tui.redaction import mask_key

    if as_json:
        info = _key_status(settings, key)
        document = {"key": mask_key(key), "source": source, "openrouter": info.model_dump()}
        click.echo(dumps(document))
        return
    click.echo(f"Key {mask_key(key)} from {source}.")
    _show_key_status(ctx, settings, key)


def _key_status(settings: Settings, key: str) -> Any:
    """OpenRouter's /key answer for `key` (exits with the error's message if it fails)."""
    try:
        return _fetch_key(settings, key)
    except DevflowError as exc:
        fail(str(exc), exit_code_for(exc.category.value))


def _show_key_status(ctx: click.Context, settings: Settings, key: str) -> None:
    info = _key_status(settings, key)
    limit = f"${info.limit}" if info.limit is not None else "no limit"
    click.echo(
        f"OpenRouter: label {info.label or '-'}, limit {limit}, usage "
        f"${info.usage if info.usage is not None else '?'}"
        + (f", remaining ${info.limit_remaining}" if info.limit_remaining is not None else "")
    )


@auth.command("clear")
@refused_demo_option
@click.pass_context
def auth_clear(ctx: click.Context) -> None:
    """Remove the stored key from the keyring and the key file."""
    from devflow_tui.keystore import KeyStore

    settings = load(ctx)
    removed = KeyStore(settings.home).clear()
    click.echo(f"Removed the key from: {', '.join(removed)}." if removed else "No stored key.")
    if settings.api_key is not None:
        click.echo(
            f"devflow: note: OPENROUTER_API_KEY ({settings.key_hint}) is still set in the "
            "environment and is still used; unset it too.",
            err=True,
        )


# ---------------------------------------------------------------------- sim


@main.command()
@click.option("--port", default=8787, type=click.IntRange(0, 65535), help="Port on 127.0.0.1.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file with latency profiles and fault injection.",
)
@demo_option  # accepted and the same either way: this is the simulated server
def sim(port: int, config_path: Path | None) -> None:
    """Run the simulated OpenRouter on 127.0.0.1 until interrupted."""
    from devflow_tui.sim import SimConfig, serve_forever

    try:
        config = SimConfig.from_toml(config_path) if config_path else SimConfig()
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        serve_forever(port, config, announce=click.echo)
    except OSError as exc:
        fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}. Pick another --port.", EXIT_USAGE)
    except KeyboardInterrupt:
        click.echo("stopped.")


# ---------------------------------------------------------------------- serve and mcp


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Default 4141.")
@click.option("--print-env", is_flag=True, help="Print the shell exports for clients and exit.")
@click.option("--new-token", metavar="LABEL", help="Add a token whose label names its client.")
@click.option("--rotate-token", metavar="LABEL", help="Give a token a new value; the old fails.")
@click.option("--revoke-token", metavar="LABEL", help="Remove a token; its clients get 401.")
@click.option("--list-tokens", is_flag=True, help="List the token labels (values masked).")
@demo_option
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    print_env: bool,
    new_token: str | None,
    rotate_token: str | None,
    revoke_token: str | None,
    list_tokens: bool,
) -> None:
    """Anthropic- and OpenAI-compatible proxy: Claude Code and SDKs through the router."""
    from devflow_tui.serve.command import env_exports, proxy_url, serve_main, token_list
    from devflow_tui.serve.tokens import ProxyTokens

    settings = load(ctx)
    host = host or settings.serve.host
    port = settings.serve.port if port is None else port
    try:
        tokens = ProxyTokens.load(settings.home)
        if new_token or rotate_token:
            url = proxy_url(host, port)  # before the change: port 0 has no URL to print
            if new_token:
                token = tokens.add(settings.home, new_token)
            else:
                token = tokens.rotate(settings.home, rotate_token or "")
            click.echo(env_exports(url, token))
            return
        if revoke_token:
            tokens.revoke(settings.home, revoke_token)
            click.echo(f"revoked the proxy token {revoke_token!r}; its clients now get 401.")
            return
        if list_tokens:
            click.echo(token_list(tokens))
            return
        if print_env:
            click.echo(env_exports(proxy_url(host, port), tokens.default))
            return
        demo = bool(ctx.obj.get("demo"))
        if not demo and not _has_key(settings):
            fail(NO_KEY_MESSAGE, EXIT_USAGE)
        serve_main(
            settings,
            host=host,
            port=port,
            demo=demo,
            verbose=bool(ctx.obj.get("verbose")),
            announce=click.echo,
            freeze=bool(ctx.obj.get(OWN_PROCESS)),
        )
    except DevflowError as exc:
        fail(str(exc), exit_code_for(exc.category.value))
    except KeyboardInterrupt:
        click.echo("stopped.")


@main.command()
@demo_option
@click.pass_context
def mcp(ctx: click.Context) -> None:
    """MCP server over stdio: tools ask, route and spend, for Claude Code to delegate."""
    from devflow_tui.serve.mcp_server import serve_stdio

    settings = load(ctx)
    demo = bool(ctx.obj.get("demo"))
    if not demo and not _has_key(settings):
        fail(NO_KEY_MESSAGE, EXIT_USAGE)
    run_async(serve_stdio(settings, demo=demo))  # stops on SIGTERM and SIGHUP as `ask` does


# ---------------------------------------------------------------------- team


@main.group()
def team() -> None:
    """Team members of a shared `devflow serve`: their proxy tokens and monthly budgets."""


def _with_members(ctx: click.Context, action: Callable[[Any], T]) -> T:
    """Run `action` on the team's members; a refused one exits 2 with its message."""
    from devflow_tui.accounting.members import Members
    from devflow_tui.accounting.store import AnalyticsStore

    store = _open_store(data_settings(ctx, load(ctx)), AnalyticsStore)
    try:
        return action(Members(store))
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)
    finally:
        store.close()


def _show_token(name: str, token: str) -> None:
    click.echo(f"Token for {name} (shown once; only its hash is kept):")
    click.echo(f"  {token}")
    click.echo(
        "They send it to `devflow serve` as their API key: ANTHROPIC_AUTH_TOKEN for Claude "
        "Code, OPENAI_API_KEY for OpenAI clients."
    )


@team.command("add")
@click.argument("name")
@click.option(
    "--budget-monthly",
    default=None,
    metavar="USD",
    help="The most this member may spend per calendar month (UTC).",
)
@demo_option  # the demo database has its own members
@click.pass_context
def team_add(ctx: click.Context, name: str, budget_monthly: str | None) -> None:
    """Add a member and print their proxy token."""
    limit = None if budget_monthly is None else _decimal_arg(budget_monthly, "--budget-monthly")
    _show_token(name, _with_members(ctx, lambda members: members.add(name, limit)))


@team.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@demo_option  # the demo database has its own members
@click.pass_context
def team_list(ctx: click.Context, as_json: bool) -> None:
    """Members, their monthly budgets and what they spent this month."""

    rows = _with_members(ctx, lambda members: members.list())
    if as_json:
        click.echo(dumps([r.model_dump(mode="json") for r in rows]))
        return
    if not rows:
        click.echo("No members. Add one with `devflow team add NAME [--budget-monthly USD]`.")
        return
    click.echo(f"{'member':<40} {'this month':>12} {'monthly budget':>15}")
    for r in rows:
        limit = "none" if r.budget_monthly_usd is None else short_usd(r.budget_monthly_usd)
        click.echo(f"{r.name:<40} {short_usd(r.spent_this_month_usd):>12} {limit:>15}")


@team.command("budget")
@click.argument("name")
@click.argument("usd")
@demo_option  # the demo database has its own members
@click.pass_context
def team_budget(ctx: click.Context, name: str, usd: str) -> None:
    """Set a member's monthly budget in USD (`none` removes it)."""

    limit = None if usd.strip().lower() == "none" else _decimal_arg(usd, "USD")
    _with_members(ctx, lambda members: members.set_budget(name, limit))
    shown = "no monthly budget" if limit is None else f"a monthly budget of {short_usd(limit)}"
    click.echo(f"{name} now has {shown}.")


def _decimal_arg(text: str, what: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        fail(f"{what} {text!r} is not a number. Give dollars, e.g. 25 or 12.50.", EXIT_USAGE)


@team.command("rotate-token")
@click.argument("name")
@demo_option  # the demo database has its own members
@click.pass_context
def team_rotate_token(ctx: click.Context, name: str) -> None:
    """Give a member a new token; the old one stops working at once."""
    _show_token(name, _with_members(ctx, lambda members: members.rotate_token(name)))


@team.command("remove")
@click.argument("name")
@demo_option  # the demo database has its own members
@click.pass_context
def team_remove(ctx: click.Context, name: str) -> None:
    """Remove a member: their token stops working; their recorded spend stays."""
    _with_members(ctx, lambda members: members.remove(name))
    click.echo(f"Removed {name}; their requests stay in the reports.")


# ---------------------------------------------------------------------- notes


@main.group()
def note() -> None:
    """Pinned notes injected into every request (of this project, or --global)."""


@note.command("add")
@click.argument("text")
@click.option("--global", "is_global", is_flag=True, help="For every project.")
@demo_option
@click.pass_context
def note_add(ctx: click.Context, text: str, is_global: bool) -> None:
    from devflow_tui.accounting.store import AnalyticsStore

    settings = data_settings(ctx, load(ctx))
    from devflow_tui.context.notes import NoteSource, project_key

    store = _open_store(settings, AnalyticsStore)
    try:
        note_id = NoteSource(store, project_key(Path.cwd())).add(text, global_=is_global)
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)
    finally:
        store.close()
    click.echo(f"Added note {note_id}.")


@note.command("list")
@click.option("--json", "as_json", is_flag=True)
@demo_option
@click.pass_context
def note_list(ctx: click.Context, as_json: bool) -> None:
    from devflow_tui.accounting.store import AnalyticsStore
    from devflow_tui.context.notes import project_key

    settings = data_settings(ctx, load(ctx))
    store = _open_store(settings, AnalyticsStore)
    try:
        notes = store.list_notes(project_key(Path.cwd()))
    finally:
        store.close()
    if as_json:
        click.echo(dumps([n.model_dump(mode="json") for n in notes]))
        return
    if not notes:
        click.echo("No notes. Add one with `devflow note add TEXT`.")
    for n in notes:
        scope = "global" if n.project is None else "project"
        click.echo(f"{n.id:>4}  [{scope}] {n.text}")


@note.command("rm")
@click.argument("note_id", type=click.IntRange(1, 2**63 - 1))  # SQLite's INTEGER range
@demo_option
@click.pass_context
def note_rm(ctx: click.Context, note_id: int) -> None:
    from devflow_tui.accounting.store import AnalyticsStore

    settings = data_settings(ctx, load(ctx))
    store = _open_store(settings, AnalyticsStore)
    try:
        removed = store.remove_note(note_id)
    finally:
        store.close()
    if not removed:
        fail(f"there is no note {note_id}. See `devflow note list`.", EXIT_USAGE)
    click.echo(f"Removed note {note_id}.")


# ---------------------------------------------------------------------- context & handoff


@main.group()
def context() -> None:
    """Inspect the context that would be injected."""


@context.command("show")
@click.argument("prompt", default="(no prompt)")
@request_options
@click.option("--json", "as_json", is_flag=True)
@demo_option
@click.pass_context
def context_show(ctx: click.Context, /, prompt: str, as_json: bool, **kw: Any) -> None:
    """Print what would be sent for PROMPT (- reads stdin), without sending it."""
    settings = load(ctx)
    request = build_request(read_prompt(prompt), **kw)

    async def go() -> tuple[CatalogModel, AssembledContext]:
        gateway = await _open(ctx, settings, demo_without_key=True)
        try:
            prepared = gateway.prepare(request)
            if not prepared.decision.candidates:
                fail("no model can take this context; see `devflow route`.", EXIT_REJECTED)
            # The model `ask` would send to, by the one fit rule (ContextWindowError, exit 6,
            # when none of the chain takes it): not the routed model when it lacks the margin.
            chain, assembled = gateway.fit(prepared)
        finally:
            await gateway.aclose()
        return chain[0], assembled

    model, assembled = run_async(go())
    if as_json:
        from devflow_tui.cli_output import ContextShowJson

        click.echo(dumps(ContextShowJson.of(model, assembled).model_dump(mode="json")))
        return
    click.echo(f"For {model.id}:")
    for line in assembled.describe():
        click.echo(f"  {line}")


@main.command()
@click.argument("session", default="latest")
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Project directory whose sessions to look in (default: current).",
)
@demo_option
@click.pass_context
def handoff(ctx: click.Context, session: str, project: Path | None) -> None:
    """Open the dashboard with a Claude Code SESSION (latest, id, prefix or .jsonl) as context."""
    from devflow_tui.context.claude_sessions import claude_root, resolve_session

    project_dir = (project or Path.cwd()).resolve()
    try:
        resolve_session(session, project_dir, claude_root())
    except DevflowError as exc:
        fail(str(exc), EXIT_USAGE)
    open_dashboard(
        ctx, demo=True if is_demo(ctx) else None, claude_session=session, project=project_dir
    )


def run() -> None:
    """The `devflow` program (the console script): `main` as a process of its own, which lets
    `ask` freeze its start-up objects out of the garbage collector's view (CollectorPaused)
    and end the process without the interpreter's teardown (`end_process`), and compiles the
    methods `dataclasses` generates once for all runs (`dataclass_cache`).

    It also loads no third-party pydantic plugins: looking for them reads the entry points of
    every installed package (5-10 ms of every start-up) and devflow uses none. A value the
    user set wins (an empty PYDANTIC_DISABLE_PLUGINS loads them)."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from devflow_tui.dataclass_cache import install

    undo = install()  # dataclasses' generated methods, compiled once (see dataclass_cache)
    obj: dict[str, Any] = {OWN_PROCESS: True}
    try:
        main(obj=obj)
    except SystemExit as exc:
        if obj.get(FAST_EXIT):
            end_process(exc)
        raise
    finally:
        undo()


def end_process(exc: SystemExit, exit_now: Callable[[int], object] = os._exit) -> None:
    """End the process as `sys.exit` would, minus the interpreter's teardown.

    Teardown frees every module, class and validator one by one (10-15 ms of a `devflow ask`)
    and writes nothing: by the time `ask` returns, its gateway has closed (the recorder's
    queue drained, the database closed after its last commit). What a normal exit does that
    matters is done here first: wait for no other thread (with one still running, this
    returns and the exit is the normal one), flush stdout and stderr (a failed flush, e.g. a
    closed pipe, also leaves it to the normal exit, which reports it as usual), and run the
    exit handlers (logging flushes and closes its files). CPython's own multiprocessing ends
    its forked children the same way."""
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        return
    code = exc.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        return  # a message to print: the normal exit prints it
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()  # the exit handlers the interpreter would run, in the same order
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    exit_now(status)
