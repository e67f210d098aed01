"""A keep-alive pool of HTTP/1.1 connections to one origin, plain TCP or TLS."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from keyplane.gateway.http1 import (
    ConnectError,
    Connection,
    ConnectTimeoutError,
    ProtocolError,
    Response,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


def request_head(method: str, target: str, headers: str, body: bytes | None) -> bytes:
    """A request's line and header block; ``headers`` is lines that each end in CRLF."""
    length = "" if body is None else f"Content-Length: {len(body)}\r\n"
    return f"{method} {target} HTTP/1.1\r\n{headers}{length}\r\n".encode("latin-1")


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port of a base URL."""

    scheme: str
    host: str
    port: int

    @classmethod
    def split(cls, url: str) -> tuple[Origin, str]:
        """The origin of an ``http(s)://`` URL and its path, without a trailing slash.

        Raises:
            ValueError: not an http or https URL with a host.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"not an http(s) URL with a host: {url!r}")
        port = parts.port or _DEFAULT_PORTS[scheme]
        return cls(scheme, parts.hostname, port), parts.path.rstrip("/")

    @property
    def authority(self) -> str:
        """What the ``Host`` header says."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """Seconds to connect, to wait for each read, to keep an idle connection; how many.

    Also the seconds to wait for a free connection when all are busy, and for the answer's
    head (the first byte; later reads each wait ``read_timeout``).
    """

    connect_timeout: float = 10.0
    read_timeout: float = 600.0
    pool_timeout: float = 10.0
    first_byte_timeout: float = 300.0
    # aiohttp's default: past this, a connection may have been dropped silently on the way.
    idle_seconds: float = 15.0
    max_connections: int = 1000


class Pool:
    """Connections to ``origin``, reused most recent first; at most ``max_connections``."""

    def __init__(
        self,
        origin: Origin,
        limits: PoolLimits = PoolLimits(),
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.origin = origin
        self.limits = limits
        self._tls: ssl.SSLContext | None = None
        if origin.scheme == "https":
            self._tls = tls or ssl.create_default_context()
        self._host_line = f"Host: {origin.authority}\r\n"
        self._idle: list[Connection] = []
        self._all: set[Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[Connection | None]] = deque()
        self._closed = False

    async def request(self, method: str, target: str, headers: str, body: bytes | None) -> Response:
        """Send a request (``headers``: CRLF-ended lines, no ``Host``); return at its headers.

        Raises:
            TransportError: see ``keyplane.gateway.http1``.
        """
        data = request_head(method, target, self._host_line + headers, body)
        if body:
            data += body
        connection = await self._acquire()
        reused = connection.exchanges > 0
        try:
            return await self._exchange(connection, data)
        except ProtocolError:
            # The upstream may close an idle connection just as a request goes out on it.
            # Like aiohttp, send such a request again only if sending it twice is harmless.
            if not reused or method not in _IDEMPOTENT:
                raise
        return await self._exchange(await self._acquire(fresh=True), data)

    async def _exchange(self, connection: Connection, data: bytes) -> Response:
        response = connection.send(data, self.limits.read_timeout)
        try:
            await response.wait_for_headers(self.limits.first_byte_timeout)
        except BaseException:  # timed out, cancelled or failed: the connection's state is unknown
            response.close()
            raise
        return response

    async def close(self) -> None:
        """Close every connection; calls in flight fail."""
        self._closed = True
        for connection in list(self._all):
            connection.abandon()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectError("The connection pool is closed."))

    async def _acquire(self, *, fresh: bool = False) -> Connection:
        if self._closed:
            raise ConnectError("The connection pool is closed.")
        idle = self._idle
        if idle and not fresh:
            oldest_kept = asyncio.get_running_loop().time() - self.limits.idle_seconds
            while idle:
                connection = idle.pop()
                if connection.usable and connection.idle_since > oldest_kept:
                    return connection
                connection.abandon()
        if len(self._all) + self._opening < self.limits.max_connections:
            return await self._connect()
        waiter: asyncio.Future[Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.limits.pool_timeout):
                handed = await waiter
        except TimeoutError:
            raise ConnectTimeoutError("No upstream connection came free in time.") from None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._pass_on(waiter.result())  # handed over as we were cancelled: pass it on
            raise
        return handed if handed is not None else await self._connect()

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        self._opening += 1
        connection: Connection | None = None
        try:
            async with asyncio.timeout(self.limits.connect_timeout):
                transport, connection = await loop.create_connection(
                    lambda: Connection(loop, on_idle=self._pass_on, on_lost=self._lost),
                    origin.host,
                    origin.port,
                    ssl=self._tls,
                    server_hostname=origin.host if self._tls else None,
                )
        except TimeoutError:
            raise ConnectTimeoutError("No connection to the upstream in time.") from None
        except OSError as error:
            raise ConnectError(f"{type(error).__name__}: {error}") from None
        finally:
            self._opening -= 1
            if connection is None:
                self._pass_on(None)
        connection.opened(transport)
        if connection.usable:  # else lost already, and sending on it fails as it should
            self._all.add(connection)
        return connection

    def _pass_on(self, connection: Connection | None) -> None:
        """Give a free connection (or, with ``None``, a free slot) to the next waiter."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        if connection is not None:
            self._idle.append(connection)

    def _lost(self, connection: Connection) -> None:
        self._all.discard(connection)
        if connection in self._idle:
            self._idle.remove(connection)
        elif not self._closed:
            self._pass_on(None)
