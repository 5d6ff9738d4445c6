"""Running the proxy: in the foreground (`devflow serve`), on a background thread (tests,
benchmarks), or as a task on a running event loop (the dashboard's embedded proxy).

uvicorn serves the Starlette app; port 0 binds an ephemeral port, read back once started.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Generator
from typing import Any

import uvicorn
from starlette.applications import Starlette

from devflow_tui.config import Settings
from devflow_tui.gateway.pipeline import Gateway
from devflow_tui.serve.command import http_origin
from devflow_tui.stopping import ignored

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_loopback(host: str) -> bool:
    """True when `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host (thread or dashboard)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    @property
    def port(self) -> int:
        for server in self.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        raise RuntimeError("The proxy is not listening yet.")


class _ForegroundServer(uvicorn.Server):
    """uvicorn's server for `devflow serve`. uvicorn stops gracefully on SIGINT and SIGTERM (and
    re-raises the signal afterwards, so the exit status says which); a SIGHUP (the terminal or
    ssh session it runs in closed) killed the proxy on the spot, the requests in flight left
    running. Here SIGHUP stops it the same graceful way, unless it is ignored (`nohup`)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        with super().capture_signals():
            hangup = getattr(signal, "SIGHUP", None)
            if (
                hangup is None
                or threading.current_thread() is not threading.main_thread()
                or ignored(hangup)
            ):
                yield
                return
            # Restored before uvicorn re-raises the signal on its way out.
            previous = signal.signal(hangup, self.handle_exit)
            try:
                yield
            finally:
                signal.signal(hangup, previous)


class _CancelledAtShutdown(logging.Filter):
    """uvicorn cancels the requests still running when its graceful shutdown times out, says so
    in one line ("Cancel 1 running task(s), timeout graceful shutdown exceeded"), then logs each
    cancellation as an application error with its traceback. The gateway records those requests
    as cancelled; the traceback would only alarm the user who stopped the proxy."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


_SHUTDOWN_FILTER = _CancelledAtShutdown()

KEEP_ALIVE_S = 75


def _config(app: Starlette, host: str, port: int, **extra: Any) -> uvicorn.Config:
    # After uvicorn.Config, which sets up uvicorn's loggers (keeping their filters).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # Nothing here reads the client's address, so uvicorn's middleware that rewrites it
        # from X-Forwarded-For (a layer every request and every write passes through) is off.
        proxy_headers=False,
        # A client reuses an idle keep-alive connection until its own expiry (httpx 5 s, Node's
        # agents 4-5 s, aiohttp 15 s); uvicorn's default 5 s closed connections just as clients
        # sent on them: a reset before any header. The server outlasts its clients instead.
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=5,
        **extra,
    )
    errors = logging.getLogger("uvicorn.error")
    if _SHUTDOWN_FILTER not in errors.filters:
        errors.addFilter(_SHUTDOWN_FILTER)
    return config


class _StartupRefused(logging.Filter):
    """uvicorn's "Application startup failed. Exiting." when the app refused to start over a
    settings error: `run` raises that error instead, which says what to fix."""

    def __init__(self, app: Starlette) -> None:
        super().__init__()
        self.app = app

    def filter(self, record: logging.LogRecord) -> bool:
        return self.app.state.proxy.startup_error is None


def run(app: Starlette, sock: socket.socket) -> None:
    """Serve on the bound socket `sock` in the foreground until Ctrl+C, SIGTERM or SIGHUP.
    A settings error that stopped the app starting is raised (a `DevflowError`)."""
    host, port = sock.getsockname()[:2]
    config = _config(app, host, port)
    refused = _StartupRefused(app)
    errors = logging.getLogger("uvicorn.error")
    errors.addFilter(refused)
    try:
        _ForegroundServer(config).run(sockets=[sock])
    except SystemExit:
        error = app.state.proxy.startup_error
        if error is None:
            raise
        raise error from None
    finally:
        errors.removeFilter(refused)


class BackgroundProxy:
    """The proxy on its own thread and event loop; `start()` returns once it listens."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server(_config(app, host, port))
        self._thread: threading.Thread | None = None
        self.host = host

    def start(self, timeout_s: float = 30.0) -> BackgroundProxy:
        self._thread = threading.Thread(target=self._server.run, name="devflow-serve", daemon=True)
        self._thread.start()
        waited = threading.Event()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("The proxy failed to start (see the log above).")
            if waited.wait(0.01) or timeout_s <= 0:
                break
            timeout_s -= 0.01
        if not self._server.started:
            raise RuntimeError("The proxy did not start in time.")
        return self

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return http_origin(self.host, self.port)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(15)

    def __enter__(self) -> BackgroundProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedProxy:
    """The proxy as a task on the caller's event loop (the dashboard)."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server(_config(app, host, port))
        self._task: asyncio.Task[None] | None = None
        self.host = host

    async def start(self) -> EmbeddedProxy:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
                raise RuntimeError("The proxy stopped while starting.")
            await asyncio.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        return http_origin(self.host, self.port)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def start_embedded(settings: Settings, gateway: Gateway) -> EmbeddedProxy:
    """The proxy on the running loop, serving `gateway` at the configured host and port
    (the dashboard's embedded proxy)."""
    from devflow_tui.serve.app import create_app
    from devflow_tui.serve.tokens import ProxyTokens

    tokens = ProxyTokens.load(settings.home)
    app = create_app(settings, tokens, gateway=gateway)
    return await EmbeddedProxy(app, settings.serve.host, settings.serve.port).start()
