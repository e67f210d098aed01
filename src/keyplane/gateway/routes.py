"""The gateway's routing: a pure ASGI middleware that serves gateway paths before FastAPI's
own stack (exception middleware, exit stacks, router), so the hot path runs no dependency
injection, no validation and no route scan. Everything else passes through untouched.

Errors are ``KeyplaneError``s rendered once here, in OpenAI's envelope; anything unexpected
goes on to the app's server-error handler, which renders the same envelope as a 500.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.api.errors import envelope
from keyplane.api.metrics import MetricsMiddleware
from keyplane.errors import KeyplaneError
from keyplane.gateway.endpoints import POST_ENDPOINTS, Endpoint
from keyplane.gateway.proxy import Gateway
from keyplane.gateway.wire import read_incoming

_POSTS = {"/v1" + endpoint.path: endpoint for endpoint in POST_ENDPOINTS}
_MODELS = "/v1/models"
_MODEL_PREFIX = "/v1/models/"

logger = logging.getLogger(__name__)


class GatewayRouter:
    """Serves ``/v1/chat/completions`` and the other gateway paths; passes the rest on."""

    def __init__(self, app: ASGIApp, *, outermost: Starlette | None = None) -> None:
        self.app = app
        # In front of the whole app (``in_front``), no Starlette scope["app"] is set yet and
        # no ServerErrorMiddleware catches a crash, so this router does both itself.
        self.outermost = outermost

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        endpoint = _POSTS.get(path)
        is_models = path == _MODELS or path.startswith(_MODEL_PREFIX)
        if endpoint is None and not is_models:
            await self.app(scope, receive, send)
            return
        expected = "GET" if is_models else "POST"
        if scope["method"] != expected:
            await envelope(
                405, "This method is not allowed on this path.", code="method_not_allowed"
            )(scope, receive, send)
            return
        if self.outermost is not None:
            await self._guarded(scope, receive, send, self.outermost, endpoint, path)
        else:
            await self._serve(scope, receive, send, scope["app"], endpoint, path)

    async def _guarded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: Starlette,
        endpoint: Endpoint | None,
        path: str,
    ) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self._serve(scope, receive, tracked, app, endpoint, path)
        except Exception:  # the app's last-resort handler is behind us: log and answer 500
            logger.exception("unhandled error on %s %s", scope["method"], path)
            if not started:
                await envelope(
                    500,
                    "Internal error; the server log has details.",
                    type="server_error",
                    code="internal_error",
                )(scope, receive, send)

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        app: Starlette,
        endpoint: Endpoint | None,
        path: str,
    ) -> None:
        gateway: Gateway = app.state.services.gateway
        incoming = await read_incoming(scope, receive, send)
        try:
            if endpoint is not None:
                await gateway.post(endpoint, incoming)
            else:
                model = path[len(_MODEL_PREFIX) :] if path != _MODELS else None
                await gateway.models(incoming, model or None)
        except KeyplaneError as error:
            response = envelope(
                error.status,
                error.message,
                type=error.type,
                code=error.code,
                param=error.param,
                headers=error.headers or None,
            )
            await response(scope, receive, send)


def in_front(app: Starlette) -> ASGIApp:
    """The app with gateway paths served before anything of FastAPI runs (for ``serve``),
    every request counted for ``/metrics`` on the way."""
    return MetricsMiddleware(GatewayRouter(app, outermost=app), app.state.metrics)
