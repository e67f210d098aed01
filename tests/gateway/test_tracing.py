"""OpenTelemetry: with KEYPLANE_OTEL_TRACES on, each gateway call is one span, sent over OTLP.

The collector here is a real HTTP server that decodes what keyplane's OTLP exporter posts
(``opentelemetry-proto``); the client is the official ``openai`` SDK.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from gateway.conftest import create_key, gateway_process
from keyplane.testing import UpstreamProcess
from support.server import ServerProcess


class Collector:
    """Spans received at ``/v1/traces``, as attribute dictionaries with name and kind."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.bodies: list[bytes] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                collector.bodies.append(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append(_flat(span))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _flat(span: Any) -> dict[str, Any]:
    flat: dict[str, Any] = {"name": span.name, "kind": span.kind}
    flat["duration_ns"] = span.end_time_unix_nano - span.start_time_unix_nano
    for attribute in span.attributes:
        value = attribute.value
        flat[attribute.key] = getattr(value, value.WhichOneof("value"))
    return flat


@pytest.fixture
def collector() -> Iterator[Collector]:
    running = Collector()
    yield running
    running.server.shutdown()


@pytest.fixture
def traced(tmp_path: Path, upstream: UpstreamProcess, collector: Collector) -> ServerProcess:
    return gateway_process(
        tmp_path,
        upstream,
        KEYPLANE_OTEL_TRACES="true",
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
    )


def test_each_call_is_one_genai_span_without_key_material(
    traced: ServerProcess, collector: Collector
) -> None:
    traced.start()
    key = create_key(traced)
    client = openai.OpenAI(api_key=key, base_url=f"{traced.url}/v1", max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    for _ in stream:
        pass
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    traced.stop()  # the batch of spans is exported at shutdown at the latest

    spans = sorted(collector.spans, key=lambda s: str(s["name"]))
    assert [(s["name"], s["gen_ai.operation.name"], s["gen_ai.request.model"]) for s in spans] == [
        ("chat gpt-4o", "chat", "gpt-4o"),
        ("chat gpt-4o-mini", "chat", "gpt-4o-mini"),
        ("embeddings text-embedding-3-small", "embeddings", "text-embedding-3-small"),
    ]
    for span in spans:
        assert span["kind"] == 3  # SPAN_KIND_CLIENT
        assert span["gen_ai.provider.name"] == "openai"
        assert span["gen_ai.usage.input_tokens"] > 0
        assert span["http.response.status_code"] == 200
        assert span["keyplane.api_key.id"].startswith("key_")
        assert span["duration_ns"] > 0
    assert all(s["gen_ai.usage.output_tokens"] > 0 for s in spans if s["name"].startswith("chat"))
    secret_part = key.split("_")[-1]
    for body in collector.bodies:
        assert secret_part.encode() not in body
        assert b"sk-test-upstream" not in body


def test_with_traces_off_nothing_is_sent(
    tmp_path: Path, upstream: UpstreamProcess, collector: Collector
) -> None:
    server = gateway_process(tmp_path, upstream, OTEL_EXPORTER_OTLP_ENDPOINT=collector.url)
    server.start()
    key = create_key(server)
    client = openai.OpenAI(api_key=key, base_url=f"{server.url}/v1", max_retries=0)
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    server.stop()
    assert collector.bodies == []
