"""``/healthz`` (the process answers) and ``/readyz`` (the store answers too)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from keyplane.runtime.deps import DatabaseDep

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(database: DatabaseDep) -> dict[str, str] | JSONResponse:
    try:
        await database.ping()
    except Exception as exc:  # noqa: BLE001 -- any failure to reach the store means not ready
        logger.warning("readiness check failed: %s", type(exc).__name__)
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    return {"status": "ok", "store": "ok"}
