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


def usage_fields(usage: Any) -> dict[str, int]:
    """The counts an Anthropic ``usage`` block holds, each as a clean integer."""
    if not isinstance(usage, dict):
        return {}
    return {name: _count(usage, name) for name in _FIELDS if name in usage}


def error_type(status: int) -> str:
    """Anthropic's error ``type`` for a status."""
    return _ERROR_TYPES.get(status, "api_error")


def anthropic_error(error: KeyplaneError) -> JSONResponse:
    """A refusal in Anthropic's error shape, with its status and headers (``retry-after``)."""
    body = {"type": "error", "error": {"type": error_type(error.status), "message": error.message}}
    return JSONResponse(body, status_code=error.status, headers=error.headers or None)


def message_text(message: Any) -> str:
    """The generated text of a whole ``message`` (its text, tool input and thinking blocks),
    for counting when the answer carries no ``usage``."""
    blocks = message.get("content") if isinstance(message, dict) else None
    parts: list[str] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, dict):
            continue
        for field in ("text", "thinking"):
            if isinstance(text := block.get(field), str):
                parts.append(text)
        if isinstance(tool_input := block.get("input"), dict):
            parts.append(orjson.dumps(tool_input).decode())
    return "".join(parts)
