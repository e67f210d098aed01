"""``x-ratelimit-*`` headers, in OpenAI's format. Pure code."""

from __future__ import annotations

import math
from collections.abc import Sequence

from keyplane.limits.backend import ScopeStatus


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``1s``, ``6m0s``, ``1h2m3s``; sub-second as ``120ms``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def ratelimit_headers(statuses: Sequence[ScopeStatus]) -> tuple[tuple[bytes, bytes], ...]:
    """The tightest of the scopes' request and token limits, as OpenAI reports them."""
    headers: list[tuple[bytes, bytes]] = []
    requests = [s for s in statuses if s.requests_limit is not None]
    if requests:
        tight = min(requests, key=lambda s: s.requests_remaining or 0)
        headers += _three(
            "requests", tight.requests_limit, tight.requests_remaining, tight.requests_reset
        )
    tokens = [s for s in statuses if s.tokens_limit is not None]
    if tokens:
        tight = min(tokens, key=lambda s: s.tokens_remaining or 0)
        headers += _three("tokens", tight.tokens_limit, tight.tokens_remaining, tight.tokens_reset)
    return tuple(headers)


def _three(
    what: str, limit: int | None, remaining: int | None, reset: float
) -> list[tuple[bytes, bytes]]:
    return [
        (f"x-ratelimit-limit-{what}".encode(), str(limit).encode()),
        (f"x-ratelimit-remaining-{what}".encode(), str(remaining).encode()),
        (f"x-ratelimit-reset-{what}".encode(), duration(reset).encode()),
    ]
