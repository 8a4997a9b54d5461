"""Orders API: issue an order, post feedback, read state and full history."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi import Path as FastApiPath
from pydantic import BaseModel, Field

from contracts.common import Identifier, new_id, utcnow
from contracts.order import FeedbackKind, FeedbackVia, OrderFeedback
from gateway.api.deps import Caller, require_scope
from gateway.orders.outbox import Outbox
from gateway.orders.record import OrderRecord
from gateway.orders.service import IssueRequest, Orders
from gateway.orders.store import OrderError

router = APIRouter(prefix="/v1/orders", tags=["orders"])

_UNPROCESSABLE = {
    "handed-to-unit-required", "unknown-unit", "issued-at-needs-timezone", "issued-at-out-of-range",
    "feedback-before-order",
}


class FeedbackRequest(BaseModel):
    """`POST /v1/orders/{id}/feedback`: feedback typed in by an operator or a unit's system."""

    model_config = {"extra": "forbid"}

    kind: FeedbackKind
    by: str = Field(min_length=1, max_length=128)
    via: FeedbackVia = "api"
    at: datetime | None = Field(None, description="when it happened (default: now)")
    note: str | None = Field(None, max_length=2000)
    handed_to_unit: Identifier | None = None
    feedback_id: Identifier | None = Field(None, description="caller's id: retries are no-ops")


def _orders(request: Request) -> Orders:
    return Orders(request.app.state.redis, request.app.state.settings)


def view(record: OrderRecord) -> dict[str, Any]:
    """The record as the API shows it (liaison mobiles are not exposed)."""
    body = record.model_dump(mode="json", exclude={"tried", "feedback_ids"})
    body["order_id"] = record.order.order_id
    body["code"] = record.order.code
    return body


def _http(exc: OrderError) -> HTTPException:
    code = 422 if exc.reason in _UNPROCESSABLE else exc.status
    return HTTPException(code, detail=exc.reason)


async def _flush(request: Request, ids: list[str]) -> None:
    await Outbox(request.app.state.redis, request.app.state.settings).flush(
        request.app.state.publisher, ids
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def issue_order(
    body: IssueRequest,
    request: Request,
    response: Response,
    _: Annotated[Caller, Depends(require_scope("orders:write"))],
) -> dict[str, Any]:
    """Issue an order to a unit; a repeated `order_id` returns the stored order (200)."""
    try:
        record, created, ids = await _orders(request).issue(body)
    except OrderError as exc:
        raise _http(exc) from None
    await _flush(request, ids)
    if not created:
        response.status_code = status.HTTP_200_OK
    return view(record)


@router.get("/{order_id}")
async def get_order(
    order_id: str,
    request: Request,
    _: Annotated[Caller, Depends(require_scope("orders:read"))],
) -> dict[str, Any]:
    record = await _orders(request).store.get(order_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="order-not-found")
    return view(record)


@router.post("/{order_id}/feedback")
async def post_feedback(
    order_id: Annotated[Identifier, FastApiPath()],
    body: FeedbackRequest,
    request: Request,
    _: Annotated[Caller, Depends(require_scope("orders:write"))],
) -> dict[str, Any]:
    """Apply feedback: 200 applied or duplicate (no second event), 409 impossible."""
    at = body.at or utcnow()
    if at.tzinfo is None:
        raise HTTPException(422, detail="at-needs-timezone")
    fb = OrderFeedback(
        feedback_id=body.feedback_id or new_id(),
        order_id=order_id,
        kind=body.kind,
        by=body.by,
        via=body.via,
        at=at,
        note=body.note,
        handed_to_unit=body.handed_to_unit,
    )
    try:
        decision, record, ids = await _orders(request).feedback(fb, publish=True)
    except OrderError as exc:
        raise _http(exc) from None
    if decision.outcome == "refused":
        code = 422 if decision.reason in _UNPROCESSABLE else 409
        raise HTTPException(code, detail=decision.reason)
    await _flush(request, ids)
    return {
        "outcome": decision.outcome,
        "reason": decision.reason or None,
        "implied": decision.implied,
        "state": record.state.value,
        "order": view(record),
    }


async def on_startup(app: FastAPI) -> list[asyncio.Task[None]]:
    """Publish what a crash or a broker outage left in the outbox."""
    outbox = Outbox(app.state.redis, app.state.settings)
    return [asyncio.create_task(outbox.run_drainer(lambda: app.state.publisher))]
