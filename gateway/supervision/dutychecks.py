"""Duty-check answers for the supervision report.

The calls colleague appends each unanswered call to the evidence stream (`duty_line_miss`)
and publishes every check as `dutycheck.result.<outcome>`. A report also needs the answered
ones (answer rate), so every result is appended as a `duty_check` record (not a deduction
item by itself: the deduction is "unanswered three times", counted from the misses).
"""

from __future__ import annotations

from pydantic import BaseModel
from redis.asyncio import Redis

from bus.consumer import ConsumerSpec
from contracts.dutycheck import DutyCheckResult
from contracts.envelope import CloudEvent
from gateway.settings import Settings
from gateway.supervision.evidence import Evidence, append


def dutycheck_spec(redis: Redis, settings: Settings) -> ConsumerSpec:
    async def handle(event: CloudEvent, model: BaseModel) -> None:
        assert isinstance(model, DutyCheckResult)
        await append(
            redis,
            settings,
            Evidence(
                kind="duty_check",
                unit_id=model.unit_id,
                at=model.ended_at,
                status=event.status,
                source="dutycheck",
                ref=model.check_id,
                detail={"outcome": model.outcome, "number": model.number,
                        "flagged": model.flagged, "batch_id": model.batch_id},
            ),
        )

    return ConsumerSpec("supervision.dutycheck", ["dutycheck.result.#"], handle)
