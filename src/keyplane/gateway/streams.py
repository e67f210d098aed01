"""Relay a server-sent event stream, reading what it used on the way.

Framing: an event ends with a blank line, and a line ends with ``\\n``, ``\\r\\n`` or ``\\r``
(the SSE spec allows all three), so ``\\n\\n``, ``\\r\\n\\r\\n`` and ``\\r\\r`` all end one.
Each event is forwarded as soon as its blank line arrives: a stream is never buffered whole.

What a stream says about its usage is provider business, behind ``StreamParser``: it sees
every event, may drop or rewrite it, and keeps the usage it reports, whether the stream
finished, and the text relayed (so keyplane can count the tokens itself when a stream ends
without usage). ``parser_for`` picks OpenAI's two kinds; another provider plugs in its own.

The text is kept as the raw events and decoded only if it has to be counted, so a stream whose
upstream reports usage pays one list append per event for it.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import orjson

from keyplane.gateway.anthropic import tokens_from_anthropic, usage_fields
from keyplane.gateway.endpoints import StreamUsage
from keyplane.usage.records import UsageReport, report_of

_LF_END = b"\n\n"
# A blank line: a line end followed by another; a CR followed by LF is one line end.
_BLANK = re.compile(rb"(?:\r\n|\r(?!\n)|\n)(?:\r\n|\r(?!\n)|\n)")
_LINE = re.compile(rb"\r\n|\r|\n")
# A peer that never ends an event must not grow the buffer without bound.
_MAX_PENDING = 1 << 20
# Raw events kept for counting beyond this many bytes are decoded to text early: a bound on
# the memory of a stream in flight, well above a usual answer (2k tokens ~ 600 KB of SSE).
_MAX_KEPT = 1 << 20
TRUNCATED = "upstream_stream_truncated"


def complete_end(buffer: bytes, *, crlf: bool = False) -> int:
    """Where the complete events at the start of ``buffer`` end (0: none complete yet).

    A ``\r`` at the very end may be the first half of a ``\r\n``: in a stream that uses CRLF
    (``crlf``) such an event waits for the next byte; in one framed with bare CRs it does not.
    """
    if b"\r" not in buffer:  # the common framing, without a regular expression
        cut = buffer.rfind(_LF_END)
        return 0 if cut < 0 else cut + 2
    end, size = 0, len(buffer)
    for match in _BLANK.finditer(buffer):
        stop = match.end()
        if crlf and stop == size and buffer[stop - 2 : stop] != b"\r\n" and buffer[-1:] == b"\r":
            break
        end = stop
    return end


def split_events(buffer: bytes, *, crlf: bool = False) -> tuple[list[bytes], bytes]:
    """The complete events at the start of ``buffer`` (blank line included), and the rest."""
    end = complete_end(buffer, crlf=crlf)
    block, rest = buffer[:end], buffer[end:]
    if not block:
        return [], rest
    if b"\r" not in block:
        return [part + _LF_END for part in block[:-2].split(_LF_END)], rest
    events, start = [], 0
    for match in _BLANK.finditer(block):
        events.append(block[start : match.end()])
        start = match.end()
    return events, rest


def event_fields(event: bytes) -> tuple[bytes, bytes | None]:
    """An event's ``event:`` name (``b""`` if none) and its joined ``data:``, or ``None``."""
    name, data = b"", []
    for line in _LINE.split(event):
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            name = line[6:].strip()
    return name, b"\n".join(data) if data else None


def _json(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return None


class StreamParser(Protocol):
    """One provider's reading of its stream."""

    report: UsageReport | None  # the usage the stream reported, once it did
    finished: bool  # the stream's own end was seen ([DONE], a final event, an error event)

    def block(self, raw: bytes) -> bytes:
        """Read complete events (one or more, as they came); return the bytes to forward."""
        ...

    def relayed_text(self) -> str:
        """The generated text forwarded so far, for counting its tokens."""
        ...

    def truncation(self, message: str) -> bytes:
        """An error event, in the stream's own shape, for a stream that broke off."""
        ...


class _Kept:
    """Forwarded events whose text may have to be counted, decoded only then."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.size = 0
        self.text: list[str] = []

    def add(self, raw: bytes, parser: _TextOf) -> None:
        self.raw.append(raw)
        self.size += len(raw)
        if self.size > _MAX_KEPT:
            self.decode(parser)

    def decode(self, parser: _TextOf) -> str:
        for block in self.raw:
            for raw in split_events(block)[0]:
                parser.text_of(raw, self.text)
        self.raw.clear()
        self.size = 0
        return "".join(self.text)


class _TextOf(Protocol):
    def text_of(self, raw: bytes, into: list[str]) -> None: ...


_USAGE = b'"usage"'
_NULL_USAGE = b',"usage":null'
_DONE = b"[DONE]"
_ERROR = b'"error"'


class ChatStream:
    """``chat.completion.chunk`` (and legacy ``text_completion``) streams: usage in a final
    chunk when ``stream_options.include_usage`` is set, then ``data: [DONE]``.

    When keyplane added ``include_usage`` itself, the client did not ask for what that adds,
    and it is taken out again: the ``"usage":null`` field of every chunk and the final chunk
    with no choices that carries the counts.
    """

    def __init__(self, *, strip_injected: bool) -> None:
        self.strip = strip_injected
        self.report: UsageReport | None = None
        self.finished = False
        self._kept = _Kept()

    def block(self, raw: bytes) -> bytes:
        if self.strip:
            raw = raw.replace(_NULL_USAGE, b"")
        if _USAGE in raw or _DONE in raw or _ERROR in raw:  # a closer look, event by event
            kept = [out for event in split_events(raw)[0] if (out := self.event(event))]
            return b"".join(kept)
        self._kept.add(raw, self)
        return raw

    def event(self, raw: bytes) -> bytes | None:
        """One event of a block that needs a closer look; ``None`` drops it."""
        if _USAGE in raw:
            chunk = _json(event_fields(raw)[1])
            report = report_of(chunk)
            if report is not None:
                self.report = report
                if self.strip and not chunk.get("choices"):
                    return None
        elif _DONE in raw and event_fields(raw)[1] == _DONE:
            self.finished = True
            return raw
        elif _ERROR in raw and isinstance(error := _json(event_fields(raw)[1]), dict):
            self.finished = self.finished or "error" in error
        self._kept.add(raw, self)
        return raw

    def relayed_text(self) -> str:
        return self._kept.decode(self)

    def text_of(self, raw: bytes, into: list[str]) -> None:
        chunk = _json(event_fields(raw)[1])
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(text := choice.get("text"), str):  # legacy completions
                into.append(text)
            if isinstance(delta, dict):
                _delta_text(delta, into)

    def truncation(self, message: str) -> bytes:
        error = {"message": message, "type": "server_error", "param": None, "code": TRUNCATED}
        return b"data: " + orjson.dumps({"error": error}) + b"\n\n"


def _delta_text(delta: dict[str, Any], into: list[str]) -> None:
    for name in ("content", "refusal", "reasoning_content"):
        if isinstance(text := delta.get(name), str):
            into.append(text)
    calls = delta.get("tool_calls")
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            into.extend(v for v in (function.get("name"), function.get("arguments")) if v)


_FINAL_EVENTS = (b"response.completed", b"response.incomplete", b"response.failed")
# Final events carry the whole "response" (as do the first two); errors say "error".
_RESPONSE_OBJECT = b'"response":'


def _event_name(raw: bytes) -> bytes:
    """The ``event:`` name of an event that starts with it (OpenAI's do), else its data's
    ``type``."""
    if raw.startswith(b"event:"):
        end = len(raw)
        for terminator in (b"\n", b"\r"):
            found = raw.find(terminator)
            if 0 <= found < end:
                end = found
        return raw[6:end].strip()
    name, data = event_fields(raw)
    if name:
        return name
    payload = _json(data)
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind.encode() if isinstance(kind, str) else b""


class ResponsesStream:
    """Responses API streams: named events; usage in ``response.completed`` (or
    ``response.incomplete`` / ``response.failed``), which ends the stream."""

    def __init__(self) -> None:
        self.report: UsageReport | None = None
        self.finished = False
        self._kept = _Kept()

    def block(self, raw: bytes) -> bytes:
        if _RESPONSE_OBJECT in raw or b"error" in raw:
            for event in split_events(raw)[0]:
                self.event(event)
        else:
            self._kept.add(raw, self)
        return raw

    def event(self, raw: bytes) -> None:
        """One event of a block that may end the stream."""
        name = _event_name(raw)
        if name in _FINAL_EVENTS:
            self.finished = True
            payload = _json(event_fields(raw)[1])
            response = payload.get("response") if isinstance(payload, dict) else None
            self.report = report_of(response) or self.report
        elif name == b"error":
            self.finished = True
        else:
            self._kept.add(raw, self)

    def relayed_text(self) -> str:
        return self._kept.decode(self)

    def text_of(self, raw: bytes, into: list[str]) -> None:
        event = _json(event_fields(raw)[1])
        if not isinstance(event, dict):
            return
        kind, delta = event.get("type"), event.get("delta")
        # Text, refusals, tool arguments and reasoning summaries; audio deltas are base64.
        text = isinstance(kind, str) and kind.endswith(".delta") and "audio." not in kind
        if text and isinstance(delta, str):
            into.append(delta)

    def truncation(self, message: str) -> bytes:
        # OpenAI's ``error`` event; the ``error`` object beside its fields makes the openai
        # SDK raise APIError, as it does for a chat stream.
        error = {"message": message, "type": "server_error", "param": None, "code": TRUNCATED}
        event = {"type": "error", "code": TRUNCATED, "message": message, "param": None}
        return b"event: error\ndata: " + orjson.dumps({**event, "error": error}) + b"\n\n"


_MESSAGE_MARKERS = (b"message_start", b"message_delta", b"message_stop", b"error")
_MESSAGE_TEXT = {
    "text_delta": "text",
    "input_json_delta": "partial_json",
    "thinking_delta": "thinking",
}


class MessagesStream:
    """Anthropic's Messages streams: the input counts in ``message_start``, the output count
    in ``message_delta`` (cumulative, near the end), and ``message_stop`` ends the stream.

    Usage is reported once a ``message_delta`` said the output count: a stream cut before
    it is counted, prompt and relayed text, as any stream without usage is.
    """

    def __init__(self) -> None:
        self.report: UsageReport | None = None
        self.finished = False
        self._usage: dict[str, int] = {}
        self._kept = _Kept()

    def block(self, raw: bytes) -> bytes:
        if any(marker in raw for marker in _MESSAGE_MARKERS):
            for event in split_events(raw)[0]:
                self.event(event)
        else:
            self._kept.add(raw, self)
        return raw

    def event(self, raw: bytes) -> None:
        name = _event_name(raw)
        if name in (b"message_stop", b"error"):
            self.finished = True
        elif name in (b"message_start", b"message_delta"):
            data = _json(event_fields(raw)[1])
            if not isinstance(data, dict):
                return
            usage = data.get("usage")
            if name == b"message_start" and isinstance(data.get("message"), dict):
                usage = data["message"].get("usage")
            # A later count replaces an earlier one: output counts are cumulative.
            self._usage |= usage_fields(usage)
            if name == b"message_delta" and "output_tokens" in self._usage:
                self.report = UsageReport(tokens_from_anthropic(self._usage))
        else:
            self._kept.add(raw, self)

    def relayed_text(self) -> str:
        return self._kept.decode(self)

    def text_of(self, raw: bytes, into: list[str]) -> None:
        event = _json(event_fields(raw)[1])
        delta = event.get("delta") if isinstance(event, dict) else None
        field = _MESSAGE_TEXT.get(delta.get("type", "")) if isinstance(delta, dict) else None
        if field is not None and isinstance(text := delta.get(field), str):  # type: ignore[union-attr]
            into.append(text)

    def truncation(self, message: str) -> bytes:
        error = {"type": "error", "error": {"type": "api_error", "message": message}}
        return b"event: error\ndata: " + orjson.dumps(error) + b"\n\n"


class _Opaque:
    """A stream keyplane does not read: relayed as it is, nothing reported."""

    report: UsageReport | None = None
    finished = True

    def block(self, raw: bytes) -> bytes:
        return raw

    def relayed_text(self) -> str:
        return ""

    def truncation(self, message: str) -> bytes:
        return b""


def answer_text(answer: Any) -> str:
    """The generated text of a whole (non-streamed) OpenAI answer, for counting its tokens."""
    into: list[str] = []
    if not isinstance(answer, dict):
        return ""
    choices = answer.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if isinstance(choice, dict):
            if isinstance(text := choice.get("text"), str):
                into.append(text)
            if isinstance(message := choice.get("message"), dict):
                _delta_text(message, into)
    output = answer.get("output")
    for item in output if isinstance(output, list) else ():
        parts = item.get("content") if isinstance(item, dict) else None
        for part in parts if isinstance(parts, list) else ():
            if isinstance(part, dict) and isinstance(text := part.get("text"), str):
                into.append(text)
        if isinstance(item, dict) and isinstance(arguments := item.get("arguments"), str):
            into.append(arguments)
    return "".join(into)


def parser_for(usage: StreamUsage, *, strip_injected: bool) -> StreamParser:
    """The parser of an endpoint's stream."""
    if usage is StreamUsage.FINAL_CHUNK:
        return ChatStream(strip_injected=strip_injected)
    if usage is StreamUsage.RESPONSE_EVENT:
        return ResponsesStream()
    if usage is StreamUsage.MESSAGE_EVENTS:
        return MessagesStream()
    return _Opaque()


class StreamRelay:
    """Feeds on upstream bytes, returns what to send on; the parser keeps what it read."""

    def __init__(self, parser: StreamParser) -> None:
        self.parser = parser
        self._pending = b""
        self._crlf = False
        self._newline = b"\n"  # the stream's line end, to end a last event that lacks one

    def feed(self, chunk: bytes) -> bytes:
        """Return the complete events received so far, as the client should get them."""
        buffer = self._pending + chunk if self._pending else chunk
        if not self._crlf and b"\r" in chunk:
            self._crlf = b"\r\n" in chunk
            self._newline = b"\r\n" if self._crlf else b"\r"
        end = complete_end(buffer, crlf=self._crlf)
        if not end:
            if len(buffer) > _MAX_PENDING:
                self._pending = b""
                return buffer
            self._pending = buffer
            return b""
        if end == len(buffer):
            self._pending = b""
            return self.parser.block(buffer)
        self._pending = buffer[end:]
        return self.parser.block(buffer[:end])

    def close(self) -> bytes:
        """What is left when the upstream stream ends."""
        rest, self._pending = self._pending, b""
        if not rest.strip():
            return rest
        # The last event lacks its blank line: end it, so that it is read, and so do clients.
        return self.parser.block(rest + self._newline * 2)
