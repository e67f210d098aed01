"""Build the gateway from settings: the one place that wires its parts together."""

from __future__ import annotations

from keyplane.auth.cache import KeyCache
from keyplane.auth.last_used import LastUsedTracker
from keyplane.config import Settings
from keyplane.gateway.access import Access
from keyplane.gateway.admission import ALLOW_ALL, Admission
from keyplane.gateway.network import ClientAddress
from keyplane.gateway.proxy import Gateway
from keyplane.gateway.upstream import Timeouts, Upstream
from keyplane.services.clock import Clock
from keyplane.store.database import Database
from keyplane.usage.meter import Meter
from keyplane.usage.prices import PriceTable


def build_gateway(
    settings: Settings,
    *,
    database: Database,
    last_used: LastUsedTracker,
    clock: Clock,
    prices: PriceTable,
    admission: Admission = ALLOW_ALL,
) -> Gateway:
    """A gateway; ``admission`` is where limits plug in. ``start`` it in the lifespan."""
    keys = KeyCache(database, brand=settings.key_brand, ttl_seconds=settings.key_cache_ttl_seconds)
    upstream = Upstream(
        base_url=settings.upstream_base_url,
        api_key=settings.upstream_api_key,
        timeouts=Timeouts(
            connect=settings.upstream_connect_timeout_seconds,
            read=settings.upstream_read_timeout_seconds,
        ),
    )
    return Gateway(
        access=Access(keys),
        upstream=upstream,
        meter=Meter(database, interval_seconds=settings.usage_flush_seconds),
        prices=prices,
        admission=admission,
        last_used=last_used,
        client_address=ClientAddress(settings.trusted_proxies),
        clock=clock,
    )
