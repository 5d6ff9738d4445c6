"""A tiny HTTP server on 127.0.0.1 that sends hand-written bytes, for wire shapes the
simulator does not produce (a malformed chunk, a stream cut without [DONE], a stall).

Each script is a list of steps: `bytes` are written as they are, a float sleeps that many
seconds, and `CLOSE` shuts the socket without finishing the body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

CLOSE = object()
Step = object  # bytes to write, a float to sleep, or CLOSE


def sse_head(status: int = 200) -> bytes:
    return (
        f"HTTP/1.1 {status} OK\r\nContent-Type: text/event-stream\r\n"
        "Transfer-Encoding: chunked\r\nX-Generation-Id: gen-1-raw\r\n\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def event(data: str) -> bytes:
    return chunk(f"data: {data}\n\n".encode())


END = b"0\r\n\r\n"


def json_response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@dataclass
class RawServer:
    """Serves the scripts in order, one per request; records each request's first line."""

    scripts: list[list[Step]]
    requests: list[str] = field(default_factory=list)
    port: int = 0
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while self.scripts:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode().split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if length:
                    await reader.readexactly(length)
                self.requests.append(head.decode().split("\r\n", 1)[0])
                script = self.scripts.pop(0)
                for step in script:
                    if step is CLOSE:
                        writer.transport.abort()
                        return
                    if isinstance(step, float):
                        await asyncio.sleep(step)
                    elif isinstance(step, bytes):
                        writer.write(step)
                        await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            self.disconnected.set()
        finally:
            with contextlib.suppress(Exception):
                writer.close()


@contextlib.asynccontextmanager
async def raw_server(scripts: Sequence[Sequence[Step]]) -> AsyncIterator[RawServer]:
    server = RawServer([list(script) for script in scripts])
    listener = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        # Handlers may sit in a long sleep (stall scripts); do not wait for them.
        with contextlib.suppress(Exception):
            listener.close_clients()  # type: ignore[attr-defined]
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(listener.wait_closed(), 0.5)
