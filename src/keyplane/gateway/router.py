"""The gateway's routing: a pure ASGI middleware that serves gateway paths before FastAPI's
own exception middleware, exit stacks and router, so the hot path runs no dependency
injection, no validation and no route scan. Everything else passes through untouched.

Errors are ``KeyplaneError``s rendered once here, in OpenAI's envelope (in Anthropic's error
shape on Anthropic's paths, ``/v1/messages``...); anything unexpected
goes on to the app's server-error handler, which renders the same envelope as a 500.
"""

from __future__ import annotations

from starlette.datastructures import State
from starlette.types import ASGIApp, Receive, Scope, Send

from keyplane.errors import KeyplaneError
from keyplane.gateway.anthropic import anthropic_error
from keyplane.gateway.endpoints import ANTHROPIC_ENDPOINTS, POST_ENDPOINTS
from keyplane.gateway.gateway import Gateway
from keyplane.gateway.wire import read_incoming
from keyplane.http.envelope import error_envelope, method_not_allowed

_POSTS = {"/v1" + endpoint.path: endpoint for endpoint in POST_ENDPOINTS + ANTHROPIC_ENDPOINTS}
_ANTHROPIC = frozenset(ANTHROPIC_ENDPOINTS)
_MODELS = "/v1/models"
_MODEL_PREFIX = "/v1/models/"


class GatewayRouter:
    """Serves ``/v1/chat/completions`` and the other gateway paths; passes the rest on.

    ``state`` is the app's: its lifespan puts the ``Gateway`` on ``state.gateway``.
    """

    def __init__(self, app: ASGIApp, *, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        endpoint = _POSTS.get(path)
        is_models = path == _MODELS or path.startswith(_MODEL_PREFIX)
        if endpoint is None and not is_models:
            await self.app(scope, receive, send)
            return
        expected = "GET" if is_models else "POST"
        if scope["method"] != expected:
            await method_not_allowed()(scope, receive, send)
            return
        gateway: Gateway = self.state.gateway
        incoming = await read_incoming(scope, receive, send)
        try:
            if endpoint is not None:
                await gateway.post(endpoint, incoming)
            else:
                model = path[len(_MODEL_PREFIX) :] if path != _MODELS else None
                await gateway.models(incoming, model or None)
        except KeyplaneError as error:
            render = anthropic_error if endpoint in _ANTHROPIC else error_envelope
            await render(error)(scope, receive, send)
