"""Upstream refusals that are keyplane's own fault, not the client's.

The client's credentials never go upstream: keyplane calls the provider with its own key, at
its own base URL. So when the provider answers 401 or 403 it refused *keyplane's* key, and a
404 on one of the endpoints the gateway forwards means keyplane's base URL is wrong. Passing
those through would tell the client "Incorrect API key provided" about a key it never sent;
the client gets a 502 in OpenAI's envelope instead, saying whose problem it is, and the
operator gets a warning in the log.

One 404 is the client's: the model it named does not exist at the provider. The upstream's
error code says which it is (OpenAI's ``model_not_found``; Anthropic's ``not_found_error``
about a ``model``), and such an answer passes through as it came. An HTML or empty 404, or
OpenAI's ``Invalid URL (POST /v1/...)`` with no code, is a wrong URL.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson

from keyplane.errors import BadGatewayError

logger = logging.getLogger(__name__)

REFUSED = frozenset({401, 403, 404})
_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # codes are shown; anything else is not


def upstream_refusal(status: int, content: bytes) -> BadGatewayError | None:
    """The 502 to answer instead of the upstream's ``status``, or None to pass it through."""
    if status not in REFUSED:
        return None
    error = _error_of(content)
    if status == 404 and _model_not_found(error):
        return None
    code = _code_of(error)
    said = f"HTTP {status}" + (f" {code}" if code else "")
    logger.warning("upstream refused keyplane's own call: %s", said)
    if status == 404:
        message = (
            f"keyplane's upstream provider has no such endpoint ({said}), so keyplane's "
            "upstream URL is probably wrong. Your request is fine; ask keyplane's operator "
            "to check its upstream base URL."
        )
    else:
        message = (
            f"keyplane's upstream provider refused keyplane's own provider key ({said}). "
            "Your keyplane key is fine; ask keyplane's operator to check the provider key "
            "and account keyplane is configured with."
        )
    return BadGatewayError(message, code="upstream_refused")


def _error_of(content: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _model_not_found(error: dict[str, Any]) -> bool:
    if error.get("code") == "model_not_found":
        return True
    message = error.get("message")
    return (
        error.get("type") == "not_found_error"
        and isinstance(message, str)
        and message.startswith("model:")
    )


def _code_of(error: dict[str, Any]) -> str | None:
    for name in ("code", "type"):
        value = error.get(name)
        if isinstance(value, str) and _CODE.fullmatch(value):
            return value
    return None
