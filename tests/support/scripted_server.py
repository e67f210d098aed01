"""A local HTTP server whose answers a test writes byte by byte, plain or over TLS."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

# Writes one answer to the request numbered ``index``; returns whether to keep the connection.
Answer = Callable[[asyncio.StreamWriter, int], Awaitable[bool]]


@dataclass
class Server:
    """A local server's port, how many connections it accepted and the requests it read."""

    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """As an OpenAI-compatible upstream's base URL."""
        return f"http://127.0.0.1:{self.port}/v1"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


@asynccontextmanager
async def serve(answer: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """A server on 127.0.0.1 that reads each request, then lets ``answer`` write its answer."""
    server = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            while True:
                server.requests.append(await _read_request(reader))
                if not await answer(writer, len(server.requests) - 1):
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client closed the connection
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def replying(*parts: bytes, keep: bool = True) -> Answer:
    """An answer that writes ``parts``, letting each go out on its own."""

    async def answer(writer: asyncio.StreamWriter, index: int) -> bool:
        for part in parts:
            writer.write(part)
            await writer.drain()
            if len(parts) > 1:
                await asyncio.sleep(0.001)
        return keep

    return answer


def trickling(length: int, every: float) -> Answer:
    """A 200 whose ``length`` body bytes come one at a time, ``every`` seconds apart, until
    the reader hangs up; the connection is not kept."""

    async def answer(writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length)
        with contextlib.suppress(ConnectionError):
            for _ in range(length):
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(every)
        return False

    return answer


class EndlessHead:
    """An answer whose head never ends: header lines until the reader hangs up (a gigabyte at
    most), counting what it ``sent``."""

    def __init__(self) -> None:
        self.sent = 0

    async def __call__(self, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        line = b"x-junk: " + b"a" * 1000 + b"\r\n"
        with contextlib.suppress(ConnectionError):
            while self.sent < 1 << 30:
                writer.write(line)
                await writer.drain()
                self.sent += len(line)
        return False
