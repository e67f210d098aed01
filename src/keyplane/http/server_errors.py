"""``ServerErrors``: the outermost layer. Whatever escapes below is logged once and, if no
answer has started, answered with OpenAI's 500 envelope. Nothing is raised on to the server,
so a crash is one log line with its traceback, never a second one from uvicorn.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keyplane.http.envelope import internal_error

logger = logging.getLogger(__name__)


class ServerErrors:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:  # the last resort: log it, answer 500, keep serving
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if not started:
                await internal_error()(scope, receive, send)
