"""A small pipelining RESP client for the request path of the Redis limits backend.

redis-py spent about 330-470 µs of CPU per call on the two script calls of a limited call
(pool checkout, retry wrapper, command packing, reply parsing; measured in
docs/benchmarks.md), more than the whole rest of the call. This client keeps one connection,
writes every command queued during one event-loop iteration with one ``write``, and matches
replies to callers in order. It speaks only what the scripts need: commands in, integers,
strings, errors and arrays of them out. Every command has a deadline: when the oldest reply
is late, the connection is dropped and every caller waiting on it gets ``TimeoutError``.
The rest of the backend (seeds, recounts, pub/sub) keeps using redis-py.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any, NamedTuple
from urllib.parse import unquote, urlparse

Reply = Any
_CRLF = b"\r\n"


class ReplyError(Exception):
    """Redis answered a command with an error."""


class Incomplete(Exception):  # noqa: N818 - control flow inside the parser
    pass


class Packed(NamedTuple):
    """Arguments already in RESP form (keys that recur call after call), and how many."""

    arity: int
    data: str


def packed(args: Iterable[Any]) -> Packed:
    """``args`` in RESP form, to splice into commands (see ``pack``)."""
    return Packed(*_parts(args))


# Integers as RESP bulk strings, kept as they recur: limits, -1 for "none", lease seconds.
_INTS: dict[int, str] = {}


def pack(args: Iterable[Any]) -> bytes:
    """A command in RESP: an array of bulk strings (``Packed`` parts are spliced in).

    Built as one ``str`` and encoded once: twice as fast as formatting bytes per argument.
    """
    count, data = _parts(args)
    return f"*{count}\r\n{data}".encode("utf-8", "surrogateescape")


def _parts(args: Iterable[Any]) -> tuple[int, str]:
    parts = []
    count = 0
    for arg in args:
        kind = type(arg)
        if kind is int:
            part = _INTS.get(arg)
            if part is None:
                text = str(arg)
                part = f"${len(text)}\r\n{text}\r\n"
                if len(_INTS) < 4096:  # bounded: most integers of a call recur, some never
                    _INTS[arg] = part
            parts.append(part)
        elif kind is str and arg.isascii():
            parts.append(f"${len(arg)}\r\n{arg}\r\n")
        elif kind is float:  # a time: repr is exact and ASCII
            text = repr(arg)
            parts.append(f"${len(text)}\r\n{text}\r\n")
        elif kind is Packed:
            parts.append(arg.data)
            count += arg.arity - 1
        else:
            parts.append(_bulk(arg))
        count += 1
    return count, "".join(parts)


def _bulk(arg: Any) -> str:
    if isinstance(arg, bytes):  # carried through the str as surrogates, back out unchanged
        return f"${len(arg)}\r\n{arg.decode('utf-8', 'surrogateescape')}\r\n"
    if isinstance(arg, str):
        text = arg
    elif isinstance(arg, int):
        text = str(int(arg))
    elif isinstance(arg, float):
        text = repr(arg)
    else:
        raise TypeError(f"cannot send {type(arg).__name__} to Redis")
    return f"${len(text.encode())}\r\n{text}\r\n"


def parse(buf: bytes | bytearray, pos: int) -> tuple[Reply, int]:
    """One reply from ``buf`` at ``pos`` and where the next begins; ``Incomplete`` if cut."""
    end = buf.find(_CRLF, pos)
    if end < 0:
        raise Incomplete
    kind, line = buf[pos], buf[pos + 1 : end]
    pos = end + 2
    if kind == 58:  # ':'
        return int(line), pos
    if kind == 42:  # '*'
        return _array(buf, pos, int(line))
    if kind == 36:  # '$'
        size = int(line)
        if size < 0:
            return None, pos
        if len(buf) < pos + size + 2:
            raise Incomplete
        return bytes(buf[pos : pos + size]), pos + size + 2
    if kind == 43:  # '+'
        return bytes(line), pos
    if kind == 45:  # '-'
        return ReplyError(bytes(line).decode(errors="replace")), pos
    raise ReplyError(f"unexpected reply type {chr(kind)!r}")


def _array(buf: bytes | bytearray, pos: int, count: int) -> tuple[Reply, int]:
    if count < 0:
        return None, pos
    items = []
    for _ in range(count):
        if pos >= len(buf):
            raise Incomplete
        if buf[pos] == 58:  # an integer, as the scripts answer: read in place
            end = buf.find(_CRLF, pos)
            if end < 0:
                raise Incomplete
            items.append(int(buf[pos + 1 : end]))
            pos = end + 2
            continue
        item, pos = parse(buf, pos)
        items.append(item)
    return items, pos


class _Protocol(asyncio.Protocol):
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[tuple[float, asyncio.Future[Reply]]] = deque()
        self.buffer = bytearray()
        self.outgoing: list[bytes] = []
        self.lost: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is no asyncio.Transport

    def send(self, command: bytes) -> asyncio.Future[Reply]:
        if self.lost is not None or self.transport is None:
            raise ConnectionError("connection to Redis lost")
        future: asyncio.Future[Reply] = self.loop.create_future()
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(command)
        self.waiting.append((self.loop.time() + self.timeout, future))
        if self._timer is None:
            self._timer = self.loop.call_at(self.waiting[0][0], self._check_deadline)
        return future

    def _flush(self) -> None:
        if self.transport is not None and self.outgoing and self.lost is None:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()  # if lost, their callers have had their ConnectionError

    def _check_deadline(self) -> None:
        self._timer = None
        if not self.waiting:
            return
        deadline = self.waiting[0][0]
        if deadline <= self.loop.time():
            self._fail(TimeoutError(f"Redis did not answer within {self.timeout:g} s"))
            return
        self._timer = self.loop.call_at(deadline, self._check_deadline)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        pos = 0
        buf = self.buffer
        while pos < len(buf) and self.waiting:
            try:
                reply, pos_next = parse(buf, pos)
            except Incomplete:
                break
            except (ValueError, ReplyError) as exc:
                self._fail(ConnectionError(f"unreadable reply from Redis: {exc}"))
                return
            pos = pos_next
            _, future = self.waiting.popleft()
            if not future.done():
                if isinstance(reply, ReplyError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("Redis closed the connection"))

    def _fail(self, exc: BaseException) -> None:
        if self.lost is None:
            self.lost = exc
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self.waiting:
            _, future = self.waiting.popleft()
            if not future.done():
                future.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()


class RespClient:
    """Commands to one Redis, pipelined over one connection made (and remade) on demand."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Task[_Protocol] | None = None
        self._shas: dict[str, str] = {}

    async def execute(self, *args: Any) -> Reply:
        protocol = self._protocol
        if protocol is None or protocol.lost is not None:
            protocol = await self._connect()
        return await protocol.send(pack(args))

    async def evalsha(self, script: str, keys: Packed | list[str], args: list[Any]) -> Reply:
        """Run a Lua script by its digest, loading it first if Redis does not know it."""
        if not isinstance(keys, Packed):
            keys = packed(keys)
        sha = self._shas.get(script)
        if sha is None:
            sha = self._shas[script] = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324
        try:
            return await self.execute("EVALSHA", sha, keys.arity, keys, *args)
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        # Redis restarted or its scripts were flushed: EVAL runs it and caches it again.
        return await self.execute("EVAL", script, keys.arity, keys, *args)

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._protocol is not None and self._protocol.transport is not None:
            self._protocol.transport.close()
        self._protocol = None

    async def _connect(self) -> _Protocol:
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._open())
        protocol = await asyncio.shield(self._connecting)
        self._protocol = protocol
        return protocol

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        url = urlparse(self.url)

        def factory() -> _Protocol:
            return _Protocol(self.timeout)

        async with asyncio.timeout(self.timeout):
            if url.scheme == "unix":
                _, protocol = await loop.create_unix_connection(factory, url.path)
            else:
                context = _tls(url.query) if url.scheme == "rediss" else None
                host, port = url.hostname or "localhost", url.port or 6379
                _, protocol = await loop.create_connection(factory, host, port, ssl=context)
            try:
                if url.password is not None:
                    user = unquote(url.username) if url.username else "default"
                    await protocol.send(pack(("AUTH", user, unquote(url.password))))
                db = _database(url.path, url.query)
                if db:
                    await protocol.send(pack(("SELECT", db)))
            except BaseException:
                protocol._fail(ConnectionError("could not set up the Redis connection"))
                raise
        return protocol


def _database(path: str, query: str) -> int:
    for part in query.split("&"):
        if part.startswith("db="):
            return int(part[3:])
    name = path.strip("/")
    return int(name) if name.isdigit() else 0


def _tls(query: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if "ssl_cert_reqs=none" in query.lower():
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
