"""The server's HTTP/1.1 connections: a request head must arrive in time, a body must flow.

uvicorn times out idle keep-alive connections (``timeout_keep_alive``) and caps concurrent
ones with 503s (``limit_concurrency``), but it waits for a request head or body forever: a
client that opens a connection and sends half a head keeps it, and thousands of such clients
take every file descriptor. ``DeadlineProtocol`` closes a connection whose head has not
arrived within the deadline of its first byte (or of the connection's opening), and answers
408 and closes one whose body sent nothing for the body's idle deadline.

Each connection's writes go out once per turn of the event loop (``OneWritePerTurn``):
uvicorn writes an answer's head and its body separately, two ``send`` calls and two TCP
segments for every call. Joined, a proxied call cost 252-258 µs of CPU against 274-283 µs,
and a server answered 6-13 % more calls a second (docs/benchmarks.md, "The tail").

These are the protocol's, not an ASGI layer's: a timer per request in ASGI cost the gateway
about 3 µs a call (bench/stack_overhead.py); here a body that arrives with its head, as
nearly all do, arms no timer at all.

The cap on connections is the protocol's too, in place of uvicorn's ``limit_concurrency``
(a plain-text 503 for every path): past ``max_connections`` connections, or as many requests
in flight, a request is marked ``OVER_CAPACITY`` in its scope and the app refuses it with a
503 in the route's own error shape and closes the connection (``keyplane.http.body_limits``);
``/healthz`` still answers, since the process is alive and a restart would not help.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
from typing import Any, cast

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

# The scope key of a request that came past the cap on connections (an ASGI extension key).
OVER_CAPACITY = "keyplane.over_capacity"


_STALLED = orjson.dumps(
    {
        "error": {
            "message": "The request body stalled: nothing arrived in time.",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_timeout",
        }
    }
)
_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    + b"content-length: %d\r\n\r\n" % len(_STALLED)
    + _STALLED
)


class _DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines on each request head and body."""

    head_timeout: float = 5.0
    body_idle_timeout: float = 30.0
    max_connections: int | None = None
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None
    _in_body = False
    _body_seen = 0.0

    _joined: OneWritePerTurn  # the transport uvicorn writes to, set on connection_made

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._joined = OneWritePerTurn(transport, self.loop)
        super().connection_made(cast(asyncio.Transport, self._joined))
        _no_delay(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_body and self._body_timer is None:  # the body did not come with the head
            self._arm_body_timer(self.body_idle_timeout)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # the next request on a kept-alive connection
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        cap = self.max_connections
        if cap is not None and (len(self.connections) >= cap or len(self.tasks) >= cap):
            self.scope[OVER_CAPACITY] = True  # type: ignore[literal-required]
        self._disarm_head_timer()
        self._in_body = True
        self._body_seen = self.loop.time()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_seen = self.loop.time()
        super().on_body(body)

    def on_response_complete(self) -> None:
        # A whole answer goes out now, not at the end of the loop's turn: the other calls
        # the turn serves would otherwise delay it (the tail at 32 connections).
        self._joined.flush()
        super().on_response_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._disarm_body_timer()
        super().on_message_complete()

    def _arm_body_timer(self, delay: float) -> None:
        self._body_timer = self.loop.call_later(delay, self._body_check)

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_check(self) -> None:
        self._body_timer = None
        if not self._in_body or self.transport.is_closing():
            return
        idle = self.loop.time() - self._body_seen
        if idle < self.body_idle_timeout:  # bytes came meanwhile: wait out the rest
            self._arm_body_timer(self.body_idle_timeout - idle)
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.response_started = cycle.response_complete = True
            self.transport.write(_408)
        if cycle is not None:
            cycle.disconnected = True  # the app's receive gets http.disconnect
            cycle.message_event.set()
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            logger.debug("closing a connection whose request head did not arrive in time")
            self.transport.close()


class OneWritePerTurn:
    """A connection's transport whose writes within one turn of the event loop go out as
    one: an answer's head and body (or a stream's event and its end) are one ``send``.

    Everything the protocol and uvicorn write goes through it, so their order is kept;
    ``close`` sends what is held first, and what is held when the connection is gone is
    dropped, as the transport would drop it. A write waits at most for the loop's turn, and
    ``flush`` (the protocol's, once an answer is complete) sends it at once.
    """

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(data)

    def flush(self) -> None:
        """Send what is held now (the turn's callback then finds nothing)."""
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str) -> Any:  # pause_reading, set_protocol, ...
        return getattr(self._transport, name)


def _no_delay(transport: asyncio.BaseTransport) -> None:
    """Send each write at once (``TCP_NODELAY``), as asyncio and uvloop do for TCP sockets.

    They do it only when the listening socket says it is TCP, and uvicorn wraps the socket
    ``serve`` hands it (``fd=``) as ``AF_UNIX``: without this, an answer's body waited for
    the client to acknowledge its head, 40 ms of delayed ACK on every call.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # a real Unix socket has no Nagle to turn off
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class DeadlineProtocol(_DeadlineProtocol):
    """The protocol ``serve`` runs, named by its import path: uvicorn's workers are spawned
    processes that import it by name (a class made at run time cannot be sent to them).

    Its deadlines and cap are the settings' (``KEYPLANE_HTTP_HEAD_TIMEOUT_SECONDS``,
    ``KEYPLANE_HTTP_BODY_IDLE_TIMEOUT_SECONDS``, ``KEYPLANE_HTTP_MAX_CONNECTIONS``), read once
    per process from the environment and ``.env`` that every worker shares.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout, self.body_idle_timeout, self.max_connections = _configured()


IMPORT_PATH = f"{__name__}:{DeadlineProtocol.__name__}"


@functools.cache
def _configured() -> tuple[float, float, int]:
    from keyplane.config import load_settings

    settings = load_settings()
    return (
        settings.http_head_timeout_seconds,
        settings.http_body_idle_timeout_seconds,
        settings.http_max_connections,
    )
