"""`POST /v1/routing/dry-run`: where would this alert go, and why (no side effects).

Same code path as `linkgate route` (`gateway.routing.service.route`); the rules are the
ones in force in this process, hot-reloaded from `LINKGATE_RULES_FILE`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, status

from gateway.api.deps import Caller, require_scope
from gateway.routing.reload import RulesHolder
from gateway.routing.rules import RulesError
from gateway.routing.service import RouteRequest, RouteResult, route

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/v1/routing", tags=["routing"])


def _holder(app: FastAPI) -> RulesHolder:
    holder: RulesHolder | None = getattr(app.state, "rules", None)
    if holder is None:
        try:
            holder = RulesHolder(app.state.settings.rules_file)
        except RulesError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"rules-unavailable: {exc}"
            ) from None
        app.state.rules = holder
    return holder


async def on_startup(app: FastAPI) -> list[asyncio.Task[None]]:
    """Load the rules once and watch the file; a bad file at start is logged, not fatal
    for the rest of the API (dry-run answers 503 until it is fixed)."""
    try:
        holder = _holder(app)
    except HTTPException as exc:
        log.error("routing.rules_unavailable", error=str(exc.detail))
        return []
    return [asyncio.create_task(holder.watch())]


@router.post("/dry-run")
async def dry_run(
    body: RouteRequest,
    request: Request,
    _: Annotated[Caller, Depends(require_scope("routing:read"))],
) -> RouteResult:
    """Classify one alert exactly as the router would; nothing is published."""
    return route(_holder(request.app).engine, body)
