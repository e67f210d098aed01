"""Anthropic's Messages API at the gateway: its usage, its stream events and its error shape.

Anthropic reports ``input_tokens`` without the prompt-cache tokens, which come apart as
``cache_creation_input_tokens`` (written to the cache, billed above the input price) and
``cache_read_input_tokens`` (read from it, billed below). keyplane's ``Tokens`` counts both
as parts of ``input``, as ``cache_write`` and ``cached``. A stream says the input counts in
``message_start`` and the running output count in each ``message_delta``; the last one seen
is what the call used.

Refusals on ``/v1/messages`` are rendered as Anthropic renders errors,
``{"type": "error", "error": {"type": ..., "message": ...}}``, so the ``anthropic`` SDK raises
its usual classes for them.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

from keyplane.errors import KeyplaneError
from keyplane.usage.records import NO_TOKENS, Tokens

_END = b"\n\n"
_MARKERS = (b"message_start", b"message_delta")
_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
# Anthropic's error types by status (https://docs.anthropic.com/en/api/errors).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def _count(usage: dict[str, Any], name: str) -> int:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def tokens_from_anthropic(usage: Any) -> Tokens:
    """keyplane's counts from an Anthropic ``usage`` block; absent or odd fields count 0."""
    if not isinstance(usage, dict):
        return NO_TOKENS
    written = _count(usage, "cache_creation_input_tokens")
    read = _count(usage, "cache_read_input_tokens")
    return Tokens(
        input=_count(usage, "input_tokens") + written + read,
        output=_count(usage, "output_tokens"),
        cached=read,
        cache_write=written,
    )


def tokens_from_message(body: Any) -> Tokens:
    """The counts of a whole (non-streamed) ``message``."""
    return tokens_from_anthropic(body.get("usage")) if isinstance(body, dict) else NO_TOKENS


class MessageStreamUsage:
    """Reads the usage of an Anthropic event stream from its complete events."""

    def __init__(self) -> None:
        self._usage: dict[str, int] = {}

    @property
    def tokens(self) -> Tokens | None:
        return tokens_from_anthropic(self._usage) if self._usage else None

    def feed(self, complete: bytes) -> None:
        """Take the usage of the ``message_start`` and ``message_delta`` events in ``complete``."""
        if not any(marker in complete for marker in _MARKERS):
            return
        for event in complete.split(_END):
            if b"message_start" in event or b"message_delta" in event:
                self._take(_data(event))

    def _take(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        if data.get("type") == "message_start" and isinstance(data.get("message"), dict):
            data = data["message"]
        elif data.get("type") != "message_delta":
            return
        usage = data.get("usage")
        if isinstance(usage, dict):
            # A later event's count replaces an earlier one: output counts are cumulative.
            self._usage |= {name: _count(usage, name) for name in _FIELDS if name in usage}


def _data(event: bytes) -> Any:
    lines = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    try:
        return orjson.loads(b"\n".join(lines)) if lines else None
    except orjson.JSONDecodeError:
        return None


def error_type(status: int) -> str:
    """Anthropic's error ``type`` for a status."""
    return _ERROR_TYPES.get(status, "api_error")


def anthropic_error(error: KeyplaneError) -> JSONResponse:
    """A refusal in Anthropic's error shape, with its status and headers (``retry-after``)."""
    body = {"type": "error", "error": {"type": error_type(error.status), "message": error.message}}
    return JSONResponse(body, status_code=error.status, headers=error.headers or None)
