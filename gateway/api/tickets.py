"""12345 platform endpoints (HMAC-signed, see gateway/exchanges/auth.py):
`POST /v1/tickets` (an emergency transferred to 110) and `POST /v1/tickets/{id}/status`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from gateway.exchanges.auth import PlatformCaller, parse_body, require_platform
from gateway.exchanges.hotline import (
    ExchangeError,
    Hotline,
    InboundTicket,
    TicketStatusUpdate,
)

router = APIRouter(prefix="/v1/tickets", tags=["12345"])

Hotline12345 = Annotated[PlatformCaller, Depends(require_platform("12345"))]


def _hotline(request: Request) -> Hotline:
    app = request.app
    return Hotline(app.state.redis, app.state.settings, lambda: app.state.publisher)


@router.post("", status_code=status.HTTP_201_CREATED)
async def receive_ticket(
    request: Request, response: Response, caller: Hotline12345
) -> dict[str, Any]:
    """An emergency from 12345: 201 with our incident id; a repeat answers 200, same ids."""
    body = parse_body(InboundTicket, caller.body)
    try:
        doc, created = await _hotline(request).receive(body)
    except ExchangeError as exc:
        raise HTTPException(exc.status, detail=exc.reason) from None
    if not created:
        response.status_code = status.HTTP_200_OK
    t = doc["transfer"]
    return {
        "ticket_id": t["ticket_id"],
        "incident_id": t["incident_id"],
        "alert_id": t["alert"]["alert_id"],
        "status": t["status"],
        "duplicate": not created,
    }


@router.post("/{ticket_id}/status")
async def ticket_status(ticket_id: str, request: Request, caller: Hotline12345) -> dict[str, Any]:
    """Status of a ticket we transferred: accepted, in_progress, closed (with result)."""
    body = parse_body(TicketStatusUpdate, caller.body)
    try:
        doc, changed = await _hotline(request).update_status(ticket_id, body)
    except ExchangeError as exc:
        raise HTTPException(exc.status, detail=exc.reason) from None
    return {"ticket_id": ticket_id, "status": doc["transfer"]["status"], "changed": changed}
