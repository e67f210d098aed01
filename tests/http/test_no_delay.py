"""Every accepted connection sends at once: ``serve`` hands uvicorn its socket by file
descriptor, which uvicorn wraps as ``AF_UNIX``, so neither asyncio nor uvloop turns Nagle
off for it. Left on, each answer's body waited for the client's delayed ACK of its head
(40 ms a call); the protocol turns it off itself."""

from __future__ import annotations

import asyncio
import socket

import httpx
from starlette.types import Receive, Scope, Send

from keyplane.http.connections import DeadlineProtocol
from support.served import served_by_fd


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def test_connections_accepted_on_the_socket_serve_passes_by_fd_have_nagle_off() -> None:
    seen: list[asyncio.BaseTransport] = []

    class Recording(DeadlineProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            seen.append(transport)

    async with served_by_fd(_hello, Recording) as port, httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/")
        assert answer.text == "hello"
        sock = seen[0].get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
