"""`devflow serve`: settings, token and checks before the server starts, and `--print-env`."""

from __future__ import annotations

import socket
from collections.abc import Callable

from devflow_tui.config import Settings
from devflow_tui.errors import ConfigError, DevflowError
from devflow_tui.memory import freeze_startup
from devflow_tui.redaction import mask_key
from devflow_tui.serve.tokens import ProxyTokens


def env_exports(url: str, token: str) -> str:
    """Shell exports that point Claude Code and OpenAI clients at the proxy."""
    return "\n".join(
        (
            "# Claude Code and the anthropic SDK",
            f"export ANTHROPIC_BASE_URL={url}",
            f"export ANTHROPIC_AUTH_TOKEN={token}",
            "export ANTHROPIC_API_KEY=",
            "# OpenAI clients (openai SDK, and tools that read these)",
            f"export OPENAI_BASE_URL={url}/v1",
            f"export OPENAI_API_KEY={token}",
        )
    )


def token_list(tokens: ProxyTokens) -> str:
    """The proxy tokens by label, values masked (`devflow serve --list-tokens`)."""
    where = "DEVFLOW_PROXY_TOKEN" if tokens.source == "env" else tokens.source
    lines = [f"proxy tokens ({where}):"]
    lines += [f"  {label:<20} {mask_key(token)}" for label, token in tokens.by_label.items()]
    return "\n".join(lines)


def proxy_url(host: str, port: int) -> str:
    """The URL clients use for a proxy on `host`:`port`; port 0 has none before it starts."""
    if port == 0:
        raise ConfigError(
            "Port 0 means any free port, picked when the proxy starts, so there is no URL "
            "to print yet.",
            hint="Start `devflow serve --port 0`, read the port it prints, then pass it: "
            "`devflow serve --print-env --port N`; or pick a fixed --port.",
        )
    return http_origin(host, port)


def http_origin(host: str, port: int) -> str:
    """`http://host:port`, with an IPv6 address in brackets (`http://[::1]:4141`) as URLs need."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def bind_port(host: str, port: int) -> socket.socket:
    """The proxy's listening socket, bound before start-up so the banner says the real port
    (port 0: one the system picks); a taken address fails early, with a clear message. It
    listens at once: a client that read the banner waits in the backlog until uvicorn serves,
    instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            hint="Pick another --port, or stop what is using it.",
        ) from None
    return sock


def print_env_command(settings: Settings, host: str, port: int) -> str:
    """The `--print-env` command that gives the exports of a proxy at `host`:`port`."""
    command = "devflow serve --print-env"
    if host != settings.serve.host:
        command += f" --host {host}"
    if port != settings.serve.port:
        command += f" --port {port}"
    return command


def _db_path(settings: Settings, demo: bool) -> str:
    # Demo traffic is kept apart from real spend, in the demo home: one rule, compose's.
    from devflow_tui.compose import demo_settings

    return str((demo_settings(settings) if demo else settings).db_path)


def banner(settings: Settings, host: str, port: int, tokens: ProxyTokens, demo: bool) -> str:
    """What `devflow serve` prints once its socket is bound (`port`: the real one)."""
    where = proxy_url(host, port)
    lines = [
        f"devflow serve listening on {where}"
        + (" (simulated OpenRouter: answers are fake and free)" if demo else ""),
        "  Anthropic Messages: POST /v1/messages    OpenAI chat: POST /v1/chat/completions",
        f"  proxy token {mask_key(tokens.default)} ({tokens.source}); "
        f"`{print_env_command(settings, host, port)}` prints the exports",
        f"  spend is recorded in {_db_path(settings, demo)}; Ctrl+C stops",
    ]
    return "\n".join(lines)


def serve_main(
    settings: Settings,
    *,
    host: str,
    port: int,
    demo: bool,
    verbose: bool,
    announce: Callable[[str], None],
    freeze: bool = False,
) -> None:
    """Start the proxy in the foreground (blocks until Ctrl+C); `freeze`: devflow is its own
    process, so what start-up built can be frozen out of the garbage collector's view."""
    from devflow_tui.compose import open_gateway
    from devflow_tui.gateway.pipeline import Gateway
    from devflow_tui.serve.app import create_app
    from devflow_tui.serve.server import is_loopback, run

    tokens = ProxyTokens.load(settings.home)
    sock = bind_port(host, port)
    port = sock.getsockname()[1]
    if not is_loopback(host):
        announce(
            f"warning: listening on {host}, reachable from other machines. Anyone with the "
            "proxy token can spend your OpenRouter credit."
        )

    async def opener(current: Settings) -> Gateway:
        gateway = await open_gateway(current, demo=demo, verbose=verbose)
        try:
            gateway.model_names()
        except DevflowError as exc:
            # Said once here; each routed request is refused with the same error until fixed.
            announce(f"error in the settings: {exc}")
        if freeze:
            freeze_startup()
        return gateway

    # Announced once start-up has succeeded: a [serve.models] target that is no model stops
    # it first, with its one line, and nothing claims to be listening.
    def ready() -> None:
        announce(banner(settings, host, port, tokens, demo))

    app = create_app(settings, tokens, opener=opener, on_ready=ready)
    run(app, sock)
