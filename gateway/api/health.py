"""Liveness and readiness: readiness checks the broker and Redis for real."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status
from redis.asyncio import Redis

from bus.connection import open_connection
from gateway.api.deps import get_redis, get_settings
from gateway.settings import Settings

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(
    response: Response,
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
) -> dict[str, Any]:
    """Ready to accept traffic: a fresh AMQP connection opens and Redis answers PING."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(redis.ping(), 2.0)
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    try:
        conn = await open_connection(settings.amqp_url, timeout_s=3.0)
        await conn.close()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"down: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": "ready" if ok else "not-ready", "checks": checks}
