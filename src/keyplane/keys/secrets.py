"""Hashing, redaction and comparison of secrets."""

from __future__ import annotations

import hashlib
import hmac

REDACT_TAIL = 4


def hash_key(value: str) -> str:
    """Hex SHA-256 of the whole key: what the store keeps.

    A fast hash is right here: keys carry ~190 random bits, so there is nothing to
    brute-force, and verification must stay cheap.
    """
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def redact(value: str) -> str:
    """Display form ``kp_proj_...wXyZ``: the prefix and the last four characters.

    For a string that is not a well-formed key, keep even less: it may be a secret of
    another kind that a user pasted by mistake.
    """
    head, sep, rest = value.rpartition("_")
    if sep and len(rest) > 2 * REDACT_TAIL:
        return f"{head}_...{rest[-REDACT_TAIL:]}"
    if len(value) > 2 * REDACT_TAIL:
        return f"...{value[-REDACT_TAIL:]}"
    return "..."


def constant_time_equal(left: str, right: str) -> bool:
    """Compare two secrets (or their hashes) in time independent of where they differ."""
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))
