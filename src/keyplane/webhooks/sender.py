"""Deliver webhook events off the request path, retrying with exponential backoff.

``enqueue`` only puts the event on an in-memory queue, so it never waits on the network or
the store. A background task delivers each event, retrying failures (connection errors,
timeouts, non-2xx answers) with the same event id: delivery is at-least-once while the
process runs. Events still pending when the process stops are logged and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from keyplane.clock import Clock, system_clock
from keyplane.config import Settings
from keyplane.store.database import Database
from keyplane.webhooks.endpoint import load_target
from keyplane.webhooks.event import WebhookEvent
from keyplane.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, sign

logger = logging.getLogger(__name__)

USER_AGENT = "keyplane-webhooks/1"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempt ``n`` (from 0) waits ``min(backoff * 2**n, max_backoff)``."""

    max_attempts: int = 8
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    timeout_seconds: float = 10.0

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            max_backoff_seconds=settings.webhook_backoff_max_seconds,
            timeout_seconds=settings.webhook_timeout_seconds,
        )

    def delay(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * 2**attempt, self.max_backoff_seconds))


class WebhookSender:
    """Started and stopped in the app's lifespan; ``enqueue`` is the whole public API."""

    def __init__(
        self,
        database: Database,
        *,
        policy: RetryPolicy | None = None,
        clock: Clock = system_clock,
        queue_size: int = 10_000,
        max_concurrent: int = 8,
        stop_grace_seconds: float = 2.0,
    ) -> None:
        self.db = database
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self.stop_grace_seconds = stop_grace_seconds
        self._queue: asyncio.Queue[WebhookEvent] = asyncio.Queue(maxsize=queue_size)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._deliveries: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._http = httpx.AsyncClient(
            timeout=self.policy.timeout_seconds,
            headers={"user-agent": USER_AGENT, "content-type": "application/json"},
        )

    async def enqueue(self, organization_id: str, event_type: str, data: dict[str, Any]) -> str:
        """Queue ``event_type`` with ``data`` for the organisation's webhook; return the event id.

        Returns at once. Organisations without a webhook URL get nothing delivered. ``data``
        must be JSON-serialisable and must never hold a secret: it is sent as is.
        """
        event = WebhookEvent(
            organization_id=organization_id, type=event_type, data=data, created_at=self.clock()
        )
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # Never make a request wait for webhooks; dropping is logged so it can be noticed.
            logger.error("webhook queue full; dropped %s event %s", event.type, event.id)
        return event.id

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Stop taking events; give deliveries in flight a moment, then drop what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._deliveries:
            _, pending = await asyncio.wait(self._deliveries, timeout=self.stop_grace_seconds)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        undelivered = self._queue.qsize()
        if undelivered:
            logger.warning("stopping with %d webhook events not delivered", undelivered)
        await self._http.aclose()

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            await self._slots.acquire()
            task = asyncio.create_task(self._deliver(event), name=f"webhook-{event.id}")
            self._deliveries.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._deliveries.discard(task)
        self._slots.release()

    async def _deliver(self, event: WebhookEvent) -> None:
        body = event.body()
        for attempt in range(self.policy.max_attempts):
            failure = await self._attempt(event, body)
            if failure is None:
                return
            if attempt + 1 == self.policy.max_attempts:
                logger.error(
                    "webhook %s %s: gave up after %d attempts (%s)",
                    event.type,
                    event.id,
                    attempt + 1,
                    failure,
                )
                return
            delay = self.policy.delay(attempt)
            logger.warning(
                "webhook %s %s: attempt %d failed (%s); retrying in %.1fs",
                event.type,
                event.id,
                attempt + 1,
                failure,
                delay,
            )
            await asyncio.sleep(delay)

    async def _attempt(self, event: WebhookEvent, body: bytes) -> str | None:
        """One try: None when done (delivered, or no webhook any more), else why it failed."""
        try:
            # Read the target at each attempt, so a rotated secret or a cleared URL applies.
            async with self.db.session() as session:
                target = await load_target(session, event.organization_id)
        except Exception as exc:  # noqa: BLE001 -- a store outage is one more failed attempt
            return f"store unreachable: {type(exc).__name__}"
        if target is None:
            logger.info("webhook %s %s: organisation has no webhook", event.type, event.id)
            return None
        headers = {
            SIGNATURE_HEADER: sign(body, secret=target.secret, timestamp=int(time.time())),
            EVENT_ID_HEADER: event.id,
        }
        try:
            response = await self._http.post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if not response.is_success:
            return f"HTTP {response.status_code}"
        logger.info("webhook %s %s: delivered to %s", event.type, event.id, target.url)
        return None
