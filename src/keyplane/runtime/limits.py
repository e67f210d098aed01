"""Build the limits from settings: Redis when ``KEYPLANE_REDIS_URL`` is set, else in-process."""

from __future__ import annotations

from keyplane.clock import Clock
from keyplane.config import Settings
from keyplane.limits.alerts import BudgetAlerts
from keyplane.limits.backend import LimitBackend
from keyplane.limits.memory import MemoryBackend
from keyplane.limits.service import LimitService
from keyplane.store.database import Database
from keyplane.usage.meter import Meter
from keyplane.usage.prices import PriceTable
from keyplane.webhooks.sender import WebhookSender


def build_limits(
    settings: Settings,
    *,
    database: Database,
    meter: Meter,
    prices: PriceTable,
    webhooks: WebhookSender,
    clock: Clock,
) -> LimitService:
    backend: LimitBackend = MemoryBackend()
    if settings.redis_url:
        # Imported only when used: a single instance never loads the Redis client.
        from keyplane.limits.redis import RedisBackend

        backend = RedisBackend.from_url(settings.redis_url, prefix=settings.redis_prefix)
        # Before a budget is seeded from the store, every instance writes what it holds.
        backend.recount_with(meter.recount)
    return LimitService(
        backend,
        database=database,
        meter=meter,
        prices=prices,
        alerts=BudgetAlerts(database, webhooks=webhooks, clock=clock),
        clock=clock,
        fail_open=settings.rate_limit_failure == "fail_open",
        default_max_output=settings.limits_default_max_output_tokens,
    )
