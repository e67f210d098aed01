"""One-time messages that carry a secret from a POST to the page that shows it once.

They live in this process's memory only, never in the store (a key's plaintext must not
reach the database), keyed by the session that made them, and are gone after one read or
a few minutes. Behind a load balancer the dashboard needs sticky sessions for this page.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

TTL_SECONDS = 300.0
MAX_ENTRIES = 1000


@dataclass
class _Flash:
    session_id: str
    payload: dict[str, Any] = field(repr=False)
    expires: float


class FlashStore:
    """Session-bound, read-once payloads with a short life and a bounded size."""

    def __init__(self, *, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Flash] = OrderedDict()

    def put(self, session_id: str, payload: dict[str, Any]) -> str:
        """Keep ``payload`` for one read by ``session_id``; returns the id to read it by."""
        self._expire()
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)
        flash_id = secrets.token_urlsafe(16)
        self._entries[flash_id] = _Flash(session_id, payload, time.monotonic() + self.ttl)
        return flash_id

    def pop(self, session_id: str, flash_id: str) -> dict[str, Any] | None:
        """The payload, once; None when it was read, expired, or belongs to another session."""
        self._expire()
        entry = self._entries.get(flash_id)
        if entry is None or not secrets.compare_digest(entry.session_id, session_id):
            return None
        del self._entries[flash_id]
        return entry.payload

    def _expire(self) -> None:
        now = time.monotonic()
        while self._entries:
            first = next(iter(self._entries.values()))
            if first.expires > now:
                return
            self._entries.popitem(last=False)
