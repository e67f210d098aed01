"""An ASGI app served by uvicorn as ``keyplane serve`` runs it: on a socket it binds first and
hands over by file descriptor, with the HTTP protocol it is given."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from keyplane.cli.listen import listen


@contextlib.asynccontextmanager
async def served_by_fd(app: Any, protocol: type[asyncio.Protocol]) -> AsyncIterator[int]:
    """The port ``app`` answers on until the block ends."""
    listener = listen("127.0.0.1", 0)
    config = uvicorn.Config(
        app, fd=listener.fileno(), http=protocol, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:  # the socket already listens: a call queues until uvicorn accepts it
        yield int(listener.getsockname()[1])
    finally:
        server.should_exit = True
        await serving
        listener.close()
