"""ASGI plumbing of the gateway: the incoming call, header filtering, and sending answers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.types import Receive, Scope, Send

from keyplane.gateway.calllog import CallLog

Headers = list[tuple[bytes, bytes]]

# Never forwarded upstream: the client's credentials and identity at the provider, hop-by-hop
# headers, and what the proxy sets itself.
_NOT_FORWARDED = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "openai-organization",
        "openai-project",
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "expect",
        "accept-encoding",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
    }
)
# Never passed back to the client: hop-by-hop, what our server sets, and the provider's cookies.
_NOT_RETURNED = frozenset(
    {
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"server",
        b"date",
        b"set-cookie",
        b"alt-svc",
    }
)


@dataclass(slots=True)
class Incoming:
    """A gateway call as it arrived: headers by lower-case name, peer address and body."""

    headers: dict[str, str]
    peer: str | None
    body: bytes
    receive: Receive
    send: Send
    log: CallLog = field(default_factory=CallLog)  # the router's, for the call's log line


async def read_incoming(scope: Scope, receive: Receive, send: Send) -> Incoming:
    """Read a whole request: gateway request bodies are small JSON documents."""
    parts = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        parts.append(message.get("body", b""))
        more = message.get("more_body", False)
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    client = scope.get("client")
    return Incoming(
        headers=headers,
        peer=client[0] if client else None,
        body=parts[0] if len(parts) == 1 else b"".join(parts),
        receive=receive,
        send=send,
    )


def forwarded_headers(headers: dict[str, str]) -> dict[str, str]:
    """The client's headers that go upstream (``x-*``, ``openai-beta``, content type...)."""
    return {name: value for name, value in headers.items() if name not in _NOT_FORWARDED}


def returned_headers(
    raw: Iterable[tuple[bytes, bytes]], extra: Iterable[tuple[bytes, bytes]]
) -> Headers:
    """The upstream's answer headers that go back to the client, plus ``extra``."""
    headers = [(name.lower(), value) for name, value in raw]
    return [item for item in headers if item[0] not in _NOT_RETURNED] + list(extra)


async def send_whole(send: Send, status: int, headers: Headers, body: bytes) -> None:
    """Send a complete answer with its length."""
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def wait_for_disconnect(receive: Receive) -> None:
    """Return once the client has gone (or the server considers the exchange over)."""
    while (await receive())["type"] != "http.disconnect":
        pass
