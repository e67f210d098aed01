"""``last_used_at`` without a database write per request: remember in memory, flush in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, or_, update

from keyplane.store.batches import execute_in_batches
from keyplane.store.database import Database
from keyplane.store.models import ApiKey

logger = logging.getLogger(__name__)

_KEYS = cast(Table, ApiKey.__table__)
# One statement over every key touched since the last flush (``keyplane.store.batches``).
_TOUCH = (
    update(_KEYS)
    .where(
        _KEYS.c.id == bindparam("key_id"),
        or_(_KEYS.c.last_used_at.is_(None), _KEYS.c.last_used_at < bindparam("when")),
    )
    .values(last_used_at=bindparam("when"))
)


class LastUsedTracker:
    def __init__(self, database: Database, *, interval_seconds: float = 5.0) -> None:
        self.db = database
        self.interval = interval_seconds
        self._pending: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def touch(self, key_id: str, when: datetime) -> None:
        previous = self._pending.get(key_id)
        if previous is None or when > previous:
            self._pending[key_id] = when

    async def flush(self) -> int:
        """Write what is pending; return how many keys were updated."""
        pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            rows = [{"key_id": key_id, "when": when} for key_id, when in sorted(pending.items())]
            async with self.db.session() as session, session.begin():
                await execute_in_batches(session, _TOUCH, rows)
        except BaseException:
            for key_id, when in pending.items():
                self.touch(key_id, when)
            raise
        return len(pending)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="last-used-flusher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:  # keep flushing later; a store outage must not kill the loop
                logger.exception("could not record last_used_at; will retry")
