"""Render every error once, in OpenAI's envelope: ``{"error": {message, type, param, code}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyplane.errors import KeyplaneError
from keyplane.http.envelope import (
    envelope,
    error_envelope,
    http_error,
    internal_error,
    store_unavailable,
)
from keyplane.store.database import STORE_UNREACHABLE

logger = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KeyplaneError, _keyplane_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    for unreachable in STORE_UNREACHABLE:
        app.add_exception_handler(unreachable, _store_unreachable)
    app.add_exception_handler(Exception, _unexpected)


async def _keyplane_error(_request: Request, exc: KeyplaneError) -> JSONResponse:
    return error_envelope(exc)


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
    return http_error(exc.status_code, str(exc.detail), exc.headers)


async def _store_unreachable(request: Request, exc: Exception) -> JSONResponse:
    logger.warning(
        "store unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return store_unavailable()


async def _unexpected(_request: Request, _exc: Exception) -> JSONResponse:
    # Starlette raises it on after this answer; the app's ServerErrors logs it, once.
    return internal_error()
