"""``GET /metrics``: Prometheus' text format."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from keyplane.http.metrics import MetricsDep

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(registry: MetricsDep) -> PlainTextResponse:
    return PlainTextResponse(registry.render(), media_type=registry.content_type)
