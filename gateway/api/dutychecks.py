"""Duty-line spot checks (监督检查): plan a batch, read its results and the flagged units.

Planning happens here (a random moment in the window per unit, stored whole in Redis);
`linkgate ami` calls each line when it is due and publishes `dutycheck.result.<outcome>`.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from redis.asyncio import Redis

from contracts.common import EventStatus, Identifier, utcnow
from gateway.api.deps import Caller, get_directory, get_redis, get_settings, require_scope
from gateway.calls.dutycheck import LOCAL_TZ, plan_and_store
from gateway.calls.dutycheck_store import DutyCheckStore
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

router = APIRouter(prefix="/v1/dutychecks", tags=["dutychecks"])


class DutyCheckRequest(BaseModel):
    """Which units to check (exactly one of `units`, `tier`, `all`) and when."""

    model_config = ConfigDict(extra="forbid")
    units: list[Identifier] | None = Field(None, min_length=1, max_length=1000)
    tier: Literal[1, 2, 3] | None = None
    all: bool = False
    start_at: AwareDatetime | None = Field(None, description="window start; default now")
    window_minutes: int | None = Field(None, ge=0, le=24 * 60)
    status: EventStatus = EventStatus.ACTUAL

    @model_validator(mode="after")
    def _one_scope(self) -> DutyCheckRequest:
        chosen = sum([self.units is not None, self.tier is not None, self.all])
        if chosen != 1:
            raise ValueError("give exactly one of units, tier, all")
        return self


class PlannedView(BaseModel):
    check_id: str
    unit_id: str
    due_at: datetime


class BatchAccepted(BaseModel):
    batch_id: str
    count: int
    checks: list[PlannedView]
    status_url: str


def get_rng(request: Request) -> random.Random:
    """The planner's randomness; tests put a seeded one in `app.state.dutycheck_rng`."""
    rng: random.Random | None = getattr(request.app.state, "dutycheck_rng", None)
    return rng or random.SystemRandom()


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def plan_checks(
    body: DutyCheckRequest,
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
    directory: Annotated[DirectoryStore, Depends(get_directory)],
    rng: Annotated[random.Random, Depends(get_rng)],
    _: Annotated[Caller, Depends(require_scope("dutychecks:write"))],
) -> BatchAccepted:
    if body.units is not None:
        found = [await directory.get(unit_id) for unit_id in dict.fromkeys(body.units)]
        missing = [u for u, unit in zip(dict.fromkeys(body.units), found, strict=True) if not unit]
        if missing:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, detail={"reason": "unknown-unit", "unit_ids": missing}
            )
        units = [unit for unit in found if unit is not None]
        scope = "units:" + ",".join(u.id for u in units)
    else:
        units = [u for u in await directory.all() if body.all or u.tier == body.tier]
        scope = "all" if body.all else f"tier:{body.tier}"
    if not units:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="no-units-selected")
    window = (
        settings.dutycheck_window_minutes if body.window_minutes is None else body.window_minutes
    )
    batch_id, checks = await plan_and_store(
        DutyCheckStore(redis, settings),
        units,
        start=body.start_at or utcnow(),
        window_minutes=window,
        status=body.status,
        scope=scope[:1000],
        rng=rng,
    )
    return BatchAccepted(
        batch_id=batch_id,
        count=len(checks),
        checks=[
            PlannedView(check_id=c.check_id, unit_id=c.unit_id, due_at=c.due_at) for c in checks
        ],
        status_url=f"/v1/dutychecks/{batch_id}",
    )


@router.get("/flags")
async def flagged_units(
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
    _: Annotated[Caller, Depends(require_scope("dutychecks:read"))],
    period: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
    status_: Annotated[EventStatus, Query(alias="status")] = EventStatus.ACTUAL,
) -> dict[str, Any]:
    """Units whose line went unanswered `dutycheck_miss_threshold` times in the month."""
    period = period or utcnow().astimezone(LOCAL_TZ).strftime("%Y-%m")
    flagged = await DutyCheckStore(redis, settings).flagged(status_, period)
    return {"period": period, "status": status_.value, "flagged": flagged}


@router.get("/{batch_id}")
async def get_batch(
    batch_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:@/+\-]{1,128}$")],
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
    _: Annotated[Caller, Depends(require_scope("dutychecks:read"))],
) -> dict[str, Any]:
    view = await DutyCheckStore(redis, settings).batch(batch_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown-batch")
    return view
