"""``create_app(settings)``: the ASGI app. Nothing connects until the lifespan starts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from keyplane import __version__
from keyplane.api.errors import install_error_handlers
from keyplane.api.metrics import Metrics
from keyplane.api.routes import (
    admin_keys,
    api_keys,
    audit_logs,
    health,
    leaks,
    metrics,
    projects,
    usage,
    verify,
    webhook,
)
from keyplane.api.services import Services
from keyplane.config import Settings
from keyplane.gateway.routes import GatewayRouter
from keyplane.services.clock import Clock, system_clock
from keyplane.web.app import install_dashboard


def create_app(settings: Settings, *, clock: Clock = system_clock) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        services = Services.build(settings, clock=clock)
        app.state.services = services
        services.last_used.start()
        services.webhooks.start()
        await services.gateway.start()
        try:
            yield
        finally:
            await services.gateway.stop()
            await services.limits.close()
            await services.webhooks.stop()
            await services.last_used.stop()
            await services.database.close()

    app = FastAPI(
        title="keyplane",
        version=__version__,
        summary="A self-hosted control plane for API keys.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(GatewayRouter)  # the gateway's hot path skips FastAPI's own stack
    app.state.metrics = _metrics(app)
    for module in (health, metrics, projects, api_keys, admin_keys, audit_logs, verify):
        app.include_router(module.router)
    app.include_router(usage.router)
    app.include_router(leaks.router)
    app.include_router(webhook.router)
    install_dashboard(app)  # last: it wraps the error handlers above
    return app


def _metrics(app: FastAPI) -> Metrics:
    """The process's metrics, with gauges that read the services once the lifespan built them."""
    registry = Metrics()

    def pending_usage() -> float:
        services = getattr(app.state, "services", None)
        return float(services.gateway.meter.pending) if services else 0.0

    registry.gauge(
        "keyplane_usage_pending_buckets",
        "Usage buckets counted in memory and not yet written to the store.",
        pending_usage,
    )
    return registry
