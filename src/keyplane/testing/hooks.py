"""Test-only hooks: what a request can force on the stand-in upstream, and its errors.

A hook is read from a header ``x-test-<name>``, or else from the request body's
``metadata["test_<name>"]`` (useful when a gateway forwards bodies but not headers):

- ``status`` — answer with this HTTP status (400-599) and an OpenAI error body.
- ``delay-ms`` — sleep this long before answering (timeout tests).
- ``stream-delay-ms`` — sleep this long between stream frames.
- ``usage`` — force token counts: ``prompt=7,completion=11,cached=3`` (any subset).
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


@dataclass(frozen=True, slots=True)
class Hooks:
    """The hooks one request set; all empty for an ordinary request."""

    status: int | None = None
    delay: float = 0.0
    stream_delay: float = 0.0
    usage: Mapping[str, int] | None = None
    echo_auth: bool = False

    @classmethod
    def read(cls, headers: Mapping[str, str], body: Any) -> Hooks:
        """Read the hooks of a request; raises ``UpstreamError`` (400) on a malformed one."""
        metadata = body.get("metadata") if isinstance(body, Mapping) else None
        delay = _int("delay-ms", _value("delay-ms", headers, metadata), 0, _MAX_DELAY_MS)
        raw_gap = _value("stream-delay-ms", headers, metadata)
        gap = _int("stream-delay-ms", raw_gap, 0, _MAX_DELAY_MS)
        return cls(
            status=_int("status", _value("status", headers, metadata), 400, 599),
            delay=(delay or 0) / 1000,
            stream_delay=(gap or 0) / 1000,
            usage=_usage(_value("usage", headers, metadata)),
            echo_auth=_value("echo-auth", headers, metadata) is not None,
        )
