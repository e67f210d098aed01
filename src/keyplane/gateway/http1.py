"""A minimal HTTP/1.1 client connection: one request at a time, answers parsed by httptools.

The gateway needs only this much of HTTP, and a general client's machinery cost more CPU
per proxied call than all of keyplane's own work (see docs/benchmarks.md). A request goes
out in one ``transport.write``; the answer is read as it arrives, with reading paused while
the consumer lags. Errors, all raised to the caller of ``Pool.request`` or of a ``Response``:

    TransportError           the exchange with the upstream failed
    ├── ConnectError         no connection could be made (refused, DNS, TLS)
    ├── ConnectTimeoutError  no connection in time (also a ``TimeoutError``)
    ├── ReadTimeoutError     no bytes of the answer in time (also a ``TimeoutError``)
    ├── ProtocolError        a malformed answer, or the connection ended before it did
    ├── TooLargeError        a head past ``MAX_HEAD_BYTES``, or a whole answer read past its
    │                        limit (the connection is closed)
    └── ClosedError          the response was closed by us while being read
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools

# Reading from the socket pauses above this many unconsumed body bytes, and resumes once
# the consumer has taken them: a slow client holds back the upstream, not keyplane's memory.
HIGH_WATER = 256 * 1024
# The most an answer's head (status line, headers, any interim 1xx answers before it) may
# take. Providers send one or two kilobytes; the parser itself holds headers without bound.
MAX_HEAD_BYTES = 64 * 1024

RawHeaders = list[tuple[bytes, bytes]]

_NOTHING = "The upstream sent nothing in time."
_NO_ANSWER = "The upstream sent no answer in time."
_SLOW_BODY = "The upstream did not send the whole answer within the read timeout."


class TransportError(Exception):
    """The exchange with the upstream failed."""


class ConnectError(TransportError):
    """No connection could be made."""


class ConnectTimeoutError(TransportError, TimeoutError):
    """No connection was made in time."""


class ReadTimeoutError(TransportError, TimeoutError):
    """The upstream sent nothing for longer than the read timeout."""


class ProtocolError(TransportError):
    """The answer was malformed, or the connection ended before it did."""


class TooLargeError(TransportError):
    """The answer, or its head, was longer than the most the reader would hold."""


class ClosedError(TransportError):
    """The response was closed while it was being read."""


class Response:
    """An answer's ``status`` and ``raw_headers``; its body by ``read()`` or ``async for``."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_connection",
        "_deadline",
        "_done",
        "_error",
        "_loop",
        "_read_timeout",
        "_waiter",
        "raw_headers",
        "status",
    )

    def __init__(self, connection: Connection, read_timeout: float) -> None:
        self.status = 0
        self.raw_headers: RawHeaders = []
        self._connection: Connection | None = connection
        self._loop = connection.loop
        self._read_timeout = read_timeout
        self._deadline: float | None = None  # for the whole body, when ``read``
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False
        self._error: TransportError | None = None
        self._waiter: asyncio.Future[None] | None = None

    @property
    def buffered(self) -> int:
        """Body bytes received and not consumed yet."""
        return self._buffered

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body, within the read timeout in all (not only between bytes: a trickle
        would hold the call and its connection without end); past ``limit`` bytes, the
        connection is closed and ``TooLargeError`` raised, so that an endless answer cannot
        fill the memory."""
        if not self._done:
            self._deadline = self._loop.time() + self._read_timeout
        parts = []
        size = 0
        async for chunk in self:
            size += len(chunk)
            if limit is not None and size > limit:
                self.close()
                raise TooLargeError(f"The answer is longer than {limit} bytes.")
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def __aiter__(self) -> Response:
        return self

    async def __anext__(self) -> bytes:
        """All body bytes received since the last call, as soon as there are any."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._done:
                raise StopAsyncIteration
            deadline = self._deadline
            if deadline is None:
                await self._wait()
            else:
                await self._wait(max(deadline - self._loop.time(), 0.0), _SLOW_BODY)
        chunks = self._chunks
        chunk = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._connection is not None:
            self._connection.resume()
        return chunk

    def release(self) -> None:
        """Done with this response: a connection still reading it cannot be reused."""
        if not self._done:
            self.close()

    def close(self) -> None:
        """Stop reading: close the connection, which is what cancels the upstream call."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.abandon()
        if not self._done:
            self._chunks.clear()
            self._fail(ClosedError("The response was closed before it ended."))

    async def wait_for_headers(self, within: float) -> None:
        """Return once the status and headers are in, ``within`` seconds at most in all.

        Raises:
            ReadTimeoutError: no head in ``within`` seconds, or no bytes for the read timeout.
        """
        deadline = self._loop.time() + within
        while not self.status:
            if self._error is not None:
                raise self._error
            left = deadline - self._loop.time()
            # One timer a wait, whichever deadline is nearer (not a second one for the head).
            if left < self._read_timeout:
                await self._wait(max(left, 0.0), _NO_ANSWER)
            else:
                await self._wait()

    async def _wait(self, seconds: float | None = None, timed_out: str = _NOTHING) -> None:
        waiter = self._waiter = self._loop.create_future()
        wait = self._read_timeout if seconds is None else seconds
        timer = self._loop.call_later(wait, self._time_out, waiter, timed_out)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _time_out(self, waiter: asyncio.Future[None], message: str) -> None:
        connection = self._connection
        if not waiter.done():
            self._fail(ReadTimeoutError(message))
            if connection is not None:
                connection.abandon()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered > HIGH_WATER and self._connection is not None:
            self._connection.pause()
        self._wake()

    def _finish(self) -> None:
        self._done = True
        self._connection = None
        self._wake()

    def _fail(self, error: TransportError) -> None:
        if self._error is None and not self._done:
            self._error = error
            self._connection = None
        self._wake()


class Connection(asyncio.Protocol):
    """One keep-alive connection; ``on_idle`` and ``on_lost`` hand it back to its pool."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        on_idle: Callable[[Connection], None],
        on_lost: Callable[[Connection], None],
    ) -> None:
        self.loop = loop
        self.idle_since = 0.0
        self.exchanges = 0  # requests sent on this connection so far
        self._on_idle = on_idle
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._response: Response | None = None
        self._headers: RawHeaders = []
        self._head_bytes = 0  # of the answer whose head is not complete yet
        self._paused = False
        self._lost = False

    @property
    def usable(self) -> bool:
        """Connected, and not closing: a pooled connection the upstream has not closed."""
        transport = self._transport
        return transport is not None and not transport.is_closing()

    def send(self, data: bytes, read_timeout: float) -> Response:
        """Write a whole request; the answer comes into the returned response."""
        response = self._response = Response(self, read_timeout)
        self.exchanges += 1
        self._head_bytes = 0
        if self._transport is None:  # lost between being opened and being used: not sent
            response._fail(ConnectError("The connection was lost before the request was sent."))
        else:
            self._transport.write(data)
        return response

    def opened(self, transport: asyncio.BaseTransport) -> None:
        """Take the transport at once: uvloop calls ``connection_made`` only on its next turn."""
        if self._transport is None and not self._lost:
            self.connection_made(transport)

    def abandon(self) -> None:
        """Close the connection whatever state its exchange is in."""
        if self._transport is not None:
            self._transport.close()

    def pause(self) -> None:
        if not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._transport is transport:
            return
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Requests are single small writes that wait for an answer: never delay them.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self._response is None:  # bytes nobody asked for: the connection is not reusable
            self.abandon()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._lose(ProtocolError("The upstream sent a malformed answer."))
            self.abandon()
            return
        response = self._response
        if response is not None and not response.status:  # still in the head
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._lose(
                    TooLargeError(f"The answer's head is longer than {MAX_HEAD_BYTES} bytes.")
                )
                self.abandon()

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost ends any answer

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._lost = True
        response = self._response
        if response is not None and response.status and exc is None and self._until_close():
            self.on_message_complete()
        self._lose(ProtocolError("The upstream closed the connection before the answer ended."))
        self._on_lost(self)

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        response = self._response
        status = self._parser.get_status_code()
        if response is None or status < 200:  # an interim 1xx answer: the real one follows
            return
        response.raw_headers = self._headers
        response.status = status
        response._wake()

    def on_body(self, body: bytes) -> None:
        if self._response is not None:
            self._response._feed(body)

    def on_message_complete(self) -> None:
        response = self._response
        if response is None or not response.status:  # an interim answer ended
            return
        self._response = None
        response._finish()
        if self._paused:
            self.resume()
        if self.usable and self._parser.should_keep_alive():
            self.idle_since = self.loop.time()
            self._on_idle(self)
        else:
            self.abandon()

    def _lose(self, error: TransportError) -> None:
        response, self._response = self._response, None
        if response is not None:
            response._fail(error)

    def _until_close(self) -> bool:
        """Whether the answer's body is delimited by the end of the connection."""
        names = {name.lower() for name, _ in self._headers}
        return b"content-length" not in names and b"transfer-encoding" not in names
