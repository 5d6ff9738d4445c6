"""Client-side limits: requests per sliding window and requests in flight.

Callers over a limit wait their turn (first come, first served); they never fail. The
sliding window counts request starts within the last `interval_s`; concurrency counts slots
currently held. Clock and sleep are injectable so tests run without real waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from devflow_tui.config import Settings


class RateLimiter:
    """Sliding-window request rate plus a concurrency cap, FIFO for waiting callers."""

    def __init__(
        self,
        max_requests: int,
        interval_s: float,
        max_concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_requests < 1 or max_concurrency < 1 or interval_s <= 0:
            raise ValueError("max_requests, max_concurrency and interval_s must be positive")
        self.max_requests = max_requests
        self.interval_s = interval_s
        self.max_concurrency = max_concurrency
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._active = 0
        # asyncio.Lock hands itself over in FIFO order and does not let newcomers barge in
        # while others wait, so the head of the queue is always the next caller to start.
        self._turn = asyncio.Lock()
        self._released = asyncio.Event()
        # Counters for tests and the status bar.
        self.max_active_seen = 0
        self.window_waits: list[float] = []  # every sleep taken because the window was full
        self.queued = 0  # callers that had to wait at all
        self.granted = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        """The limiter configured by rate_limit_requests, rate_limit_interval_s, max_concurrency."""
        return cls(
            settings.rate_limit_requests,
            settings.rate_limit_interval_s,
            settings.max_concurrency,
        )

    @property
    def active(self) -> int:
        """Slots currently held."""
        return self._active

    def _prune(self, now: float) -> None:
        horizon = now - self.interval_s
        while self._starts and self._starts[0] <= horizon:
            self._starts.popleft()

    def _free_now(self) -> bool:
        self._prune(self._clock())
        return self._active < self.max_concurrency and len(self._starts) < self.max_requests

    async def acquire(self) -> None:
        """Wait for a slot (FIFO) and take it; pair with `release()`."""
        if not self._turn.locked() and self._free_now():
            self._take()
            return
        self.queued += 1
        async with self._turn:
            while True:
                now = self._clock()
                self._prune(now)
                if self._active >= self.max_concurrency:
                    self._released.clear()
                    await self._released.wait()
                    continue
                if len(self._starts) >= self.max_requests:
                    wait = self._starts[0] + self.interval_s - now
                    self.window_waits.append(wait)
                    await self._sleep(wait)
                    continue
                break
            self._take()

    def _take(self) -> None:
        self._starts.append(self._clock())
        self._active += 1
        self.granted += 1
        self.max_active_seen = max(self.max_active_seen, self._active)

    def release(self) -> None:
        """Give a slot back and wake the caller at the head of the queue."""
        self._active -= 1
        self._released.set()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one request slot for the duration of the block."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()
