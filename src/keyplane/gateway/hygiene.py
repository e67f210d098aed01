"""``ProviderHygiene``: what the provider says about itself never reaches a client.

Headers that identify keyplane's account at the provider (``openai-organization``,
``openai-project``, Anthropic's organisation id) and cookies are dropped from answers. The
provider key itself is masked wherever it appears in a relayed header or body, error bodies
and streams included: an upstream that echoes the request's ``Authorization`` would otherwise
hand it to the caller. The mask has the key's length, so ``Content-Length`` stays true and a
stream is not held back: only a chunk's tail that could begin the key waits for the next.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import itemgetter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Answer headers that name the provider account, or set state in the client's browser.
NOT_RELAYED = frozenset(
    {
        b"openai-organization",
        b"openai-project",
        b"anthropic-organization-id",
        b"x-openai-organization",
        b"set-cookie",
        b"set-cookie2",
    }
)


_name, _value = itemgetter(0), itemgetter(1)


class ProviderHygiene:
    """Filters the answers under ``/v1/`` (the gateway's) for provider headers and keys."""

    def __init__(self, app: ASGIApp, *, secrets: Iterable[str]) -> None:
        self.app = app
        self.secrets: tuple[bytes, ...] = ()
        self.use_secrets(secrets)

    def use_secrets(self, secrets: Iterable[str]) -> None:
        """Mask these keys too (every upstream's, once they are known)."""
        # Shorter strings are no key; masking them would garble ordinary text.
        added = (s.encode() for s in secrets if len(s) >= 16)
        self.secrets = tuple(dict.fromkeys([*self.secrets, *added]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only the API relays a provider's answers; the dashboard sets cookies of its own.
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        secrets = self.secrets
        masker = KeyMasker(secrets)

        async def clean(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                if secrets:
                    more = message.get("more_body", False)
                    message["body"] = masker.feed(message.get("body", b""), final=not more)
            elif kind == "http.response.start":
                # ASGI header names are lower-case; the gateway's are lowered as they come.
                # Both passes are C (map, isdisjoint, join): this runs on every answer.
                headers = list(message.get("headers", ()))
                if not NOT_RELAYED.isdisjoint(map(_name, headers)):
                    headers = [header for header in headers if header[0] not in NOT_RELAYED]
                if secrets and masker.found(b"\n".join(map(_value, headers))):
                    headers = [(name, masker.whole(value)) for name, value in headers]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, clean)


class KeyMasker:
    """Masks secrets in one answer's body, across chunk boundaries."""

    def __init__(self, secrets: tuple[bytes, ...]) -> None:
        self.secrets = secrets
        self.held = b""

    def found(self, data: bytes) -> bool:
        """Whether a secret is in ``data``: one search of all the headers' values joined,
        where masking each value is a call per header. A secret in any value is in the
        joined bytes; a match across two values only costs the per-value pass."""
        return any(secret in data for secret in self.secrets)

    def whole(self, data: bytes) -> bytes:
        for secret in self.secrets:
            if secret in data:
                data = data.replace(secret, b"*" * len(secret))
        return data

    def feed(self, chunk: bytes, *, final: bool) -> bytes:
        data = self.whole(self.held + chunk if self.held else chunk)
        if final:
            self.held = b""
            return data
        keep = 0
        for secret in self.secrets:
            keep = max(keep, _prefix_tail(data, secret))
        self.held = data[len(data) - keep :] if keep else b""
        return data[: len(data) - keep] if keep else data


def _prefix_tail(data: bytes, secret: bytes) -> int:
    """The length of the longest tail of ``data`` that is a proper prefix of ``secret``."""
    first = secret[0]
    position = data.find(first, max(0, len(data) - len(secret) + 1))
    while position != -1:
        if secret.startswith(data[position:]):
            return len(data) - position
        position = data.find(first, position + 1)
    return 0
