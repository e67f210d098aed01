"""``GET /metrics``: Prometheus' text format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from keyplane.http.metrics import MetricsDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(registry: MetricsDep) -> PlainTextResponse:
    text = registry.render()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
