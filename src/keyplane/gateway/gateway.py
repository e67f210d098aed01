"""One gateway call end to end: check the key, admit, forward, relay the answer, meter, settle.

No database work on this path: keys come from ``KeyCache``, ``last_used_at`` goes to the
``LastUsedTracker`` and usage to the ``Meter``, which both write in batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson

from keyplane.auth.last_used import LastUsedTracker
from keyplane.clock import Clock, system_clock
from keyplane.errors import BadGatewayError, BadRequestError, NotFoundError, UnavailableError
from keyplane.gateway.access import GatewayAccess, Grant
from keyplane.gateway.endpoints import MODELS_SCOPE, Endpoint, StreamUsage
from keyplane.gateway.http1 import ClosedError, ReadTimeoutError, Response, TransportError
from keyplane.gateway.network import ClientAddress
from keyplane.gateway.streams import StreamRelay
from keyplane.gateway.upstream import (
    MISSING_KEY,
    Upstream,
    UpstreamTimeoutError,
    read_whole,
)
from keyplane.gateway.wire import (
    Incoming,
    forwarded_headers,
    returned_headers,
    send_whole,
    wait_for_disconnect,
)
from keyplane.http.documents import (
    DEFAULT_LIMITS,
    DocumentLimits,
    check_model_name,
    parse_object,
)
from keyplane.limits.admission import ALLOW_ALL, Admission, Admitted, Call, Outcome
from keyplane.usage.meter import Meter
from keyplane.usage.prices import PriceTable
from keyplane.usage.records import NO_TOKENS, Tokens, UsageRecord, minute_of, tokens_from_body

logger = logging.getLogger(__name__)

CLIENT_CLOSED = 499  # nginx's status for a client that went away before the answer ended
_NOT_REACHED = Outcome(reached_upstream=False, status=0)


def _model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequestError(
            "Missing required parameter: 'model'.",
            param="model",
            code="missing_required_parameter",
        )
    check_model_name(model)
    return model


def _with_usage(body: dict[str, Any]) -> bytes | None:
    """The body re-encoded to ask for stream usage, or ``None`` if the client asked already."""
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return None
    merged = {**options, "include_usage": True} if isinstance(options, dict) else None
    return orjson.dumps({**body, "stream_options": merged or {"include_usage": True}})


@dataclass(slots=True)
class _Metered:
    """One forwarded call while it runs."""

    call: Call
    minute: int
    started: float
    outcome: Outcome | None = None


class Gateway:
    """The gateway's behaviour, independent of routing; one per app."""

    def __init__(
        self,
        *,
        access: GatewayAccess,
        upstream: Upstream,
        meter: Meter,
        prices: PriceTable,
        last_used: LastUsedTracker,
        client_address: ClientAddress,
        admission: Admission = ALLOW_ALL,
        clock: Clock = system_clock,
        documents: DocumentLimits = DEFAULT_LIMITS,
    ) -> None:
        self.access = access
        self.upstream = upstream
        self.meter = meter
        self.prices = prices
        self.last_used = last_used
        self.client_address = client_address
        self.admission = admission
        self.clock = clock
        self.documents = documents

    async def start(self) -> None:
        """Open the upstream connection pool (the meter is the runtime's, started with it)."""
        await self.upstream.start()

    async def stop(self) -> None:
        """Close the pool; the runtime then writes all pending usage."""
        await self.upstream.close()

    async def _grant(self, incoming: Incoming, scope: str, now: datetime) -> Grant:
        headers = incoming.headers
        client = self.client_address.of(incoming.peer, headers.get("x-forwarded-for"))
        grant = await self.access.grant(
            authorization=headers.get("authorization"), client=client, scope=scope, now=now
        )
        self.last_used.touch(grant.key.id, now)
        return grant

    async def post(self, endpoint: Endpoint, incoming: Incoming) -> None:
        """Serve a metered POST call."""
        now = self.clock()
        grant = await self._grant(incoming, endpoint.scope, now)
        body = parse_object(incoming.body, self.documents)
        model = _model_of(body)
        self.access.check_model(grant, model)
        if not self.upstream.configured:
            raise UnavailableError(MISSING_KEY, code="upstream_not_configured")
        stream = body.get("stream") is True
        call = Call(grant.key, grant.project, endpoint.name, model, body, stream)
        admitted = await self.admission.admit(call)
        metered = _Metered(call, minute_of(now), time.perf_counter())
        try:
            await self._forward(endpoint, metered, admitted, incoming)
        except UpstreamTimeoutError as error:
            if error.reached_upstream and metered.outcome is None:
                self._record(metered, error.status, NO_TOKENS)
            raise
        finally:
            await self._settle(call, admitted, metered.outcome or _NOT_REACHED)

    async def _forward(
        self, endpoint: Endpoint, metered: _Metered, admitted: Admitted, incoming: Incoming
    ) -> None:
        call = metered.call
        payload: bytes | None = None
        if call.stream and endpoint.stream_usage is StreamUsage.FINAL_CHUNK:
            payload = _with_usage(call.body)
        response = await self.upstream.send(
            "POST",
            endpoint.path,
            body=payload or incoming.body,
            headers=forwarded_headers(incoming.headers),
        )
        if call.stream and response.status == 200:
            relay = StreamRelay(endpoint.stream_usage, strip_injected=payload is not None)
            await self._relay(metered, admitted, incoming, response, relay)
            return
        content = await self._read(metered, response)
        tokens = tokens_from_body(_loads(content)) if response.status < 400 else NO_TOKENS
        self._record(metered, response.status, tokens)
        headers = returned_headers(response.raw_headers, admitted.headers)
        await send_whole(incoming.send, response.status, headers, content)

    async def _read(self, metered: _Metered, response: Response) -> bytes:
        """The whole answer; a failure while reading it is metered, then raised."""
        try:
            return await read_whole(response)
        except BadGatewayError:
            self._record(metered, 502, NO_TOKENS)
            raise

    async def _relay(
        self,
        metered: _Metered,
        admitted: Admitted,
        incoming: Incoming,
        response: Response,
        relay: StreamRelay,
    ) -> None:
        """Pass a stream through as it comes; stop the upstream call if the client leaves."""
        send = incoming.send
        watcher = asyncio.ensure_future(wait_for_disconnect(incoming.receive))
        gone = done = False

        def client_gone(_: object) -> None:
            nonlocal gone
            if watcher.cancelled() or done:
                return
            gone = True
            response.close()  # closing the connection is what cancels the upstream call

        watcher.add_done_callback(client_gone)
        status = 200
        headers = returned_headers(response.raw_headers, admitted.headers)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        try:
            async for chunk in response:
                out = relay.feed(chunk)
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
        except ClosedError:
            status = CLIENT_CLOSED
        except ReadTimeoutError:
            status = 504
        except TransportError as error:
            status = CLIENT_CLOSED if gone else 502
            if status == 502:
                logger.warning("upstream stream broke off: %s", type(error).__name__)
        except asyncio.CancelledError:  # the server is shutting down: still meter the call
            status = CLIENT_CLOSED
            raise
        finally:
            done = True
            watcher.cancel()
            if status == 200:
                response.release()
            else:
                response.close()
            self._record(metered, status, relay.tokens or NO_TOKENS)
        if status != CLIENT_CLOSED:
            await send({"type": "http.response.body", "body": relay.close(), "more_body": False})

    async def models(self, incoming: Incoming, model: str | None) -> None:
        """``GET /v1/models[/{model}]``, showing only the models the key may use."""
        grant = await self._grant(incoming, MODELS_SCOPE, self.clock())
        if model is not None and not grant.allows_model(model):
            raise NotFoundError(
                f"The model '{model}' does not exist or you do not have access to it.",
                param="model",
                code="model_not_found",
            )
        path = "/models" if model is None else "/models/" + quote(model, safe="")
        response = await self.upstream.send(
            "GET", path, body=None, headers=forwarded_headers(incoming.headers)
        )
        content = await read_whole(response)
        if model is None and response.status == 200 and grant.key.allowed_models:
            content = _only_allowed(content, grant)
        headers = returned_headers(response.raw_headers, ())
        await send_whole(incoming.send, response.status, headers, content)

    def _record(self, metered: _Metered, status: int, tokens: Tokens) -> Outcome:
        call = metered.call
        price = self.prices.price(call.model)
        cost = 0
        if price is not None:
            cost = price.cost(
                input_tokens=tokens.input, cached_tokens=tokens.cached, output_tokens=tokens.output
            )
        key = call.key
        latency_ms = int((time.perf_counter() - metered.started) * 1000)
        self.meter.record(
            UsageRecord(
                minute=metered.minute,
                organization_id=key.organization_id,
                project_id=key.project_id or "",
                api_key_id=key.id,
                model=call.model,
                endpoint=call.endpoint,
                tokens=tokens,
                cost_micro_usd=cost,
                priced=price is not None,
                status=status,
                latency_ms=latency_ms,
            )
        )
        metered.outcome = Outcome(
            reached_upstream=True, status=status, tokens=tokens, cost_micro_usd=cost
        )
        return metered.outcome

    async def _settle(self, call: Call, admitted: Admitted, outcome: Outcome) -> None:
        try:
            await self.admission.settle(call, admitted, outcome)
        except Exception:  # the answer is already sent; a settle failure must not turn into a 500
            logger.exception("admission settle failed for key %s", call.key.id)


def _loads(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


def _only_allowed(content: bytes, grant: Grant) -> bytes:
    listing = _loads(content)
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        return content
    listing["data"] = [
        item
        for item in listing["data"]
        if isinstance(item, dict) and grant.allows_model(str(item.get("id", "")))
    ]
    return orjson.dumps(listing)
