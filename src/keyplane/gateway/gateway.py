"""One gateway call end to end: check the key, admit, forward, relay the answer, meter, settle.

No database work on this path: keys come from ``KeyCache``, ``last_used_at`` goes to the
``LastUsedTracker`` and usage to the ``Meter``, which both write in batches.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from starlette.types import Send

from keyplane.auth.last_used import LastUsedTracker
from keyplane.clock import Clock, system_clock
from keyplane.errors import (
    BadGatewayError,
    BadRequestError,
    PermissionDeniedError,
    UnavailableError,
)
from keyplane.gateway.access import GatewayAccess, Grant
from keyplane.gateway.anthropic import message_text, tokens_from_message
from keyplane.gateway.catalog import ModelCatalog, in_anthropic_shape
from keyplane.gateway.endpoints import COUNT_TOKENS, MESSAGES, MODELS_SCOPE, Endpoint, StreamUsage
from keyplane.gateway.http1 import ClosedError, ReadTimeoutError, Response, TransportError
from keyplane.gateway.network import ClientAddress
from keyplane.gateway.refusals import upstream_refusal
from keyplane.gateway.streams import StreamParser, StreamRelay, answer_text, parser_for
from keyplane.gateway.upstream import (
    MAX_ANSWER_BYTES,
    UpstreamAnswerError,
    UpstreamConnectError,
    UpstreamTimeoutError,
    read_whole,
)
from keyplane.gateway.upstreams import Target, Upstreams
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
from keyplane.tracing.gateway import GatewayTracer, TracedCall
from keyplane.upstreams.file import DEFAULT_NAME
from keyplane.usage.kinds import TokenKinds
from keyplane.usage.meter import Meter
from keyplane.usage.prices import PriceTable
from keyplane.usage.records import NO_TOKENS, Tokens, UsageRecord, UsageReport, minute_of, report_of
from keyplane.usage.tokenizer import Tokenizer

logger = logging.getLogger(__name__)

# The name usage records give the one upstream of the KEYPLANE_UPSTREAM_* settings.
UPSTREAM_NAME = DEFAULT_NAME
CLIENT_CLOSED = 499  # nginx's status for a client that went away before the answer ended
_NOT_REACHED = Outcome(reached_upstream=False, status=0)
# Bytes of prompt and answer counted on the event loop (about 1 ms of BPE); more: a thread.
_COUNT_INLINE = 32 * 1024
_BROKE_OFF = "The upstream stream broke off before it was complete; the answer is cut short."
_STALLED = "The upstream stopped sending before the stream was complete; the answer is cut short."


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
    targets: tuple[Target, ...]
    size: int = 0  # of the request body: large prompts are counted off the event loop
    provider: str = ""  # the upstream of the attempt under way
    recorded: bool = False  # whether the attempt under way is metered yet
    outcome: Outcome | None = None


class Gateway:
    """The gateway's behaviour, independent of routing; one per app."""

    def __init__(
        self,
        *,
        access: GatewayAccess,
        upstreams: Upstreams,
        meter: Meter,
        prices: PriceTable,
        last_used: LastUsedTracker,
        client_address: ClientAddress,
        admission: Admission = ALLOW_ALL,
        clock: Clock = system_clock,
        documents: DocumentLimits = DEFAULT_LIMITS,
        tokenizer: Tokenizer | None = None,
        kinds: TokenKinds | None = None,
        tracer: GatewayTracer | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.access = access
        self.max_answer_bytes = max_answer_bytes
        self.upstreams = upstreams
        self.catalog = ModelCatalog(upstreams, max_answer_bytes)
        self.meter = meter
        self.prices = prices
        self.last_used = last_used
        self.client_address = client_address
        self.admission = admission
        self.clock = clock
        self.documents = documents
        self.tokenizer = tokenizer or Tokenizer()
        self.kinds = kinds
        self.tracer = tracer

    async def start(self) -> None:
        """Open the upstreams' connection pools (the meter is the runtime's, started with it)."""
        await self.upstreams.start()
        if self.kinds is not None:
            self.kinds.start()

    async def stop(self) -> None:
        """Close the pools and write the token kinds; the runtime then writes pending usage."""
        await self.upstreams.close()
        if self.kinds is not None:
            await self.kinds.stop()

    async def _grant(self, incoming: Incoming, scope: str, now: datetime) -> Grant:
        headers = incoming.headers
        client = self.client_address.of(incoming.peer, headers.get("x-forwarded-for"))
        # Anthropic's clients send the key as x-api-key; either header carries a keyplane key.
        authorization = headers.get("authorization")
        if authorization is None and "x-api-key" in headers:
            authorization = "Bearer " + headers["x-api-key"]
        grant = await self.access.grant(
            authorization=authorization, client=client, scope=scope, now=now
        )
        self.last_used.touch(grant.key.id, now)
        incoming.log.key_id = grant.key.id
        return grant

    async def post(self, endpoint: Endpoint, incoming: Incoming) -> None:
        """Serve a metered POST call."""
        now = self.clock()
        grant = await self._grant(incoming, endpoint.scope, now)
        body = parse_object(incoming.body, self.documents)
        model = incoming.log.model = _model_of(body)
        self.access.check_model(grant, model)
        targets = self.upstreams.route(endpoint, model)
        targets[0].client.check_configured()
        self._check_priced(grant, model)
        stream = body.get("stream") is True
        call = Call(grant.key, grant.project, endpoint.name, model, body, stream)
        admitted = await self.admission.admit(call)
        metered = _Metered(call, minute_of(now), time.perf_counter(), targets, len(incoming.body))
        try:
            await self._forward(endpoint, metered, admitted, incoming)
        except UpstreamTimeoutError as error:
            if error.reached_upstream and not metered.recorded:
                await self._record_estimate(metered, error.status, "")
            raise
        except UpstreamAnswerError as error:  # it got the call, then broke off or overflowed
            if not metered.recorded:
                await self._record_estimate(metered, error.status, "")
            raise
        finally:
            incoming.log.tokens = metered.outcome.tokens if metered.outcome else None
            await self._settle(call, admitted, metered.outcome or _NOT_REACHED)

    def _check_priced(self, grant: Grant, model: str) -> None:
        """Refuse a model without a price under a budget: it would spend nothing from it."""
        project = grant.project
        budgeted = grant.key.budget is not None or (
            project is not None and project.budget is not None
        )
        if budgeted and self.prices.price(model) is None:
            raise PermissionDeniedError(
                f"The model '{model}' has no price in keyplane's price table, so calls to it "
                "cannot be charged to this key's budget. Ask the operator to add it to the "
                "file named by KEYPLANE_PRICES_FILE, or to set KEYPLANE_DEFAULT_PRICE.",
                param="model",
                code="model_not_priced",
            )

    async def _forward(
        self, endpoint: Endpoint, metered: _Metered, admitted: Admitted, incoming: Incoming
    ) -> None:
        call = metered.call
        payload: bytes | None = None
        if call.stream and endpoint.stream_usage is StreamUsage.FINAL_CHUNK:
            payload = _with_usage(call.body)
        response = await self._send(endpoint, metered, payload or incoming.body, incoming)
        if call.stream and response.status == 200:
            parser = parser_for(endpoint.stream_usage, strip_injected=payload is not None)
            await self._relay(metered, admitted, incoming, response, parser)
            return
        content = await self._read(metered, response)
        if refused := upstream_refusal(response.status, content):
            self._record(metered, refused.status, NO_TOKENS)
            raise refused
        await self._record_answer(endpoint, metered, response.status, content)
        headers = returned_headers(response.raw_headers, admitted.headers)
        await send_whole(incoming.send, response.status, headers, content)

    async def _send(
        self, endpoint: Endpoint, metered: _Metered, body: bytes, incoming: Incoming
    ) -> Response:
        """Send to the route's upstreams in turn until one answers for good.

        The next is tried when one cannot be reached, or answers 5xx or 429: nothing has
        reached the client yet. An answer that came is metered, whatever its status.
        """
        headers = forwarded_headers(incoming.headers)
        model = metered.call.model
        last = len(metered.targets) - 1
        for attempt, target in enumerate(metered.targets):
            metered.provider, metered.recorded = target.name, False
            payload = target.body(endpoint, model, body, metered.call.body)
            try:
                response = await target.send(endpoint, model, payload, headers)
            except (UpstreamConnectError, UpstreamTimeoutError, UnavailableError) as error:
                if attempt == last or getattr(error, "reached_upstream", False):
                    raise
                continue  # it never got the call: nothing to meter
            if attempt < last and (response.status >= 500 or response.status == 429):
                content = await self._read(metered, response)
                self._record(metered, response.status, NO_TOKENS)
                logger.warning(
                    "upstream %s answered %d (%d bytes); trying %s",
                    target.name,
                    response.status,
                    len(content),
                    metered.targets[attempt + 1].name,
                )
                continue
            return response
        raise AssertionError("a route has at least one upstream")  # pragma: no cover

    async def _read(self, metered: _Metered, response: Response) -> bytes:
        """The whole answer; a failure while reading it is metered, then raised."""
        try:
            return await read_whole(response, self.max_answer_bytes)
        except BadGatewayError:
            await self._record_estimate(metered, 502, "")
            raise

    async def _record_answer(
        self, endpoint: Endpoint, metered: _Metered, status: int, content: bytes
    ) -> None:
        """Meter a whole answer: its usage, or, for a success without one, counted tokens."""
        # Upstream refused it, or it only counted tokens (free): nothing was generated.
        if status >= 400 or endpoint is COUNT_TOKENS:
            self._record(metered, status, NO_TOKENS)
            return
        answer = _loads(content)
        if endpoint is MESSAGES:
            has_usage = isinstance(answer, dict) and isinstance(answer.get("usage"), dict)
            report = UsageReport(tokens_from_message(answer)) if has_usage else None
            text = message_text(answer)
        else:
            report, text = report_of(answer), answer_text(answer)
        if report is None:
            await self._record_estimate(metered, status, text)
        else:
            self._record(metered, status, report.tokens, report)

    async def _relay(
        self,
        metered: _Metered,
        admitted: Admitted,
        incoming: Incoming,
        response: Response,
        parser: StreamParser,
    ) -> None:
        """Pass a stream through as it comes; stop the upstream call if the client leaves.

        Whatever ends the stream, the call is metered: with the usage upstream reported, or
        else with the tokens of the prompt and of the text relayed, counted here. A stream
        that upstream breaks off ends with an error event, so that the client's SDK raises.
        """
        send = incoming.send
        relay = StreamRelay(parser)
        watcher = asyncio.ensure_future(wait_for_disconnect(incoming.receive))
        gone = done = False

        def client_gone(_: object) -> None:
            nonlocal gone
            if watcher.cancelled() or done:
                return
            gone = True
            response.close()  # closing the connection is what cancels the upstream call

        watcher.add_done_callback(client_gone)
        headers = returned_headers(response.raw_headers, admitted.headers)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        # Unless the pump returns, the server is cancelling this call at shutdown: metered too.
        status = CLIENT_CLOSED
        cancelled = False
        try:
            status = await _pump(response, relay, send, lambda: gone)
        except asyncio.CancelledError:
            cancelled = True
            raise
        finally:
            done = True
            watcher.cancel()
            if status == 200:
                response.release()
            else:
                response.close()
            rest = relay.close() if status == 200 else b""
            if status == 200 and not parser.finished:
                status, rest = 502, b""  # what is left is half an event: of no use to clients
                logger.warning("upstream stream ended before its last event")
            # Cancelled at shutdown: meter now, before the final flush, not after a wait.
            await self._record_stream(metered, status, parser, wait=not cancelled)
        if status != CLIENT_CLOSED:
            if status != 200:  # tell the client, in the stream's own terms, that it broke off
                rest = parser.truncation(_STALLED if status == 504 else _BROKE_OFF)
            await send({"type": "http.response.body", "body": rest, "more_body": False})

    async def _record_stream(
        self, metered: _Metered, status: int, parser: StreamParser, *, wait: bool = True
    ) -> None:
        report = parser.report
        if report is None:
            await self._record_estimate(metered, status, parser.relayed_text(), wait=wait)
        else:
            self._record(metered, status, report.tokens, report)

    async def models(self, incoming: Incoming, model: str | None) -> None:
        """``GET /v1/models[/{model}]``, showing only the models the key may use."""
        grant = await self._grant(incoming, MODELS_SCOPE, self.clock())
        incoming.log.model = model
        headers = forwarded_headers(incoming.headers)
        status, raw_headers, content = await self.catalog.answer(grant, model, headers)
        if refused := upstream_refusal(status, content):
            raise refused
        if status == 200 and "anthropic-version" in incoming.headers:
            content = in_anthropic_shape(content)  # the anthropic SDK's models.list()
        await send_whole(incoming.send, status, returned_headers(raw_headers, ()), content)

    async def _record_estimate(
        self, metered: _Metered, status: int, output: str, *, wait: bool = True
    ) -> None:
        """Meter a call upstream reported no usage for: its prompt and ``output``, counted.

        When it may ``wait``, the tokenizer is loaded (the first time) and large texts are
        counted in a thread, so the event loop never stalls on them.
        """
        call = metered.call
        tokenizer = self.tokenizer
        if wait and not tokenizer.loaded(call.model):
            await tokenizer.load(call.model)
        if wait and metered.size + len(output) > _COUNT_INLINE:
            tokens = await asyncio.to_thread(self._count, call, output)
        else:
            tokens = self._count(call, output)
        self._record(metered, status, tokens, None, estimated=True)

    def _count(self, call: Call, output: str) -> Tokens:
        tokenizer = self.tokenizer
        return Tokens(
            input=tokenizer.count_prompt(call.model, call.endpoint, call.body),
            output=tokenizer.count(call.model, output),
        )

    def _record(
        self,
        metered: _Metered,
        status: int,
        tokens: Tokens,
        report: UsageReport | None = None,
        *,
        estimated: bool = False,
    ) -> Outcome:
        call = metered.call
        tier = report.service_tier if report else _requested_tier(call.body)
        price = self.prices.price(call.model, tier)
        cost = 0
        if price is not None:
            cost = price.cost(
                input_tokens=tokens.input,
                cached_tokens=tokens.cached,
                output_tokens=tokens.output,
                cache_write_tokens=tokens.cache_write,
            )
        key = call.key
        latency_ms = int((time.perf_counter() - metered.started) * 1000)
        record = UsageRecord(
            minute=metered.minute,
            organization_id=key.organization_id,
            project_id=key.project_id or "",
            api_key_id=key.id,
            model=call.model,
            endpoint=call.endpoint,
            tokens=tokens,
            cost_micro_usd=cost,
            priced=self.prices.listed(call.model) is not None,
            status=status,
            latency_ms=latency_ms,
            provider=metered.provider,
            service_tier=report.service_tier if report else "",
            estimated=estimated,
            extra_tokens=report.extra_tokens if report else (),
        )
        self.meter.record(record)
        metered.recorded = True
        if record.extra_tokens and self.kinds is not None:
            self.kinds.record(record)
        if self.tracer is not None:
            end_ns = time.time_ns()
            self.tracer.record(
                TracedCall(
                    endpoint=call.endpoint,
                    provider=metered.provider,
                    model=call.model,
                    status=status,
                    tokens=tokens,
                    cost_micro_usd=cost,
                    estimated=estimated,
                    api_key_id=key.id,
                    project_id=key.project_id or "",
                    start_ns=end_ns - int((time.perf_counter() - metered.started) * 1e9),
                    end_ns=end_ns,
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


async def _pump(
    response: Response, relay: StreamRelay, send: Send, gone: Callable[[], bool]
) -> int:
    """Relay upstream's stream until it ends; the status the call is metered with."""
    try:
        async for chunk in response:
            out = relay.feed(chunk)
            if out:
                await send({"type": "http.response.body", "body": out, "more_body": True})
    except ClosedError:
        return CLIENT_CLOSED
    except ReadTimeoutError:
        return 504
    except TransportError as error:
        if gone():
            return CLIENT_CLOSED
        logger.warning("upstream stream broke off: %s", type(error).__name__)
        return 502
    return 200


def _requested_tier(body: dict[str, Any]) -> str:
    """The tier a call asked for, to price it by when upstream did not say which it served."""
    tier = body.get("service_tier")
    return tier if isinstance(tier, str) and len(tier) <= 32 else ""


def _loads(content: bytes) -> Any:
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
