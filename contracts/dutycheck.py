"""Duty-line spot check results (监督检查): evidence for supervision scoring."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.common import E164, Identifier, StrictModel, UtcTime

DutyCheckOutcome = Literal["answered", "missed", "busy", "failed"]


class DutyCheckResult(StrictModel):
    """One call to a unit's duty phone and what happened."""

    check_id: Identifier
    batch_id: Identifier | None = None
    unit_id: Identifier
    number: E164
    outcome: DutyCheckOutcome
    cause: int | None = Field(None, ge=0, le=127)
    cause_txt: str | None = Field(None, max_length=128)
    started_at: UtcTime
    ended_at: UtcTime
    ring_seconds: float | None = Field(None, ge=0)
    call_id: str | None = Field(None, max_length=128)
    misses_in_period: int = Field(
        0, ge=0, description="unanswered checks this period, this one included"
    )
    flagged: bool = Field(False, description="three unanswered in the period: a deduction item")
