"""``create_api``: the admin API's FastAPI app, with its routes and its JSON error handlers.

The composition root (``keyplane.app``) puts the gateway in front of it and the dashboard
behind it; OpenAPI (``/openapi.json``, ``/docs``) describes the admin API alone.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from fastapi import FastAPI

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
    )
    install_error_handlers(app)
    for module in ROUTES:
        app.include_router(module.router)
    return app


__all__ = ["Lifespan", "create_api"]
