"""`GET /metrics` (Prometheus text format) and the collector that keeps the gauges fresh.

Scraping needs the `metrics:read` scope (Prometheus: `authorization: {credentials: KEY}`),
since every API caller is authenticated; the plain per-process port stays on loopback.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from gateway.api.deps import Caller, require_scope
from gateway.observability.collector import Collector
from gateway.ops.orders import open_orders

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response)
async def metrics(_: Annotated[Caller, Depends(require_scope("metrics:read"))]) -> Response:
    """Every metric of this process in the Prometheus text exposition format."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def on_startup(app: FastAPI) -> list[asyncio.Task[None]]:
    """Refresh queue/DLQ depths, open orders and spool depth in the background."""
    settings = app.state.settings

    async def count_open_orders() -> int:
        return len(await open_orders(app.state.redis, settings))

    async def spool_depth() -> int:
        return await asyncio.to_thread(app.state.spool.depth)

    collector = Collector(settings, open_orders=count_open_orders, spool_depth=spool_depth)
    app.state.collector = collector
    return [asyncio.create_task(collector.run(), name="ops-collector")]
