"""Build the gateway from the runtime: the one place that wires its parts together."""

from __future__ import annotations

from keyplane.config import environment
from keyplane.gateway.access import GatewayAccess
from keyplane.gateway.gateway import Gateway
from keyplane.gateway.network import ClientAddress
from keyplane.gateway.upstream import Timeouts
from keyplane.gateway.upstreams import Upstreams
from keyplane.http.documents import DocumentLimits
from keyplane.runtime import Runtime
from keyplane.upstreams.file import load_upstreams
from keyplane.usage.kinds import TokenKinds


def build_gateway(runtime: Runtime) -> Gateway:
    """A gateway on the runtime's keys, meter, prices and limits. ``start`` it in the lifespan.

    Raises:
        UpstreamsFileError: ``KEYPLANE_UPSTREAMS_FILE`` names a file that cannot be used.
    """
    settings = runtime.settings
    waits = Timeouts(
        pool=settings.upstream_pool_timeout_seconds,
        first_byte=settings.upstream_first_byte_timeout_seconds,
    )
    upstreams = Upstreams(load_upstreams(settings, environment()), waits=waits)
    return Gateway(
        access=GatewayAccess(runtime.key_cache),
        upstreams=upstreams,
        meter=runtime.meter,
        prices=runtime.prices,
        admission=runtime.limits,
        last_used=runtime.last_used,
        client_address=ClientAddress(settings.trusted_proxies),
        clock=runtime.clock,
        kinds=TokenKinds(runtime.database, interval_seconds=settings.usage_flush_seconds),
        tracer=runtime.tracer,
        documents=DocumentLimits.of(settings),
        max_answer_bytes=settings.upstream_max_answer_bytes,
    )
