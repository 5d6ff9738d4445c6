"""A simulated OpenRouter server: real HTTP/1.1 on 127.0.0.1, for the demo and for tests.

Built on the standard library's `ThreadingHTTPServer` for byte-exact control of chunked SSE
framing and abrupt socket closes, one thread per connection, and no import cost. Endpoints
live under `/api/v1` (see shared/openrouter-api.md): `GET /models`, `POST /chat/completions`
(streaming or not, with the `models` fallback list), `GET /generation`, `GET /key`,
`GET /auth/key` and `GET /credits`. Faults from `SimConfig.faults` make it misbehave the way
the real service does. Typical use::

    with SimServer(SimConfig(time_scale=0.0)) as sim:
        httpx.get(f"{sim.base_url}/models")
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from devflow_tui.data.snapshot import load_snapshot
from devflow_tui.sim.config import Fault, SimConfig
from devflow_tui.sim.handler import API_PREFIX, SimRequestHandler
from devflow_tui.sim.profiles import ModelProfile, resolve_profile
from devflow_tui.sim.recording import RecordedRequest

__all__ = ["RecordedRequest", "SimServer", "serve_forever"]

_LOOPBACK = {"127.0.0.1", "localhost"}
_VARIANTS = {"nitro", "floor", "online", "exacto", "thinking", "extended"}
_POLL_S = 0.02  # how often the accept loop checks for stop(); bounds stop() latency


@dataclass
class _Generation:
    data: dict[str, Any]
    available_at: float  # on the server's monotonic clock


class SimHTTPServer(ThreadingHTTPServer):
    """Tracks connection threads and sockets so stop() can end them all."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # a burst of 200 concurrent streams must not overflow the backlog

    def __init__(self, address: tuple[str, int], sim: SimServer) -> None:
        self.sim = sim
        self._track_lock = threading.Lock()
        self._conn_threads: set[threading.Thread] = set()
        self._sockets: set[socket.socket] = set()
        super().__init__(address, SimRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="devflow-sim-conn",
            daemon=True,
        )
        with self._track_lock:
            self._conn_threads.add(thread)
            self._sockets.add(request)
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._track_lock:
                self._conn_threads.discard(threading.current_thread())
                self._sockets.discard(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up is normal here (cancellation tests); stay quiet.
        return

    def end_connections(self, timeout_s: float) -> None:
        """Shut down every open connection and wait for its thread."""
        with self._track_lock:
            sockets = list(self._sockets)
            threads = list(self._conn_threads)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def live_threads(self) -> int:
        with self._track_lock:
            return sum(1 for thread in self._conn_threads if thread.is_alive())


class SimServer:
    """The simulated OpenRouter server. `start()` runs it on a background thread."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if host not in _LOOPBACK:
            raise ValueError(f"The simulator only binds to 127.0.0.1, not {host!r}.")
        self.config = config if config is not None else SimConfig()
        self.requests: list[RecordedRequest] = []
        self._host = "127.0.0.1"
        self._requested_port = port
        self._custom_sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._generations: dict[str, _Generation] = {}
        self._spent = Decimal(0)
        self._snapshot: list[dict[str, Any]] | None = None
        self._stopping = threading.Event()
        self._httpd: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> SimServer:
        """Bind 127.0.0.1 and serve on a background thread; returns self."""
        if self._httpd is not None:
            return self
        self._stopping = threading.Event()
        self._httpd = SimHTTPServer((self._host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_S},
            name="devflow-sim",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open connections and streams, and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.end_connections(timeout_s=5.0)
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True between start() and stop()."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The TCP port actually bound (after start())."""
        if self._httpd is None:
            raise RuntimeError("The simulator is not running; call start() first.")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The API root clients use, e.g. http://127.0.0.1:PORT/api/v1."""
        return f"http://{self._host}:{self.port}{API_PREFIX}"

    @property
    def connection_threads(self) -> int:
        """Connection threads still alive (0 after stop())."""
        return self._httpd.live_threads if self._httpd is not None else 0

    # ------------------------------------------------------------ faults and records

    def add_fault(self, fault: Fault) -> None:
        """Inject a fault for the next matching requests."""
        with self._lock:
            self.config.faults.append(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self.config.faults.clear()

    def take_fault(
        self, path: str, model: str | None, kinds: tuple[str, ...] | frozenset[str]
    ) -> Fault | None:
        """Consume one application of the first fault of `kinds` matching the request."""
        with self._lock:
            for fault in self.config.faults:
                if fault.kind in kinds and fault.matches(path, model):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    @property
    def generations(self) -> dict[str, dict[str, Any]]:
        """What /generation serves, by id (including records still inside the 404 window)."""
        with self._lock:
            return {gen_id: record.data for gen_id, record in self._generations.items()}

    @property
    def spent(self) -> Decimal:
        """USD billed by this server so far (added to /key and /credits usage)."""
        with self._lock:
            return self._spent

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _mark_done(self, request: RecordedRequest) -> None:
        with self._finished:
            request.done = True
            self._finished.notify_all()

    def wait_until_done(self, timeout_s: float = 5.0) -> bool:
        """Block until every request received so far is finished (answered, failed or
        cancelled); False on timeout. Use it before asserting on `requests` after a cancel."""
        with self._finished:
            return self._finished.wait_for(
                lambda: all(request.done for request in self.requests), timeout_s
            )

    def _store_generation(self, data: dict[str, Any], cost: Decimal) -> None:
        with self._lock:
            available = self._clock() + self.config.generation_delay_s
            self._generations[str(data["id"])] = _Generation(data, available)
            self._spent += cost

    def _lookup_generation(self, gen_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._generations.get(gen_id)
            if record is None or self._clock() < record.available_at:
                return None
            return record.data

    # ------------------------------------------------------------ catalog and timing

    def catalog(self) -> list[dict[str, Any]]:
        """The raw /models entries served (the override, or the bundled snapshot)."""
        if self.config.models is not None:
            return self.config.models
        if self._snapshot is None:
            self._snapshot = load_snapshot()
        return self._snapshot

    def find_model(self, slug: str) -> dict[str, Any] | None:
        """The catalog entry for `slug`; variant suffixes like `:nitro` resolve to the base."""
        by_id = {str(model.get("id")): model for model in self.catalog()}
        if slug in by_id:
            return by_id[slug]
        base, _, variant = slug.partition(":")
        if variant in _VARIANTS and base in by_id:
            return by_id[base]
        return None

    def profile(self, slug: str, model: dict[str, Any] | None) -> ModelProfile:
        """The latency profile used for `slug`."""
        return resolve_profile(slug, model, self.config.profiles)

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (skipped when 0); returns early when the server stops."""
        if seconds <= 0:
            return
        if self._custom_sleep is not None:
            self._custom_sleep(seconds)
        else:
            self._stopping.wait(seconds)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def now(self) -> float:
        """Wall-clock seconds (ids, `created`, rate-limit resets)."""
        return self._wall_clock()


def serve_forever(
    port: int,
    config: SimConfig,
    announce: Callable[[str], None],
    *,
    stop_event: threading.Event | None = None,
) -> None:
    """Run the simulator in the foreground (for `devflow sim`) until Ctrl+C or `stop_event`."""
    stop = stop_event if stop_event is not None else threading.Event()
    with SimServer(config, port=port) as sim:
        announce(
            f"Simulated OpenRouter listening on {sim.base_url} "
            "(answers are fake and free; press Ctrl+C to stop)"
        )
        try:
            # A timed wait keeps the main thread responsive to Ctrl+C.
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
        announce("Simulated OpenRouter stopped.")
