"""One log line per gateway call: what was called, by which key, how it ended, what it used.

The router opens a ``CallLog`` when a call arrives and writes it when the answer has ended;
the gateway fills in the key and model once it knows them and the tokens once metered. The
line carries ids, never key material; the model name is the client's text, so it is cut
short, quoted when it needs to be, and redacted like everything that is logged.

    text   gateway call: POST /v1/chat/completions status=200 key=key_... model=gpt-4o
           latency_ms=12.3 input_tokens=10 output_tokens=20 cached_tokens=0
    json   the same line as "message", and each field on its own (``KEYPLANE_LOG_FORMAT=json``)
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message, Send

from keyplane.usage.records import Tokens

logger = logging.getLogger("keyplane.gateway.calls")

_MAX_MODEL = 100
_PLAIN = re.compile(r"[\w.:/@+-]+")  # written as it is; anything else is JSON-quoted


@dataclass(slots=True)
class CallLog:
    """What is known of one gateway call so far."""

    method: str = ""
    path: str = ""
    started: float = field(default_factory=time.perf_counter)
    key_id: str | None = None
    model: str | None = None
    status: int | None = None
    tokens: Tokens | None = None

    def watch(self, send: Send) -> Send:
        """``send``, noting the status of the answer as it starts."""

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
            await send(message)

        return noting

    def fields(self) -> dict[str, Any]:
        tokens = self.tokens
        return {
            "method": self.method,
            "path": self.path[:200],
            "status": self.status,
            "key_id": self.key_id,
            "model": None if self.model is None else self.model[:_MAX_MODEL],
            "latency_ms": round((time.perf_counter() - self.started) * 1000, 1),
            "input_tokens": None if tokens is None else tokens.input,
            "output_tokens": None if tokens is None else tokens.output,
            "cached_tokens": None if tokens is None else tokens.cached,
        }

    def emit(self) -> None:
        """Write the call's line (at INFO, so ``KEYPLANE_LOG_LEVEL=warning`` silences it)."""
        if not logger.isEnabledFor(logging.INFO):
            return
        values = self.fields()
        text = [f"gateway call: {self.method} {_shown(values['path'])} status={self.status}"]
        if self.key_id is not None:
            text.append(f"key_id={_shown(self.key_id)}")
        if values["model"] is not None:
            text.append(f"model={_shown(values['model'])}")
        text.append(f"latency_ms={values['latency_ms']}")
        if self.tokens is not None:
            tokens = self.tokens
            text.append(
                f"input_tokens={tokens.input} output_tokens={tokens.output} "
                f"cached_tokens={tokens.cached}"
            )
        logger.info(" ".join(text), extra={"fields": values})


def _shown(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else json.dumps(text)
