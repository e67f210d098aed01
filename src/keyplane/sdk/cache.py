"""A small in-process cache of verdicts, so most requests to your API need no round trip."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence

from keyplane.sdk.verdict import VerifyCode, VerifyResult

# Verdicts that stay true for a while. ``UNAVAILABLE`` and the limit codes must be asked again.
NEGATIVE_CODES = frozenset(
    {
        VerifyCode.NOT_FOUND,
        VerifyCode.REVOKED,
        VerifyCode.EXPIRED,
        VerifyCode.DISABLED,
        VerifyCode.PROJECT_ARCHIVED,
        VerifyCode.INSUFFICIENT_PERMISSIONS,
    }
)

CacheKey = tuple[str, frozenset[str]]


class VerdictCache:
    """Valid verdicts for ``ttl`` seconds, definite refusals for ``negative_ttl``.

    Entries are keyed by the SHA-256 of the key, never its plaintext. When full, the oldest
    entry goes first, so a flood of made-up keys cannot grow memory without bound.
    """

    def __init__(
        self,
        *,
        ttl: float,
        negative_ttl: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[CacheKey, tuple[float, VerifyResult]] = {}
        # A blocking Verifier may be shared by threads; the lock keeps eviction consistent.
        self._lock = threading.Lock()

    def get(self, key: str, scopes: Sequence[str]) -> VerifyResult | None:
        slot = slot_of(key, scopes)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[slot]
                return None
            return entry[1]

    def put(self, key: str, scopes: Sequence[str], result: VerifyResult) -> None:
        lifetime = self._lifetime(result)
        if lifetime <= 0 or self.max_entries <= 0:
            return
        slot = slot_of(key, scopes)
        with self._lock:
            self._entries.pop(slot, None)
            while len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[slot] = (self._clock() + lifetime, result)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _lifetime(self, result: VerifyResult) -> float:
        if result.valid:
            if result.expires_at is not None:
                # Never serve a valid verdict past the key's own expiry.
                return min(self.ttl, result.expires_at - time.time())
            return self.ttl
        return self.negative_ttl if result.code in NEGATIVE_CODES else 0.0


def slot_of(key: str, scopes: Sequence[str]) -> CacheKey:
    """Where a verdict on ``key`` for ``scopes`` is kept: the key's SHA-256, the scope set."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest(), frozenset(scopes)
