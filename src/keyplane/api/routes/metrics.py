"""``GET /metrics``: Prometheus' text format."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    registry = request.app.state.metrics
    return PlainTextResponse(registry.render(), media_type=registry.content_type)
