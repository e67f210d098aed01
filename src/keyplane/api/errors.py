"""Render every error once, in OpenAI's envelope: ``{"error": {message, type, param, code}}``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyplane.errors import KeyplaneError

logger = logging.getLogger(__name__)


def envelope(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KeyplaneError, _keyplane_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    for unreachable in STORE_UNREACHABLE:
        app.add_exception_handler(unreachable, _store_unreachable)
    app.add_exception_handler(Exception, _unexpected)


# What a lost database connection raises: fail closed with 503, never wave a call through.
STORE_UNREACHABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)


async def _keyplane_error(_request: Request, exc: KeyplaneError) -> JSONResponse:
    return envelope(
        exc.status,
        exc.message,
        type=exc.type,
        code=exc.code,
        param=exc.param,
        headers=exc.headers or None,
    )


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    first: dict[str, Any] = exc.errors()[0] if exc.errors() else {}
    kind = first.get("type")
    if kind == "json_invalid":
        return envelope(400, "The request body is not valid JSON.", code="invalid_json")
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(location) or None
    reason = str(first.get("msg", "invalid value"))
    if not param and kind in ("model_attributes_type", "dict_type"):
        message = "The request body must be a JSON object."
    elif not param and kind == "missing":
        message = "This endpoint needs a JSON body."
    elif kind == "extra_forbidden":
        message = f"Unknown field '{param}'; check the field names in the API reference."
    elif param:
        message = f"Invalid value for '{param}': {reason}."
    else:
        message = f"Invalid request: {reason}."
    return envelope(422 if param else 400, message, code="invalid_value", param=param)


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = str(exc.detail)
    if exc.status_code == 404:
        message = "Unknown path; see /docs for the endpoints keyplane serves."
    elif exc.status_code == 405:
        message = "This method is not allowed on this path."
    return envelope(
        exc.status_code, message, code=_HTTP_CODES.get(exc.status_code), headers=exc.headers
    )


async def _store_unreachable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning(
        "store unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return envelope(
        503,
        "The key store is unreachable; try again shortly.",
        type="server_error",
        code="store_unavailable",
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the server log only; the client gets a plain message.
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return envelope(
        500,
        "Internal error; the server log has details.",
        type="server_error",
        code="internal_error",
    )


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
