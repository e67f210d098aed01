"""What keyplane's ASGI stack costs a gateway call, apart from the gateway's own work.

    .venv/bin/python bench/stack_overhead.py [--requests 100000]

The same ``POST /v1/chat/completions`` is handed (a) straight to a stub gateway that answers
at once, and (b) to ``create_app``'s whole stack in front of that stub: server errors,
metrics, the gateway router. Prints CPU µs per request of both (best of 5 rounds) and what
the stack adds. Nothing connects: no lifespan, no store, no upstream. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.gateway.endpoints import Endpoint
from keyplane.gateway.wire import Incoming, read_incoming

BODY = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/v1/chat/completions",
    "raw_path": b"/v1/chat/completions",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"authorization", b"Bearer x"), (b"content-length", str(len(BODY)).encode())],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8080),
}


class StubGateway:
    """Answers every call at once, as if upstream and metering took no time."""

    async def post(self, endpoint: Endpoint, incoming: Incoming) -> None:
        await incoming.send({"type": "http.response.start", "status": 200, "headers": []})
        await incoming.send({"type": "http.response.body", "body": b"{}", "more_body": False})


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def send(_message: Any) -> None:
    return None


async def direct(scope: dict[str, Any], receive_: Any, send_: Any) -> None:
    incoming = await read_incoming(scope, receive_, send_)
    await StubGateway().post(Endpoint.__new__(Endpoint), incoming)


async def per_request(app: Callable[..., Awaitable[None]], count: int) -> float:
    for _ in range(2000):  # warm up
        await app(dict(SCOPE), receive, send)
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(count):
            await app(dict(SCOPE), receive, send)
        best = min(best, (time.process_time() - started) / count * 1e6)
    return best


async def main(count: int) -> None:
    app = create_app(Settings(_env_file=None, data_dir=tempfile.mkdtemp()))
    app.state.gateway = StubGateway()
    bare = await per_request(direct, count)
    stacked = await per_request(app, count)
    print(f"stub gateway called directly: {bare:6.2f} µs CPU per request")
    print(f"through create_app's stack:   {stacked:6.2f} µs CPU per request")
    print(f"the stack adds {stacked - bare:.2f} µs ({stacked / bare:.2f}x the bare call)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().requests))
