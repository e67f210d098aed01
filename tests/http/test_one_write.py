"""An answer goes out in one write: uvicorn writes a head and a body separately, and two
``send`` calls (two TCP segments) a call cost about a tenth of the gateway's CPU."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import httpx
from starlette.types import Receive, Scope, Send

from keyplane.http.connections import DeadlineProtocol, OneWritePerTurn
from support.served import served_by_fd


class Recording:
    """A transport that keeps what is written to it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


def joined(recording: Recording) -> OneWritePerTurn:
    return OneWritePerTurn(cast(asyncio.Transport, recording), asyncio.get_running_loop())


async def test_writes_of_one_turn_go_out_as_one_at_its_end() -> None:
    recording = Recording()
    transport = joined(recording)
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"hello")
    assert recording.writes == []
    await asyncio.sleep(0)
    assert recording.writes == [b"HTTP/1.1 200 OK\r\n\r\nhello"]
    transport.write(b" again")
    await asyncio.sleep(0)
    assert recording.writes[1:] == [b" again"]


async def test_close_sends_what_is_held_first_and_abort_drops_it() -> None:
    recording = Recording()
    transport = joined(recording)
    transport.write(b"last words")
    transport.close()
    assert recording.writes == [b"last words"] and recording.closed
    await asyncio.sleep(0)
    assert recording.writes == [b"last words"]  # not twice

    aborted = Recording()
    transport = joined(aborted)
    transport.write(b"never sent")
    transport.abort()
    await asyncio.sleep(0)
    assert aborted.writes == [] and aborted.aborted


async def test_what_is_held_when_the_connection_is_gone_is_dropped() -> None:
    recording = Recording()
    transport = joined(recording)
    transport.write(b"too late")
    recording.closed = True  # the peer went away within the turn
    await asyncio.sleep(0)
    assert recording.writes == []


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello"})


class Counting(Recording):
    """An accepted connection's own transport, counting what reaches it."""

    def __init__(self, real: asyncio.Transport) -> None:
        super().__init__()
        self.real = real

    def write(self, data: bytes) -> None:
        super().write(data)
        self.real.write(data)

    def is_closing(self) -> bool:
        return self.real.is_closing()

    def close(self) -> None:
        self.real.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.real.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def counting_protocol(counted: list[Counting]) -> type[DeadlineProtocol]:
    """The server's protocol, with each connection's transport counted into ``counted``."""

    class Protocol(DeadlineProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            counting = Counting(transport)
            counted.append(counting)
            super().connection_made(cast(asyncio.Transport, counting))

    return Protocol


async def test_an_answer_through_the_servers_protocol_is_one_write() -> None:
    counted: list[Counting] = []
    async with (
        served_by_fd(_hello, counting_protocol(counted)) as port,
        httpx.AsyncClient() as client,
    ):
        for _ in range(3):  # on one kept-alive connection
            answer = await client.get(f"http://127.0.0.1:{port}/")
            assert answer.text == "hello"
    [connection] = counted
    assert len(connection.writes) == 3
    assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") for w in connection.writes)
    assert all(w.endswith(b"hello") for w in connection.writes)


async def test_a_complete_answer_goes_out_at_once_not_at_the_end_of_the_turn() -> None:
    """The other calls a turn of the loop serves would otherwise delay it (the p99 at 32
    connections): what the app has finished is written before its own code goes on."""
    counted: list[Counting] = []
    written_when_sent: list[int] = []

    async def hello_then_more_work(scope: Scope, receive: Receive, send: Send) -> None:
        await _hello(scope, receive, send)
        written_when_sent.append(len(counted[0].writes))  # no await since the last send

    async with (
        served_by_fd(hello_then_more_work, counting_protocol(counted)) as port,
        httpx.AsyncClient() as client,
    ):
        for _ in range(3):
            assert (await client.get(f"http://127.0.0.1:{port}/")).text == "hello"
    assert written_when_sent == [1, 2, 3]
