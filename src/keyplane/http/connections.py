"""The server's HTTP/1.1 connections: a request head must arrive in time.

uvicorn times out idle keep-alive connections (``timeout_keep_alive``) and caps concurrent
ones with 503s (``limit_concurrency``), but it waits for a request head forever: a client
that opens a connection and sends half a head keeps it, and thousands of such clients take
every file descriptor. ``head_timeout_protocol`` closes a connection whose head has not
arrived within the deadline of its first byte, or of the connection's opening.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)


class _HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline on each request head."""

    head_timeout: float = 5.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # the next request on a kept-alive connection
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

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


def head_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """A protocol class for ``uvicorn.run(http=...)`` that closes slow heads after ``seconds``."""
    attributes: dict[str, Any] = {"head_timeout": seconds}
    return type("HeadTimeoutProtocol", (_HeadTimeoutProtocol,), attributes)
