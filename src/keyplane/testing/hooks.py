"""Test-only hooks: what a request can force on the stand-in upstream, and its errors.

A hook is read from a header ``x-test-<name>``, or else from the request body's
``metadata["test_<name>"]`` (useful when a gateway forwards bodies but not headers):

- ``status`` — answer with this HTTP status (400-599) and an OpenAI error body.
- ``delay-ms`` — sleep this long before answering (timeout tests).
- ``stream-delay-ms`` — sleep this long between stream frames.
- ``usage`` — force token counts: ``prompt=7,completion=11,cached=3`` (any subset; also
  ``reasoning`` and ``audio``, the completion's reasoning and audio tokens).
- ``stream-cut-after`` — send only this many frames of a stream, then cut it: end the body
  cleanly (no ``[DONE]``, no ``response.completed``), or drop the connection when
  ``stream-cut`` is ``drop``.
- ``sse-newline`` — frame a stream with ``lf`` (the default), ``crlf`` or ``cr`` line ends.
- ``echo-auth`` — answer 400 with the request's ``Authorization`` in the error message, as a
  careless provider might (the gateway must not relay the key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keyplane.testing.payloads import JSON, error_body
from keyplane.testing.tokens import parse_usage_override

_MAX_DELAY_MS = 600_000
_MAX_FRAMES = 1 << 20


class UpstreamError(Exception):
    """An answer in OpenAI's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = error_body(message, type_=type_, param=param, code=code)


def injected_error(status: int) -> UpstreamError:
    """The error a test asked for with the ``status`` hook, typed as OpenAI types it."""
    type_, code = "invalid_request_error", None
    if status == 429:
        type_, code = "requests", "rate_limit_exceeded"
    elif status >= 500:
        type_ = "server_error"
    return UpstreamError(status, f"Injected error: HTTP {status}.", type_=type_, code=code)


def _value(name: str, headers: Mapping[str, str], metadata: object) -> str | None:
    header = headers.get(f"x-test-{name}")
    if header is not None:
        return header
    if isinstance(metadata, Mapping):
        value = metadata.get("test_" + name.replace("-", "_"))
        return value if isinstance(value, str) else None
    return None


def _int(name: str, raw: str | None, low: int, high: int) -> int | None:
    if raw is None:
        return None
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise UpstreamError(400, f"x-test-{name} must be an integer from {low} to {high}")
    return int(raw)


def _usage(raw: str | None) -> dict[str, int] | None:
    if raw is None:
        return None
    try:
        return parse_usage_override(raw)
    except ValueError as error:
        raise UpstreamError(400, str(error)) from None


_NEWLINES = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def _choice(name: str, raw: str | None, choices: Mapping[str, object]) -> object:
    if raw is None:
        return None
    if raw not in choices:
        raise UpstreamError(400, f"x-test-{name} must be one of {', '.join(choices)}")
    return choices[raw]


@dataclass(frozen=True, slots=True)
class StreamCut:
    """Where a stream is cut short: after ``frames`` frames, cleanly or by a dropped socket."""

    frames: int
    drop: bool = False


@dataclass(frozen=True, slots=True)
class Hooks:
    """The hooks one request set; all empty for an ordinary request."""

    status: int | None = None
    delay: float = 0.0
    stream_delay: float = 0.0
    usage: Mapping[str, int] | None = None
    cut: StreamCut | None = None
    newline: bytes = b"\n"
    echo_auth: bool = False

    @classmethod
    def read(cls, headers: Mapping[str, str], body: Any) -> Hooks:
        """Read the hooks of a request; raises ``UpstreamError`` (400) on a malformed one."""
        metadata = body.get("metadata") if isinstance(body, Mapping) else None

        def raw(name: str) -> str | None:
            return _value(name, headers, metadata)

        delay = _int("delay-ms", raw("delay-ms"), 0, _MAX_DELAY_MS)
        gap = _int("stream-delay-ms", raw("stream-delay-ms"), 0, _MAX_DELAY_MS)
        cut_after = _int("stream-cut-after", raw("stream-cut-after"), 0, _MAX_FRAMES)
        drop = _choice("stream-cut", raw("stream-cut"), {"end": False, "drop": True})
        newline = _choice("sse-newline", raw("sse-newline"), _NEWLINES)
        return cls(
            status=_int("status", raw("status"), 400, 599),
            delay=(delay or 0) / 1000,
            stream_delay=(gap or 0) / 1000,
            usage=_usage(raw("usage")),
            cut=None if cut_after is None else StreamCut(cut_after, drop is True),
            newline=newline if isinstance(newline, bytes) else b"\n",
            echo_auth=raw("echo-auth") is not None,
        )
