"""Stripe-style webhook signatures.

Each delivery carries ``keyplane-signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is the
HMAC-SHA256, keyed with the organisation's webhook secret, of ``<t>.<raw body>``. Signing the
timestamp with the body lets a receiver refuse replays of an old delivery. Pure stdlib, so a
receiver can use ``verify_signature`` without keyplane's server dependencies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "keyplane-signature"
EVENT_ID_HEADER = "keyplane-event-id"
DEFAULT_TOLERANCE_SECONDS = 300
SECRET_PREFIX = "whsec_"  # noqa: S105  # a public prefix, not a secret


def new_secret() -> str:
    """A fresh signing secret (about 256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """The ``keyplane-signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(body, secret=secret, timestamp=timestamp)}"


def verify_signature(
    body: bytes,
    header: str | None,
    *,
    secret: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs the raw ``body`` with ``secret`` within the tolerance.

    Args:
        body: the request body exactly as received (not re-serialised JSON).
        header: the ``keyplane-signature`` header value.
        secret: the organisation's webhook secret (``whsec_...``).
        tolerance_seconds: how old (or how far in the future) ``t`` may be.
        now: the current unix time; defaults to ``time.time()``.
    """
    if not header:
        return False
    timestamp, candidates = _parse(header)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = _mac(body, secret=secret, timestamp=timestamp)
    # Several v1 values may appear (e.g. while a secret rotates); any one matching will do.
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def _mac(body: bytes, *, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    return timestamp, candidates
