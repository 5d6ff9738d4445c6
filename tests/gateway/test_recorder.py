"""The recorder: store jobs in order on one thread, and a job awaited by a request that is
cancelled still runs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from devflow_tui.gateway.recorder import Recorder


async def test_a_closing_write_runs_even_when_its_caller_is_cancelled_again() -> None:
    """asyncio cancels a task once; anyio's cancel scopes (`devflow mcp`) cancel every await of
    a cancelled task, the write in its cancellation handler included. That write used to be
    cancelled with it when the recorder had not started it yet: a request lost."""
    recorder = Recorder()
    release = threading.Event()
    recorder.post(release.wait, 30)  # the recorder's thread is busy: the next job waits
    written: list[str] = []
    handling = asyncio.Event()

    async def request() -> None:
        try:
            await asyncio.Event().wait()  # streaming, until cancelled
        except asyncio.CancelledError:
            handling.set()
            await recorder.call(written.append, "cancelled")  # the closing write
            raise

    task = asyncio.create_task(request())
    await asyncio.sleep(0)
    task.cancel()
    await handling.wait()  # in the handler, awaiting its write, which has not started
    task.cancel()  # cancelled again, as anyio does
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    await asyncio.to_thread(recorder.close)  # runs what is queued
    assert written == ["cancelled"]
