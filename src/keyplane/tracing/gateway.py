"""One span per gateway call that reached upstream, in OpenTelemetry's GenAI conventions.

Spans are made when the call is metered, with the call's own start and end times, so the
request path pays nothing while a call runs, and nothing at all when tracing is off (the
gateway then holds no tracer). Attributes follow the GenAI semantic conventions
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.usage.*``) and add keyplane's ids (``keyplane.api_key.id``, ``keyplane.project.id``)
and cost; no key material, prompt or answer is ever put on a span.

``KEYPLANE_OTEL_TRACES=true`` turns it on; the exporter is OTLP over HTTP, configured by the
standard ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_SERVICE_NAME`` variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from keyplane.usage.records import Tokens

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

# Endpoint → GenAI operation name (a well-known value where one applies).
OPERATIONS: Mapping[str, str] = {
    "chat.completions": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
    "responses": "chat",
    "messages": "chat",
}


@dataclass(frozen=True, slots=True)
class TracedCall:
    """What a span says of one call; times in nanoseconds since the epoch."""

    endpoint: str
    provider: str
    model: str
    status: int
    tokens: Tokens
    cost_micro_usd: int
    estimated: bool
    api_key_id: str
    project_id: str
    start_ns: int
    end_ns: int


class GatewayTracer:
    """Writes a finished call as a CLIENT span; the provider batches and exports it."""

    def __init__(self, tracer: Tracer, provider: TracerProvider | None = None) -> None:
        self._tracer = tracer
        self._provider = provider

    @classmethod
    def from_environment(cls) -> GatewayTracer:
        """A tracer exporting over OTLP/HTTP, as the ``OTEL_*`` variables configure it.

        Raises:
            RuntimeError: the ``otel`` extra is not installed.
        """
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
        except ImportError:
            raise RuntimeError(
                "KEYPLANE_OTEL_TRACES is on but OpenTelemetry is not installed: "
                "pip install 'keyplane[otel]'"
            ) from None
        provider = TracerProvider(resource=Resource.create({"service.name": "keyplane"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider.get_tracer("keyplane.gateway"), provider)

    def record(self, call: TracedCall) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        operation = OPERATIONS.get(call.endpoint, call.endpoint)
        tokens = call.tokens
        span = self._tracer.start_span(
            f"{operation} {call.model}".strip(),
            kind=SpanKind.CLIENT,
            start_time=call.start_ns,
            attributes={
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": call.provider,
                "gen_ai.request.model": call.model,
                "gen_ai.usage.input_tokens": tokens.input,
                "gen_ai.usage.output_tokens": tokens.output,
                "gen_ai.usage.cache_read.input_tokens": tokens.cached,
                "gen_ai.usage.cache_creation.input_tokens": tokens.cache_write,
                "http.response.status_code": call.status,
                "keyplane.api_key.id": call.api_key_id,
                "keyplane.project.id": call.project_id,
                "keyplane.cost.micro_usd": call.cost_micro_usd,
                "keyplane.usage.estimated": call.estimated,
            },
        )
        if call.status >= 400:
            span.set_attribute("error.type", str(call.status))
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=call.end_ns)

    def shutdown(self) -> None:
        """Export what is batched; at shutdown."""
        if self._provider is not None:
            self._provider.shutdown()
