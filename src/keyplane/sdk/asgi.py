"""``KeyplaneMiddleware``: put keyplane keys in front of any ASGI app (Starlette, FastAPI, ...).

A request without a good key never reaches the app; one with a good key carries its facts in
``scope["state"]["keyplane_key"]`` (``request.state.keyplane_key`` in Starlette and FastAPI).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, MutableMapping, Sequence
from typing import Any

from keyplane.sdk.gate import DEFAULT_HEADER, Refusal, admit
from keyplane.sdk.verifier import AsyncVerifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_KEY = "keyplane_key"
_POLICY_VIOLATION = 1008  # the WebSocket close code for "refused by policy"


class KeyplaneMiddleware:
    """Refuse HTTP and WebSocket requests that lack a valid key with ``scopes``.

    Args:
        app: the ASGI app to protect.
        verifier: the ``AsyncVerifier`` to ask; default one built from the environment.
        scopes: scopes every request's key must hold.
        header: where the key is read; ``Authorization`` takes ``Bearer <key>``.
        exclude_paths: paths served without a key, such as ``/healthz``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: AsyncVerifier | None = None,
        scopes: Sequence[str] = (),
        header: str = DEFAULT_HEADER,
        exclude_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self.verifier = verifier or AsyncVerifier()
        self.scopes = tuple(scopes)
        self.header = header
        self._header_name = header.lower().encode("latin-1")
        self.exclude_paths = frozenset(exclude_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in self.exclude_paths:
            await self.app(scope, receive, send)
            return
        outcome = await admit(
            self.verifier, self._value(scope), header=self.header, scopes=self.scopes
        )
        if isinstance(outcome, Refusal):
            await _refuse(scope, send, outcome)
            return
        scope.setdefault("state", {})[STATE_KEY] = outcome
        await self.app(scope, receive, send)

    def _value(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", ()):
            if name.lower() == self._header_name:
                return bytes(value).decode("latin-1")
        return None


async def _refuse(scope: Scope, send: Send, refusal: Refusal) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": _POLICY_VIOLATION, "reason": refusal.code})
        return
    body = json.dumps(refusal.body).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers.items()),
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
