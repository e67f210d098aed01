"""A clock tests can move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC).replace(microsecond=0)
        self.step = timedelta()  # how far each read moves it: time passing between reads

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.step
        return now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
