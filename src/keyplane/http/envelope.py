"""OpenAI's error envelope, ``{"error": {message, type, param, code}}``, for every surface."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse

from keyplane.errors import KeyplaneError
from keyplane.logs import redact_text


def envelope(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    # A secret sent where an id belongs ("No API key with id 'kp_proj_...'") is not echoed.
    body = {"error": {"message": redact_text(message), "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def error_envelope(error: KeyplaneError) -> JSONResponse:
    """A domain error as its status and envelope, with its headers (``retry-after``, ...)."""
    return envelope(
        error.status,
        error.message,
        type=error.type,
        code=error.code,
        param=error.param,
        headers=error.headers or None,
    )


def internal_error() -> JSONResponse:
    """The last resort: a plain 500; the details go to the server log only."""
    return envelope(
        500,
        "Internal error; the server log has details.",
        type="server_error",
        code="internal_error",
    )


def store_unavailable() -> JSONResponse:
    return envelope(
        503,
        "The key store is unreachable; try again shortly.",
        type="server_error",
        code="store_unavailable",
    )


def http_error(status: int, detail: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """Starlette's own errors (no route, wrong method) in the envelope, with a useful message."""
    if status == 405:
        return method_not_allowed(headers)
    if status == 404:
        message = "Unknown path; see /docs for the endpoints keyplane serves."
        return envelope(404, message, code="not_found", headers=headers)
    return envelope(status, detail, headers=headers)


def method_not_allowed(headers: Mapping[str, str] | None = None) -> JSONResponse:
    return envelope(
        405, "This method is not allowed on this path.", code="method_not_allowed", headers=headers
    )
