"""``create_app(settings)``: the one ASGI app, for the tests and ``keyplane serve`` alike.

The stack, outermost first:

    server errors   ``http.server_errors``: a crash is logged once and answered 500 in the envelope
    metrics         every request counted by route group, for ``/metrics``
    gateway router  ``/v1/chat/completions`` and the rest, before any of FastAPI's stack runs
    admin API       FastAPI: ``/v1/organization/...``, verify, leaks, health, ``/docs``
    dashboard       its own FastAPI app with HTML error pages, serving every path the API
                    does not (the API router's fallback, so the API keeps its own 405s)

The first three are keyplane's own ASGI layers in front of FastAPI (``App.__call__``), so a
gateway call pays for none of FastAPI's middleware. Nothing connects until the lifespan
starts; the runtime is built there, once, and each surface reads it from its app's state.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from keyplane.api.app import create_api
from keyplane.clock import Clock, system_clock
from keyplane.config import Settings, load_settings
from keyplane.gateway.assembly import build_gateway
from keyplane.gateway.router import GatewayRouter
from keyplane.http.metrics import Metrics, MetricsMiddleware
from keyplane.http.server_errors import ServerErrors
from keyplane.runtime import Runtime
from keyplane.web.app import create_dashboard


class App(FastAPI):
    """The admin API's FastAPI app, entered through keyplane's own front layers."""

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is None:  # the front layers wrap ``behind``; set by ``create_app``
            raise RuntimeError("App.front is not set: build the app with create_app()")
        await self.front(scope, receive, send)

    async def behind(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own stack: its middleware, the admin API's routes, the dashboard."""
        await super().__call__(scope, receive, send)


def create_app(settings: Settings, *, clock: Clock = system_clock) -> App:
    dashboard = create_dashboard()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with Runtime.running(settings, clock=clock) as runtime:
            gateway = build_gateway(runtime)
            await gateway.start()
            app.state.runtime = dashboard.state.runtime = runtime
            app.state.gateway = gateway
            # What is built by now lives as long as the app: out of the collector's sight, a
            # full collection takes ~12 ms instead of 130-270 ms, a stall of every call in
            # flight (measured: docs/benchmarks.md, "The tail").
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()
                await gateway.stop()

    app = create_api(lifespan=lifespan, app_class=App)
    app.state.metrics = _metrics(app)
    app.router.default = dashboard
    gateway_router = GatewayRouter(app.behind, state=app.state)
    app.front = ServerErrors(MetricsMiddleware(gateway_router, app.state.metrics))
    return app


def app_from_environment() -> App:
    """The app with settings from the environment and ``.env``: uvicorn's factory for ``serve``."""
    return create_app(load_settings())


def _metrics(app: FastAPI) -> Metrics:
    """The process's metrics, with gauges that read the runtime once the lifespan built it."""
    metrics = Metrics()

    def pending_usage() -> float:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        return float(runtime.meter.pending) if runtime else 0.0

    metrics.gauge(
        "keyplane_usage_pending_buckets",
        "Usage buckets counted in memory and not yet written to the store.",
        pending_usage,
    )

    def odd_usage_values() -> float:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        return float(runtime.meter.odd_values) if runtime else 0.0

    metrics.counter(
        "keyplane_usage_odd_values",
        "Usage values from upstream that were out of range or not integers, clamped or dropped.",
        odd_usage_values,
    )
    return metrics
