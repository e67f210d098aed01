"""An instant stand-in upstream for throughput benchmarks: one fixed chat completion, at once.

    python -m keyplane.testing.upstream --provider instant --port 0 --api-key sk-test-...

The ASGI stand-in (``keyplane.testing.app``) checks and answers every call in OpenAI's
shapes, and costs about as much CPU per call as keyplane itself: on two cores, a benchmark
of keyplane's throughput then measures the stand-in as much as keyplane. This one is an
asyncio protocol with httptools and nothing else. Every request with the right bearer token
gets the same ``chat.completion`` (model ``gpt-4o-mini``, usage 12 prompt + 16 completion
tokens, as ``bench/wrk/chat.lua`` is billed by the full stand-in); anything else a 401 in
OpenAI's envelope. It reads no body, so it never checks one: never use it to test behaviour.

With ``--delay-ms`` every answer is written that long after its request ended, by a timer of
the loop (no task per call), so that the latency of a slow upstream costs no CPU: the tail
benchmark's upstream then hardly competes with keyplane for the two cores. ``--jitter-ms J``
draws each delay uniformly from ``delay - J`` to ``delay + J``, as a real provider's latency
varies: with one fixed delay, the calls of a closed-loop load move in lock step and arrive
at a proxy in bursts (docs/benchmarks.md, "The tail"). A connection's answers still go out
in the order of its requests.
"""

from __future__ import annotations

import asyncio
import hmac
import random
import socket

import httptools
import orjson

from keyplane.testing.payloads import Head, chat_completion, error_body
from keyplane.testing.tokens import TokenCounts


def _answer(status: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % len(body) + body
    )


_COMPLETION = chat_completion(
    Head("chatcmpl-instant", 1_700_000_000, "gpt-4o-mini"),
    "keyplane instant stand-in answer",
    TokenCounts(prompt=12, completion=16),
)
OK = _answer(b"200 OK", orjson.dumps(_COMPLETION))
_REFUSED = error_body(
    "Incorrect API key provided.", type_="invalid_request_error", code="invalid_api_key"
)
UNAUTHORIZED = _answer(b"401 Unauthorized", orjson.dumps(_REFUSED))
_JITTER = random.Random()  # spreads a stand-in's latencies: nothing secret


class _Instant(asyncio.Protocol):
    def __init__(self, expected: bytes, delay: float, jitter: float = 0.0) -> None:
        self.expected = expected
        self.delay = delay
        self.jitter = jitter
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.authorized = False
        self.due = 0.0  # when this connection's latest answer goes out

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] # uvloop's is no asyncio.Transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.authorized = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.authorized = hmac.compare_digest(value, self.expected)

    def on_message_complete(self) -> None:
        answer = OK if self.authorized else UNAUTHORIZED
        if not self.delay:
            self._write(answer)
            return
        loop = asyncio.get_running_loop()
        delay = self.delay
        if self.jitter:
            delay += _JITTER.uniform(-self.jitter, self.jitter)
        # Never before the answer ahead of it: a pipelined connection's answers stay in order.
        self.due = max(loop.time() + delay, self.due)
        loop.call_at(self.due, self._write, answer)

    def _write(self, answer: bytes) -> None:
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(answer)


async def serve(
    sock: socket.socket, api_key: str, announce: str, delay: float = 0.0, jitter: float = 0.0
) -> None:
    """Answer on the listening ``sock`` until cancelled, each answer ``delay`` seconds (give
    or take up to ``jitter``, at most ``delay``) after its request; print ``announce`` once
    listening."""
    expected = b"Bearer " + api_key.encode()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Instant(expected, delay, jitter), sock=sock)
    print(announce, flush=True)
    async with server:
        await server.serve_forever()
