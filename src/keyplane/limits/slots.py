"""Counts in one-second slots over a trailing minute. Pure code."""

from __future__ import annotations

import math

from keyplane.limits.backend import SLOT_SECONDS, WINDOW_SLOTS


class Slots:
    """A sliding window of ``WINDOW_SLOTS`` one-second counters."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}

    def add(self, at: float, amount: int, *, now: float | None = None) -> None:
        """Count ``amount`` in the slot of ``at``, unless that slot has left the window."""
        slot = slot_of(at)
        if now is not None and slot <= slot_of(now) - WINDOW_SLOTS:
            return
        self._counts[slot] = self._counts.get(slot, 0) + amount

    def total(self, now: float) -> int:
        self._forget(now)
        return max(sum(self._counts.values()), 0)

    def wait_for_room(self, now: float, amount: int, limit: int) -> float | None:
        """None when ``amount`` fits under ``limit`` now; else seconds until it would."""
        self._forget(now)
        return wait_for_room(self._counts, now, amount, limit)

    def reset_after(self, now: float) -> float:
        """Seconds until every counted call has left the window."""
        self._forget(now)
        return reset_after(self._counts, now)

    def _forget(self, now: float) -> None:
        oldest = slot_of(now) - WINDOW_SLOTS + 1
        for slot in [slot for slot in self._counts if slot < oldest]:
            del self._counts[slot]


def slot_of(now: float) -> int:
    return math.floor(now / SLOT_SECONDS)


def wait_for_room(counts: dict[int, int], now: float, amount: int, limit: int) -> float | None:
    used = sum(counts.values())
    if used + amount <= limit:
        return None
    if amount > limit:
        return float(WINDOW_SLOTS * SLOT_SECONDS)
    excess = used + amount - limit
    freed = 0
    for slot in sorted(counts):
        freed += counts[slot]
        if freed >= excess:
            return max((slot + WINDOW_SLOTS) * SLOT_SECONDS - now, 0.0)
    return float(WINDOW_SLOTS * SLOT_SECONDS)


def reset_after(counts: dict[int, int], now: float) -> float:
    live = [slot for slot, count in counts.items() if count > 0]
    if not live:
        return 0.0
    return max((max(live) + WINDOW_SLOTS) * SLOT_SECONDS - now, 0.0)
