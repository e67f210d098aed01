"""Build the gateway from the runtime: the one place that wires its parts together."""

from __future__ import annotations

from keyplane.gateway.access import GatewayAccess
from keyplane.gateway.gateway import Gateway
from keyplane.gateway.network import ClientAddress
from keyplane.gateway.upstream import Timeouts, Upstream
from keyplane.http.documents import DocumentLimits
from keyplane.runtime import Runtime


def build_gateway(runtime: Runtime) -> Gateway:
    """A gateway on the runtime's keys, meter, prices and limits. ``start`` it in the lifespan."""
    settings = runtime.settings
    upstream = Upstream(
        base_url=settings.upstream_base_url,
        api_key=settings.upstream_api_key,
        timeouts=Timeouts(
            connect=settings.upstream_connect_timeout_seconds,
            read=settings.upstream_read_timeout_seconds,
            pool=settings.upstream_pool_timeout_seconds,
            first_byte=settings.upstream_first_byte_timeout_seconds,
        ),
    )
    return Gateway(
        access=GatewayAccess(runtime.key_cache),
        upstream=upstream,
        meter=runtime.meter,
        prices=runtime.prices,
        admission=runtime.limits,
        last_used=runtime.last_used,
        client_address=ClientAddress(settings.trusted_proxies),
        clock=runtime.clock,
        documents=DocumentLimits.of(settings),
    )
