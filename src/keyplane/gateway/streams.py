"""Relay a server-sent event stream, reading its token counts on the way.

Frames are forwarded as soon as they are complete (an event ends with a blank line), so a
stream is never buffered whole. Only events that can carry usage are decoded.

When keyplane added ``stream_options.include_usage`` itself, the client did not ask for what
that adds, and the relay takes it out again: the ``"usage":null`` field of every chunk and
the final chunk with no choices that carries the counts.
"""

from __future__ import annotations

from typing import Any

import orjson

from keyplane.gateway.anthropic import MessageStreamUsage
from keyplane.gateway.endpoints import StreamUsage
from keyplane.usage.records import Tokens, tokens_from_usage

_END = b"\n\n"
_USAGE = b'"usage"'
_NULL_USAGE = b',"usage":null'
_RESPONSE_DONE = (b"response.completed", b"response.incomplete", b"response.failed")
# A peer that never ends an event must not grow the buffer without bound.
_MAX_PENDING = 1 << 20


def _data(event: bytes) -> Any:
    """The decoded ``data:`` of one event, or ``None``."""
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    try:
        return orjson.loads(b"\n".join(lines)) if lines else None
    except orjson.JSONDecodeError:
        return None


class StreamRelay:
    """Feeds on upstream bytes, returns what to send on; ``tokens`` once usage was seen."""

    def __init__(self, usage: StreamUsage, *, strip_injected: bool) -> None:
        self.usage = usage
        self.strip = strip_injected
        self.tokens: Tokens | None = None
        self._pending = b""
        self._messages = MessageStreamUsage() if usage is StreamUsage.MESSAGE_EVENTS else None

    def feed(self, chunk: bytes) -> bytes:
        """Return the complete events received so far, as the client should get them."""
        buffer = self._pending + chunk if self._pending else chunk
        cut = buffer.rfind(_END)
        if cut < 0:
            if len(buffer) > _MAX_PENDING:
                self._pending = b""
                return buffer
            self._pending = buffer
            return b""
        cut += len(_END)
        complete, self._pending = buffer[:cut], buffer[cut:]
        if self.usage is StreamUsage.FINAL_CHUNK and _USAGE in complete:
            return self._chunks(complete)
        if self.usage is StreamUsage.RESPONSE_EVENT and any(m in complete for m in _RESPONSE_DONE):
            self._response_events(complete)
        if self._messages is not None:  # Anthropic's events: gateway.anthropic reads them
            self._messages.feed(complete)
            self.tokens = self._messages.tokens
        return complete

    def close(self) -> bytes:
        """What is left when the upstream stream ends."""
        rest, self._pending = self._pending, b""
        return rest

    def _chunks(self, complete: bytes) -> bytes:
        kept = []
        for event in complete.split(_END)[:-1]:
            if self.strip:
                event = event.replace(_NULL_USAGE, b"")
            if _USAGE in event:
                chunk = _data(event)
                if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
                    self.tokens = tokens_from_usage(chunk["usage"])
                    if self.strip and not chunk.get("choices"):
                        continue
            kept.append(event + _END)
        return b"".join(kept)

    def _response_events(self, complete: bytes) -> None:
        for event in complete.split(_END)[:-1]:
            if any(marker in event for marker in _RESPONSE_DONE):
                data = _data(event)
                response = data.get("response") if isinstance(data, dict) else None
                if isinstance(response, dict) and isinstance(response.get("usage"), dict):
                    self.tokens = tokens_from_usage(response["usage"])
