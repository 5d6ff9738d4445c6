"""The proxy's streamed response: it ends with the frame that completes the answer, and the
bookkeeping its frames still do after that is neither waited for by the client nor cut short
by the client hanging up. Driven as ASGI, with no server: deterministic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from devflow_tui.serve.app import SSEResponse


async def test_the_answer_ends_before_the_bookkeeping_and_the_bookkeeping_runs() -> None:
    release = asyncio.Event()
    seen: list[bytes] = []
    booked: list[str] = []
    sent: list[dict[str, Any]] = []
    answered = asyncio.Event()

    async def frames() -> AsyncGenerator[bytes, None]:
        for frame in (b"data: one\n\n", b"data: last\n\n"):
            seen.append(frame)
            yield frame
        await release.wait()  # the upstream body's end, the attempt's record, the closing job
        booked.append("closed")

    async def send(message: Any) -> None:
        sent.append(message)
        if message.get("more_body") is False:
            answered.set()

    async def receive() -> Any:
        await answered.wait()  # a client that hangs up as soon as it has the whole answer
        return {"type": "http.disconnect"}

    response = SSEResponse(frames(), ended=lambda: seen[-1] == b"data: last\n\n")
    task = asyncio.create_task(response({"type": "http"}, receive, send))
    for _ in range(1000):
        if sent and sent[-1].get("more_body") is False:
            break
        await asyncio.sleep(0)
    bodies = [(m["body"], m["more_body"]) for m in sent if m["type"] == "http.response.body"]
    assert bodies == [(b"data: one\n\n", True), (b"data: last\n\n", False)]
    assert not task.done() and booked == []  # the client has it all; bookkeeping still to run
    release.set()
    await task
    assert booked == ["closed"]  # not cancelled by the hang-up after the end
    assert len(sent) == 3  # start and two bodies: no extra empty body after the end


async def test_without_an_end_signal_the_response_ends_after_the_frames() -> None:
    sent: list[dict[str, Any]] = []

    async def frames() -> AsyncGenerator[bytes, None]:
        yield b"data: cached\n\n"

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        await asyncio.Event().wait()  # never hangs up

    await SSEResponse(frames())({"type": "http"}, receive, send)
    bodies = [(m["body"], m["more_body"]) for m in sent if m["type"] == "http.response.body"]
    assert bodies == [(b"data: cached\n\n", True), (b"", False)]
