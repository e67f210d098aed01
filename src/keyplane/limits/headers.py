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
    if whole < 60:  # a minute's window resets within it: the usual answer, made once
        return _SECONDS[whole]
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


_SECONDS = tuple(f"{n}s" for n in range(60))
_NAMES = {
    what: tuple(f"x-ratelimit-{name}-{what}".encode() for name in ("limit", "remaining", "reset"))
    for what in ("requests", "tokens")
}


_HOUR = 3600
_RESETS = tuple(duration(n).encode() for n in range(_HOUR + 1))


def ratelimit_headers(statuses: Sequence[ScopeStatus]) -> tuple[tuple[bytes, bytes], ...]:
    """The tightest of the scopes' request and token limits, as OpenAI reports them."""
    req: ScopeStatus | None
    tok: ScopeStatus | None
    if len(statuses) == 1:  # one limited scope, the usual case: it is the tightest of each
        req = tok = statuses[0]
    else:
        req = tok = None  # the first scope with the fewest left, of each
        for status in statuses:
            if status.requests_limit is not None and (
                req is None or (status.requests_remaining or 0) < (req.requests_remaining or 0)
            ):
                req = status
            if status.tokens_limit is not None and (
                tok is None or (status.tokens_remaining or 0) < (tok.tokens_remaining or 0)
            ):
                tok = status
    headers: tuple[tuple[bytes, bytes], ...] = ()
    if req is not None and req.requests_limit is not None:
        limit, remaining, reset = req.requests_limit, req.requests_remaining, req.requests_reset
        headers += _three(_NAMES["requests"], limit, remaining, reset)
    if tok is not None and tok.tokens_limit is not None:
        limit, remaining, reset = tok.tokens_limit, tok.tokens_remaining, tok.tokens_reset
        headers += _three(_NAMES["tokens"], limit, remaining, reset)
    return headers


def _three(
    names: tuple[bytes, ...], limit: int, remaining: int | None, reset: float
) -> tuple[tuple[bytes, bytes], ...]:
    limit_name, remaining_name, reset_name = names
    # Whole seconds within an hour, the usual answers, are made once.
    reset_value = _RESETS[math.ceil(reset)] if 1 <= reset <= _HOUR else duration(reset).encode()
    return (
        (limit_name, b"%d" % limit),
        (remaining_name, b"%d" % (remaining or 0)),
        (reset_name, reset_value),
    )
