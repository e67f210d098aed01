"""``create_api``: the admin API's FastAPI app, with its routes and its JSON error handlers.

The composition root (``keyplane.app``) puts the gateway in front of it and the dashboard
behind it; OpenAPI (``/openapi.json``, ``/docs``) describes the admin API alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from keyplane import __version__
from keyplane.api.errors import install_error_handlers
from keyplane.api.routes import (
    admin_keys,
    api_keys,
    audit_logs,
    health,
    leaks,
    metrics,
    people,
    project_models,
    projects,
    service_accounts,
    spend,
    usage,
    verify,
    webhook,
)
from keyplane.http.telemetry import NO_TELEMETRY

ROUTES = (
    health,
    metrics,
    projects,
    api_keys,
    admin_keys,
    audit_logs,
    verify,
    usage,
    leaks,
    webhook,
    service_accounts,
    project_models,
    spend,
    people,
)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
AppT = TypeVar("AppT", bound=FastAPI)


def create_api(*, lifespan: Lifespan, app_class: type[AppT]) -> AppT:
    app = app_class(
        title="keyplane",
        version=__version__,
        summary="A self-hosted control plane for API keys.",
        lifespan=lifespan,
        # keyplane exports its own Prometheus metrics and configures no OpenTelemetry;
        # FastAPI's checks for it would cost every request a few microseconds.
        telemetry=NO_TELEMETRY,
        docs_url=None,
    )
    install_error_handlers(app)
    _serve_docs(app)
    for module in ROUTES:
        app.include_router(module.router)
    return app


DOCS_ASSETS = "/docs/assets"


def _serve_docs(app: FastAPI) -> None:
    """``/docs`` with Swagger UI's files from the ``swagger-ui-bundle-v2`` package, not a
    CDN: the page works on a machine without internet access."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs")
    app.add_api_route("/docs", _docs, methods=["GET"], include_in_schema=False)


async def _docs(request: Request) -> HTMLResponse:
    # Module-level, not a closure over the app: FastAPI caches facts about each endpoint
    # callable (4,096 of them), so a closure would keep every app ever built alive.
    app: FastAPI = request.app
    return get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        # No badge from the online validator: nothing on the page leaves this server.
        swagger_ui_parameters={"validatorUrl": None},
    )


__all__ = ["Lifespan", "create_api"]
