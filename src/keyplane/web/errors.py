"""The dashboard's errors: an HTML page for people, OpenAI's envelope for anything else.

The dashboard is its own FastAPI app with these handlers. It serves every path the admin API
does not, so a browser's request for an unknown page gets a page, while a script's request
for an unknown path still gets the JSON envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyplane.errors import KeyplaneError
from keyplane.http.envelope import error_envelope, http_error, internal_error, store_unavailable
from keyplane.logs import redact_text
from keyplane.store.database import STORE_UNREACHABLE
from keyplane.web.auth import (
    LoginRequiredError,
    anonymous_csrf,
    login_url,
    set_anonymous_csrf,
)
from keyplane.web.forms import Form, Resume
from keyplane.web.templating import pages_of

logger = logging.getLogger(__name__)

TAG = "dashboard"
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
_OUR_SIDE = "Something went wrong on our side; the server log has the details."


def is_dashboard(request: Request) -> bool:
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        return TAG in route.tags
    path = request.url.path
    accepts_html = "text/html" in request.headers.get("accept", "")
    return accepts_html and not path.startswith("/v1") and path != "/v1"


def install_html_errors(app: FastAPI) -> None:
    app.add_exception_handler(KeyplaneError, _keyplane_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    for unreachable in STORE_UNREACHABLE:
        app.add_exception_handler(unreachable, _store_unreachable)
    app.add_exception_handler(LoginRequiredError, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


def error_page(request: Request, status: int, message: str) -> Response:
    # A secret pasted where an id belongs ("No API key with id 'sk-kp-...'") is not echoed:
    # the same redaction as the API's envelope.
    return pages_of(request).render(
        request,
        "error.html",
        status=status,
        title=_TITLES.get(status, "Something went wrong"),
        message=redact_text(message),
    )


def _page_or(json: Callable[[], Response], request: Request, status: int, message: str) -> Response:
    return error_page(request, status, message) if is_dashboard(request) else json()


async def _keyplane_error(request: Request, exc: KeyplaneError) -> Response:
    message = _OUR_SIDE if exc.status >= 500 else exc.message
    return _page_or(lambda: error_envelope(exc), request, exc.status, message)


async def _validation_error(request: Request, _exc: Exception) -> Response:
    message = "Some of the form's fields were missing or malformed; go back and retry."
    return _page_or(lambda: http_error(400, message), request, 400, message)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    def json() -> Response:
        return http_error(exc.status_code, str(exc.detail), exc.headers)

    if exc.status_code in (404, 405):
        message = "There is nothing at this address. Check the link, or start from Projects."
        return _page_or(json, request, 404, message)
    message = _OUR_SIDE if exc.status_code >= 500 else str(exc.detail)
    return _page_or(json, request, exc.status_code, message)


async def _store_unreachable(request: Request, exc: Exception) -> Response:
    logger.warning(
        "store unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return _page_or(store_unavailable, request, 503, _OUR_SIDE)


async def _unexpected(request: Request, _exc: Exception) -> Response:
    # Starlette raises it on after this answer; the app's ServerErrors logs it, once.
    return _page_or(internal_error, request, 500, _OUR_SIDE)


async def _login_required(request: Request, exc: LoginRequiredError) -> Response:
    if exc.draft is None:
        return RedirectResponse(login_url(exc.next_path), status_code=303)
    # A form sent after the session ended: sign in here, keeping what was typed.
    csrf = anonymous_csrf(request)
    response = pages_of(request).render(
        request,
        "login.html",
        status=401,
        csrf=csrf,
        form=Form(),
        next="/projects",
        resume=Resume(exc.next_path, exc.draft),
    )
    set_anonymous_csrf(request, response, csrf)
    return response
