"""Prometheus metrics at ``/metrics``: requests and latency by route group, and queue depths.

Labels are route groups, methods and status codes only — never a key, a key id or a path
with an id in it — so nothing secret and no unbounded label set reaches a metric.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import (
    CollectorRegistry,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_GATEWAY = {
    "/v1/chat/completions": "gateway_chat_completions",
    "/v1/completions": "gateway_completions",
    "/v1/embeddings": "gateway_embeddings",
    "/v1/responses": "gateway_responses",
    "/v1/messages": "gateway_messages",
    "/v1/messages/count_tokens": "gateway_messages_count_tokens",
}


def route_group(path: str) -> str:
    """A fixed, small set of names for paths (ids in paths would explode the label set)."""
    if path in _GATEWAY:
        return _GATEWAY[path]
    if path == "/v1/models" or path.startswith("/v1/models/"):
        return "gateway_models"
    if path == "/v1/keys/verify":
        return "verify"
    if path.startswith("/v1/organization/"):
        return "admin_api"
    if path.startswith("/v1/leaks/"):
        return "leak_reports"
    if path in ("/healthz", "/readyz", "/metrics"):
        return "ops"
    return "other_v1" if path.startswith("/v1/") else "dashboard"


@dataclass(slots=True)
class _Latency:
    """One route group's histogram: a count per bucket (not cumulative) and the sum."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0


class _Requests(Collector):
    """Request counts and latency kept as plain integers, turned into metrics at scrape.

    The hot path is a few dictionary operations, with no lock: prometheus_client's own
    Counter and Histogram took about 1 µs more per request than this, measured.
    """

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        self.latency: dict[str, _Latency] = {}

    def observe(self, group: str, method: str, status: int, seconds: float) -> None:
        key = (group, method, status)
        self.counts[key] = self.counts.get(key, 0) + 1
        latency = self.latency.get(group)
        if latency is None:
            latency = self.latency[group] = _Latency()
        latency.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        latency.total += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "keyplane_http_requests",
            "HTTP requests answered, by route group.",
            labels=("route", "method", "status"),
        )
        for (group, method, status), count in sorted(self.counts.items()):
            requests.add_metric((group, method, str(status)), count)
        yield requests
        duration = HistogramMetricFamily(
            "keyplane_http_request_duration_seconds",
            "Time to answer, by route group.",
            labels=("route",),
        )
        for group, latency in sorted(self.latency.items()):
            cumulative = list(itertools.accumulate(latency.counts))
            bounds = [*(repr(bound) for bound in BUCKETS), "+Inf"]
            duration.add_metric((group,), list(zip(bounds, cumulative, strict=True)), latency.total)
        yield duration


class _ReadCounter(Collector):
    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name, self.help_text, self.read = name, help_text, read

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.help_text, value=self.read())


class Metrics:
    """Request counts, latency and gauges for one app, on a registry of its own.

    Not prometheus_client's global registry: tests build many apps in one process, and a
    registry refuses a metric name twice. Process, platform and GC metrics come along.
    """

    # The text format every Prometheus reads (and what /metrics said before prometheus_client);
    # our names and labels are ASCII, so generate_latest's output is the same in 0.0.4 and 1.0.0.
    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def __init__(self) -> None:
        self.started = time.time()
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._requests = _Requests()
        self.registry.register(self._requests)
        Gauge(
            "keyplane_process_start_time_seconds",
            "Unix time the process started.",
            registry=self.registry,
        ).set(self.started)
        # The middleware calls this once per request: the collector's own method, no wrapper.
        self.observe = self._requests.observe

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A gauge whose value ``read`` returns at each scrape."""
        Gauge(name, help_text, registry=self.registry).set_function(read)

    def counter(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A counter (``name`` without ``_total``) whose value ``read`` returns at each scrape."""
        self.registry.register(_ReadCounter(name, help_text, read))

    def render(self) -> str:
        return generate_latest(self.registry).decode()


class MetricsMiddleware:
    """Counts every HTTP request by route group and status; the outermost layer of ``serve``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            self.metrics.observe(
                route_group(scope["path"]), scope["method"], status, time.perf_counter() - started
            )


def metrics_of(request: Request) -> Metrics:
    """The app's metrics (``app.state.metrics``), for the ``/metrics`` route."""
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(metrics_of)]
