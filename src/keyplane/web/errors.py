"""Errors on dashboard pages render as HTML pages; everything else keeps its JSON envelope.

The app's handlers (``api.errors``) render OpenAI's envelope. The dashboard wraps each of
them: a request that a dashboard route answered, or a browser's request for a path nobody
serves outside ``/v1``, gets a page instead; any other request goes to the JSON handler.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyplane.errors import KeyplaneError
from keyplane.web.auth import LoginRequiredError, login_url
from keyplane.web.templating import pages_of

logger = logging.getLogger(__name__)

TAG = "dashboard"
Handler = Callable[[Request, Any], Response | Awaitable[Response]]
_TITLES = {
    400: "That request was not right",
    401: "Please sign in",
    403: "You cannot do that",
    404: "Page not found",
    405: "Page not found",
    409: "That could not be done",
    422: "That request was not right",
    429: "Slow down",
    503: "keyplane is unavailable",
}


def is_dashboard(request: Request) -> bool:
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        return TAG in route.tags
    path = request.url.path
    accepts_html = "text/html" in request.headers.get("accept", "")
    return accepts_html and not path.startswith("/v1") and path != "/v1"


def install_html_errors(app: FastAPI) -> None:
    """Wrap the app's error handlers; call after the JSON ones are installed."""
    for exc_class, handler in list(app.exception_handlers.items()):
        app.exception_handlers[exc_class] = _wrapped(handler)
    app.exception_handlers[LoginRequiredError] = _login_required


def _wrapped(json_handler: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if not is_dashboard(request):
            return await _call(json_handler, request, exc)
        return await error_page(request, exc, json_handler)

    return handler


async def _call(handler: Handler, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result


async def error_page(request: Request, exc: Exception, json_handler: Handler) -> Response:
    status, message = _status_and_message(exc)
    if status is None:
        # Not one of ours: let the JSON handler log it and choose the status, then dress it.
        status = (await _call(json_handler, request, exc)).status_code
        message = "Something went wrong on our side; the server log has the details."
    return pages_of(request).render(
        request,
        "error.html",
        status=status,
        title=_TITLES.get(status, "Something went wrong"),
        message=message,
    )


def _status_and_message(exc: Exception) -> tuple[int | None, str]:
    if isinstance(exc, KeyplaneError) and exc.status < 500:
        return exc.status, exc.message
    if isinstance(exc, RequestValidationError):
        return 400, "Some of the form's fields were missing or malformed; go back and retry."
    if isinstance(exc, StarletteHTTPException) and exc.status_code < 500:
        if exc.status_code in (404, 405):
            return 404, "There is nothing at this address. Check the link, or start from Projects."
        return exc.status_code, str(exc.detail)
    return None, ""


async def _login_required(_request: Request, exc: LoginRequiredError) -> Response:
    return RedirectResponse(login_url(exc.next_path), status_code=303)
