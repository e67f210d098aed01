"""``BodyLimits``: request bodies are bounded before they are read, and callers are checked
before their bodies are read at all.

A body whose ``Content-Length`` is over its route's limit is answered 413 at once, unread; a
chunked one is counted as it arrives and answered 413 as soon as it crosses the limit, with
nothing kept. Each 413 closes the connection, so the rest of the upload is never taken in.
(A stalled body is the server protocol's to close: ``http.connections``.)
A route that needs a key has its caller checked by the ``Gate`` first: an unauthenticated
upload costs keyplane its headers, not its body. Every refusal is rendered by ``render`` with
its route group, so a surface with its own error shape (Anthropic's ``/v1/messages``) keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.config import Settings
from keyplane.errors import BadRequestError, KeyplaneError, UnavailableError
from keyplane.http.connections import OVER_CAPACITY
from keyplane.http.envelope import error_envelope
from keyplane.http.metrics import route_group

# Checks the caller of a route group before its body is read; raises the error that refuses.
Gate = Callable[[str, Scope], Awaitable[None]]
# Renders a refusal for a route group; OpenAI's envelope unless the group has its own shape.
Render = Callable[[str, KeyplaneError], JSONResponse]


@dataclass(frozen=True, slots=True)
class RouteLimits:
    """The largest body, in bytes, that each kind of route reads."""

    gateway: int
    admin: int
    verify: int
    leaks: int
    dashboard: int

    @classmethod
    def of(cls, settings: Settings) -> RouteLimits:
        return cls(
            gateway=settings.max_body_bytes_gateway,
            admin=settings.max_body_bytes_admin,
            verify=settings.max_body_bytes_verify,
            leaks=settings.max_body_bytes_leaks,
            dashboard=settings.max_body_bytes_dashboard,
        )

    def for_group(self, group: str) -> int:
        if group.startswith("gateway_"):
            return self.gateway
        if group == "verify":
            return self.verify
        if group == "leak_reports":
            return self.leaks
        if group == "dashboard":
            return self.dashboard
        if group == "other_v1":  # the gateway's other paths (Anthropic's /v1/messages, ...)
            return self.gateway
        return self.admin


class BodyTooLargeError(Exception):
    """Raised to the app from ``receive`` once a body crossed its limit (413 already sent)."""


class RequestTooLargeError(KeyplaneError):
    """The refusal of a body over its route's limit."""

    status = 413
    code = "request_too_large"
    type = "invalid_request_error"


def _over_capacity() -> UnavailableError:
    return UnavailableError(
        "The server is at its limit of open connections (KEYPLANE_HTTP_MAX_CONNECTIONS); "
        "try again shortly.",
        code="server_busy",
        headers={"retry-after": "1"},
    )


def _openai_shape(_group: str, error: KeyplaneError) -> JSONResponse:
    return error_envelope(error)


class BodyLimits:
    """Refuses oversize bodies (413) and, through ``gate``, unauthenticated ones (401)."""

    def __init__(
        self,
        app: ASGIApp,
        limits: RouteLimits,
        *,
        gate: Gate | None = None,
        render: Render = _openai_shape,
    ) -> None:
        self.app = app
        self.limits = limits
        self.gate = gate
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        group = route_group(scope["path"])
        if scope.get(OVER_CAPACITY) and scope["path"] != "/healthz":
            await self._refuse(group, _over_capacity(), scope, receive, send)
            return
        limit = self.limits.for_group(group)
        length, chunked = _declared(scope)
        if length is not None and length > limit:
            await self._refuse(group, _too_large(limit), scope, receive, send)
            return
        if length == -1:
            refusal = BadRequestError("Content-Length is not a number.", code="bad_request")
            await self._refuse(group, refusal, scope, receive, send)
            return
        if self.gate is not None and (chunked or (length or 0) > 0):
            try:
                await self.gate(group, scope)
            except KeyplaneError as error:
                await self._refuse(group, error, scope, receive, send)
                return
        if chunked:
            await _Bounded(self.app, limit, lambda: self.render(group, _too_large(limit)))(
                scope, receive, send
            )
        else:  # the server reads no more than Content-Length says: nothing to count
            await self.app(scope, receive, send)

    async def _refuse(
        self, group: str, error: KeyplaneError, scope: Scope, receive: Receive, send: Send
    ) -> None:
        await _refuse_connection(self.render(group, error))(scope, receive, send)


class _Bounded:
    """One request whose body is counted as the app reads it."""

    def __init__(self, app: ASGIApp, limit: int, too_large: Callable[[], JSONResponse]) -> None:
        self.app = app
        self.limit = limit
        self.too_large = too_large
        self.seen = 0
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.seen += len(message.get("body", b""))
                if self.seen > self.limit:
                    if not self.started:
                        self.refused = True
                        await _refuse_connection(self.too_large())(scope, receive, send)
                    raise BodyTooLargeError
            return message

        async def tracked_send(message: Message) -> None:
            if self.refused:
                return  # the 413 went out; whatever the app answers to the error is dropped
            self.started = self.started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception:
            if not self.refused:
                raise


def _declared(scope: Scope) -> tuple[int | None, bool]:
    """The ``Content-Length`` (-1 if not a number) and whether the body is chunked."""
    length: int | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = int(value) if value.isdigit() else -1
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    return length, chunked


def _too_large(limit: int) -> RequestTooLargeError:
    return RequestTooLargeError(
        f"The request body is larger than this endpoint accepts ({limit} bytes)."
    )


def _refuse_connection(response: JSONResponse) -> JSONResponse:
    """An answer that also closes the connection, so an unread body is not taken in."""
    response.headers["connection"] = "close"
    return response
