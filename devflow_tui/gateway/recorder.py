"""Every store write of the gateway, in order, on one worker thread off the event loop.

SQLite work (reserving budget, the request row, attempts, progress, messages, the cache) can
block for milliseconds, or for seconds while another process holds the write lock; on the event
loop that would freeze the dashboard and stall a stream. The recorder runs each job on a single
worker thread, so jobs keep the order they were submitted in (a request's row is begun before
its attempts are appended and finished after them) and the loop only awaits their results.
A job submitted runs to the end even if the coroutine awaiting it is cancelled, so a cancelled
request still gets its closing write. (Awaiting it is shielded: a plain await of the wrapped
future would cancel a job not yet started. asyncio cancels a task once, but anyio's cancel
scopes, under `devflow mcp`, cancel every await of a cancelled task, the one in the handler
that closes the request's books included.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class Recorder:
    """Runs store jobs one at a time, in submission order, on a dedicated thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devflow-recorder")

    async def call(self, job: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run `job` after every job submitted before it; return its result or raise its error.
        Cancelling the caller leaves the job to run (a failure is then logged)."""
        future = self.submit(job, *args, **kwargs)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            future.add_done_callback(_log_failure)
            raise

    def submit(
        self, job: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> asyncio.Future[_T]:
        """Queue `job` now (call on the event loop) and return a future of its result, for a
        caller that must not wait (the proxy closes a request's books after its last byte)."""
        return asyncio.wrap_future(self._pool.submit(job, *args, **kwargs))

    def post(self, job: Callable[_P, object], *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Queue `job` without waiting for it (attempts, progress); a failure is logged, since
        the request goes on and its closing write reports a store that cannot be written."""
        future = self._pool.submit(job, *args, **kwargs)
        future.add_done_callback(_log_failure)

    async def drain(self) -> None:
        """Wait until every job submitted so far has run."""
        await self.call(_nothing)

    def flush(self) -> None:
        """Block until every job submitted so far has run (from another thread than the
        event loop's: a test, a benchmark, a shutdown path)."""
        self._pool.submit(_nothing).result()

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        self._pool.shutdown(wait=True)


def _nothing() -> None:
    return None


def _log_failure(future: Future[Any] | asyncio.Future[Any]) -> None:
    exc = future.exception()
    if exc is not None:
        log.warning("a store write failed: %s", exc)
