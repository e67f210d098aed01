"""``create_app(settings)``: the one ASGI app, for the tests and ``keyplane serve`` alike.

The stack, outermost first:

    server errors   ``http.server_errors``: a crash is logged once and answered 500 in the envelope
    https           ``http.https``: HTTPS seen directly, from a trusted proxy or the public URL;
                    HSTS then
    metrics         every request counted by route group, for ``/metrics``
    body limits     ``http.body_limits``: 413 past a route's size, before the body is read; a
                    caller of a keyed route is authenticated before its body is read at all
    hygiene         ``gateway.hygiene``: no provider account headers, cookies or provider key
                    in any answer
    gateway router  ``/v1/chat/completions`` and the rest, before any of FastAPI's stack runs
    admin API       FastAPI: ``/v1/organization/...``, verify, leaks, health, ``/docs``
    dashboard       its own FastAPI app with HTML error pages, serving every path the API
                    does not (the API router's fallback, so the API keeps its own 405s)

The first six are keyplane's own ASGI layers in front of FastAPI (``App.__call__``), so a
gateway call pays for none of FastAPI's middleware. Nothing connects until the lifespan
starts; the runtime is built there, once, and each surface reads it from its app's state.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from keyplane.api.app import create_api
from keyplane.auth.principal import GATED_PRINCIPAL, authenticated_key, bearer_token
from keyplane.clock import Clock, system_clock
from keyplane.config import Settings, load_settings
from keyplane.errors import KeyplaneError, UnavailableError
from keyplane.gateway.anthropic import anthropic_error
from keyplane.gateway.assembly import build_gateway
from keyplane.gateway.hygiene import ProviderHygiene
from keyplane.gateway.router import GatewayRouter
from keyplane.http.body_limits import BodyLimits, RouteLimits
from keyplane.http.envelope import error_envelope
from keyplane.http.https import Https
from keyplane.http.metrics import Metrics, MetricsMiddleware
from keyplane.http.server_errors import ServerErrors
from keyplane.runtime import Runtime
from keyplane.store.database import STORE_UNREACHABLE
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
            hygienic.use_secrets(gateway.upstreams.provider_keys())
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
    provider_key = settings.upstream_api_key
    provider_keys = [provider_key.get_secret_value()] if provider_key else []
    # The lifespan adds every upstream's key once the upstreams file is read.
    hygienic = ProviderHygiene(gateway_router, secrets=provider_keys)
    limited = BodyLimits(hygienic, RouteLimits.of(settings), gate=_gate(app), render=_refusal)
    https = Https(
        MetricsMiddleware(limited, app.state.metrics),
        trusted_proxies=settings.trusted_proxies,
        always=settings.served_over_https,
    )
    app.front = ServerErrors(https)
    return app


def _gate(app: FastAPI) -> Callable[[str, Scope], Awaitable[None]]:
    """Authenticates a keyed call before its body is read: gateway and admin keys alike.

    The gateway checks the key again (scopes, models, IPs); this only keeps an unknown caller
    from making keyplane take in its body, and a gateway key comes from the key cache, so the
    route's own check is a cache hit. An admin key is a store lookup: the principal is left
    in the request's state for the admin API, which then does not look it up again.
    """

    async def gate(group: str, scope: Scope) -> None:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        if runtime is None or not (group.startswith("gateway_") or group in _ADMIN_GROUPS):
            return
        authorization = _header(scope, b"authorization")
        if group in _ANTHROPIC_GROUPS and authorization is None:
            # Anthropic's clients send the key as x-api-key, as the gateway reads it.
            api_key = _header(scope, b"x-api-key")
            authorization = None if api_key is None else "Bearer " + api_key
        try:
            if group in _ADMIN_GROUPS:
                principal = await runtime.admin_auth.authenticate(
                    authorization, ip_address=None, user_agent=None
                )
                scope.setdefault("state", {})[GATED_PRINCIPAL] = principal
            else:
                token = bearer_token(authorization)
                authenticated_key(await runtime.key_cache.resolve(token, now=runtime.clock()))
        except STORE_UNREACHABLE:  # fail closed, as the routes do
            raise UnavailableError(
                "The key store is unreachable; try again shortly.", code="store_unavailable"
            ) from None

    return gate


_ADMIN_GROUPS = frozenset({"admin_api", "verify"})
_ANTHROPIC_GROUPS = frozenset({"gateway_messages", "gateway_messages_count_tokens"})


def _refusal(group: str, error: KeyplaneError) -> JSONResponse:
    """A refusal before the body is read, in the shape the route's own clients expect."""
    return anthropic_error(error) if group in _ANTHROPIC_GROUPS else error_envelope(error)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


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
