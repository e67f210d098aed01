"""Prometheus metrics at ``/metrics``: requests and latency by route group, and queue depths.

Labels are route groups, methods and status codes only — never a key, a key id or a path
with an id in it — so nothing secret and no unbounded label set reaches a metric.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
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


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds


class Metrics:
    """Counters kept in memory; one per process, rendered in Prometheus' text format."""

    def __init__(self) -> None:
        self.started = time.time()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[str, _Histogram] = {}
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def observe(self, group: str, method: str, status: int, seconds: float) -> None:
        key = (group, method, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(group)
        if histogram is None:
            histogram = self.latency[group] = _Histogram()
        histogram.observe(seconds)

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.gauges[name] = (help_text, read)

    def render(self) -> str:
        lines = [
            "# HELP keyplane_http_requests_total HTTP requests answered, by route group.",
            "# TYPE keyplane_http_requests_total counter",
        ]
        for (group, method, status), count in sorted(self.requests.items()):
            labels = f'route="{group}",method="{method}",status="{status}"'
            lines.append(f"keyplane_http_requests_total{{{labels}}} {count}")
        lines += [
            "# HELP keyplane_http_request_duration_seconds Time to answer, by route group.",
            "# TYPE keyplane_http_request_duration_seconds histogram",
        ]
        for group, histogram in sorted(self.latency.items()):
            running = 0
            for bound, count in zip((*BUCKETS, float("inf")), histogram.counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                lines.append(
                    f'keyplane_http_request_duration_seconds_bucket{{route="{group}",le="{le}"}} '
                    f"{running}"
                )
            lines.append(
                f'keyplane_http_request_duration_seconds_sum{{route="{group}"}} {histogram.total}'
            )
            lines.append(
                f'keyplane_http_request_duration_seconds_count{{route="{group}"}} {running}'
            )
        lines += [
            "# HELP keyplane_process_start_time_seconds Unix time the process started.",
            "# TYPE keyplane_process_start_time_seconds gauge",
            f"keyplane_process_start_time_seconds {self.started}",
        ]
        for name, (help_text, read) in sorted(self.gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {read()}"]
        return "\n".join(lines) + "\n"


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
