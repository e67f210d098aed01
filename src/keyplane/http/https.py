"""``Https``: whether a request reached keyplane over HTTPS, and HSTS when it did.

Over HTTPS means one of: keyplane itself serves TLS (the scope's scheme is ``https``); the
peer is a trusted proxy (``KEYPLANE_TRUSTED_PROXIES``) whose ``X-Forwarded-Proto`` says
``https``; or ``KEYPLANE_PUBLIC_URL`` starts with ``https://``. Such a request's scope gets
the scheme ``https``, so everything below (``Secure`` cookies, absolute URLs) sees the
scheme people used, and its answer carries ``Strict-Transport-Security``. A client that is
not a trusted proxy cannot claim HTTPS by sending the header.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Two years, as hstspreload.org asks; no includeSubDomains: other hosts are not keyplane's.
HSTS = (b"strict-transport-security", b"max-age=63072000")


class Https:
    def __init__(
        self, app: ASGIApp, *, trusted_proxies: Sequence[str] = (), always: bool = False
    ) -> None:
        self.app = app
        self.trusted = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies)
        self.always = always

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._over_https(scope):
            await self.app(scope, receive, send)
            return
        scope["scheme"] = "https"

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), HSTS]
            await send(message)

        await self.app(scope, receive, with_hsts)

    def _over_https(self, scope: Scope) -> bool:
        if self.always or scope.get("scheme") == "https":
            return True
        if not self.trusted:
            return False
        client = scope.get("client")
        if not client or not self._is_trusted(client[0]):
            return False
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                # The proxy nearest to us appends last: its word is the one to take.
                nearest: bytes = value.rsplit(b",", 1)[-1]
                return nearest.strip().lower() == b"https"
        return False

    def _is_trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address.version == net.version and address in net for net in self.trusted)
