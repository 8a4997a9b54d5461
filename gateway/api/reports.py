"""Supervision: the report (JSON, CSV, HTML) and facts supervisors record by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from contracts.common import EventStatus, Identifier
from gateway.api.deps import Caller, require_scope
from gateway.supervision.evidence import Evidence, append
from gateway.supervision.period import PeriodError, parse_period
from gateway.supervision.render import to_csv, to_html
from gateway.supervision.report import build_report
from gateway.supervision.rules import RulesError

router = APIRouter(prefix="/v1/reports", tags=["supervision"])

ManualKind = Literal[
    "unreported_liaison_change", "refused_order", "late_arrival", "missing_feedback",
    "missing_report",
]


class ManualEvidence(BaseModel):
    """A fact a supervisor found (e.g. a liaison number that now belongs to someone else)."""

    model_config = {"extra": "forbid"}

    kind: ManualKind
    unit_id: Identifier
    at: datetime
    note: str = Field(min_length=1, max_length=2000)
    ref: str = Field("", max_length=128, description="call record, directory change id…")
    recorded_by: str = Field(min_length=1, max_length=128)
    status: EventStatus = EventStatus.ACTUAL


@router.get("/supervision")
async def supervision_report(
    request: Request,
    _: Annotated[Caller, Depends(require_scope("reports:read"))],
    start: Annotated[str, Query(alias="from", description="date or ISO datetime")],
    end: Annotated[str, Query(alias="to")],
    unit: Annotated[str | None, Query(max_length=128)] = None,
    format: Annotated[Literal["json", "csv", "html"], Query()] = "json",
) -> Response:
    try:
        s, e = parse_period(start, end)
    except PeriodError as exc:
        raise HTTPException(422, detail=exc.reason) from None
    try:
        report = await build_report(request.app.state.redis, request.app.state.settings, s, e, unit)
    except RulesError as exc:
        raise HTTPException(500, detail="deduction-rules-misconfigured") from exc
    if format == "csv":
        return PlainTextResponse(to_csv(report), media_type="text/csv; charset=utf-8")
    if format == "html":
        return HTMLResponse(to_html(report))
    return JSONResponse(report)


@router.post("/evidence", status_code=201)
async def record_evidence(
    body: ManualEvidence,
    request: Request,
    _: Annotated[Caller, Depends(require_scope("supervision:write"))],
) -> dict[str, Any]:
    if body.at.tzinfo is None:
        raise HTTPException(422, detail="at-needs-timezone")
    directory = request.app.state.directory
    if await directory.get(body.unit_id) is None:
        raise HTTPException(422, detail="unknown-unit")
    entry = await append(
        request.app.state.redis,
        request.app.state.settings,
        Evidence(
            kind=body.kind,
            unit_id=body.unit_id,
            at=body.at,
            status=body.status,
            source="supervisor",
            ref=body.ref,
            detail={"note": body.note, "recorded_by": body.recorded_by},
        ),
    )
    return {"evidence_id": entry, "kind": body.kind, "unit_id": body.unit_id}
