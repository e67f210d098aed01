"""Prometheus metrics at ``/metrics``: requests and latency by route group, and queue depths.

Labels are route groups, methods and status codes only — never a key, a key id or a path
with an id in it — so nothing secret and no unbounded label set reaches a metric.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_GATEWAY = {
    "/v1/chat/completions": "gateway_chat_completions",
    "/v1/completions": "gateway_completions",
    "/v1/embeddings": "gateway_embeddings",
    "/v1/responses": "gateway_responses",
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
        self._requests = Counter(
            "keyplane_http_requests_total",
            "HTTP requests answered, by route group.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "keyplane_http_request_duration_seconds",
            "Time to answer, by route group.",
            ("route",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        Gauge(
            "keyplane_process_start_time_seconds",
            "Unix time the process started.",
            registry=self.registry,
        ).set(self.started)
        # labels() takes a lock and builds a key each call; the hot path reuses the children.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, group: str, method: str, status: int, seconds: float) -> None:
        key = (group, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self._requests.labels(group, method, str(status)),
                self._latency.labels(group),
            )
        children[0].inc()
        children[1].observe(seconds)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A gauge whose value ``read`` returns at each scrape."""
        Gauge(name, help_text, registry=self.registry).set_function(read)

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
