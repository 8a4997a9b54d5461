"""Duty-line miss evidence for supervision (Lishui: a duty or liaison phone unanswered
three times costs points). Scoring must be reproducible, so each miss is a fact with its
call record; the stream is append-only and shared with the supervision reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from contracts.common import EventStatus
from gateway.settings import Settings

EvidenceSource = Literal["threeway", "dutycheck"]


@dataclass(frozen=True)
class DutyLineMiss:
    """One unanswered call to a unit's duty phone or liaison mobile."""

    unit_id: str
    number: str              # E.164, in full: evidence must say which line
    at: datetime             # when the attempt ended (UTC)
    result: str              # busy | no-answer | unavailable | congestion | rejected | missed
    cause: int | None        # Q.850 cause of the unit leg's Hangup
    source: EvidenceSource
    ref: str                 # three-way request id or duty check id
    status: EventStatus      # actual | exercise | test: drills are never scored as real
    started_at: datetime | None = None
    incident_id: str | None = None
    order_id: str | None = None
    line: str = "duty"       # duty (duty-room phone) | liaison (liaison's mobile)

    def fields(self) -> dict[FieldT, EncodableT]:
        return {
            "kind": "duty_line_miss",
            "unit_id": self.unit_id,
            "number": self.number,
            "line": self.line,
            "at": self.at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else "",
            "cause": "" if self.cause is None else str(self.cause),
            "result": self.result,
            "source": self.source,
            "ref": self.ref,
            "incident_id": self.incident_id or "",
            "order_id": self.order_id or "",
            "status": self.status.value,
        }


async def append_miss(redis: Redis, settings: Settings, miss: DutyLineMiss) -> str:
    """Append one miss to the evidence stream; returns the stream entry id."""
    entry_id = await redis.xadd(settings.key("evidence"), miss.fields())
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
