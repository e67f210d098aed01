"""Housekeeping in the background: usage roll-ups and the audit log's retention.

Every ``interval`` seconds one pass: usage rows past their retention are rolled up (or
dropped), then audit events past theirs are deleted, each in batches of one short
transaction. ``stop`` ends the pass in hand after its current batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from keyplane.audit.log import AuditLog
from keyplane.clock import Clock, system_clock
from keyplane.usage.rollup import RollUp

logger = logging.getLogger(__name__)


class Housekeeping:
    def __init__(
        self,
        rollup: RollUp,
        audit_log: AuditLog,
        *,
        audit_retention: timedelta | None,
        interval_seconds: float,
        clock: Clock = system_clock,
    ) -> None:
        self.rollup = rollup
        self.audit_log = audit_log
        self.audit_retention = audit_retention
        self.interval = interval_seconds
        self.clock = clock
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        await self.rollup.run_once()
        if self.audit_retention is None:
            return
        before = self.clock() - self.audit_retention
        while not self._stopping.is_set():
            if not await self.audit_log.prune(before=before):
                return
            await asyncio.sleep(0)  # one batch at a time

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="housekeeping")

    async def stop(self) -> None:
        self._stopping.set()
        self.rollup.stop()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)
            if self._stopping.is_set():
                return
            try:
                await self.run_once()
            except Exception:  # the next pass retries; a store outage must not end housekeeping
                logger.exception("housekeeping pass failed; will retry")
