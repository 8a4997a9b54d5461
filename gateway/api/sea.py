"""Sea-centre endpoints (HMAC-signed by `maritime-sar` or `ocean-fishery`): status of a
hand-over, and reports a centre received directly."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from gateway.exchanges.auth import PlatformCaller, parse_body, require_platform
from gateway.exchanges.hotline import ExchangeError
from gateway.exchanges.sea import DirectReport, HandoverStatusUpdate, SeaExchange

router = APIRouter(prefix="/v1/sea", tags=["sea"])

SeaCentreCaller = Annotated[
    PlatformCaller, Depends(require_platform("maritime-sar", "ocean-fishery"))
]


def _sea(request: Request) -> SeaExchange:
    app = request.app
    return SeaExchange(app.state.redis, app.state.settings, lambda: app.state.publisher)


@router.post("/handovers/{handover_id}/status")
async def handover_status(
    handover_id: str, request: Request, caller: SeaCentreCaller
) -> dict[str, Any]:
    """The centre's progress (accepted, responding, resolved) → `sea.handover.<status>`."""
    body = parse_body(HandoverStatusUpdate, caller.body)
    try:
        doc, changed = await _sea(request).update_status(handover_id, caller.platform, body)
    except ExchangeError as exc:
        raise HTTPException(exc.status, detail=exc.reason) from None
    return {"handover_id": handover_id, "status": doc["handover"]["status"], "changed": changed}


@router.post("/reports", status_code=status.HTTP_201_CREATED)
async def direct_report(
    request: Request, response: Response, caller: SeaCentreCaller
) -> dict[str, Any]:
    """A report the centre received directly → `sea.handover.reported_direct` + an Alert."""
    body = parse_body(DirectReport, caller.body)
    try:
        doc, created = await _sea(request).direct_report(caller.platform, body)
    except ExchangeError as exc:
        raise HTTPException(exc.status, detail=exc.reason) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    h = doc["handover"]
    return {
        "handover_id": h["handover_id"],
        "incident_id": h["incident_id"],
        "alert_id": h["alert"]["alert_id"],
        "duplicate": not created,
    }
