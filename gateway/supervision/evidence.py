"""The evidence stream (`settings.key("evidence")`): one append-only Redis stream of facts.

The calls colleague appends `duty_line_miss` records there; orders append theirs with the
same core fields, so a report reads one place and scoring is reproducible:

    kind        late_arrival | missing_feedback | missing_report | refused_order |
                unreported_liaison_change | duty_line_miss | duty_check
    unit_id     the unit scored
    at          when the fact happened (ISO 8601, UTC)
    status      actual | exercise | test (drills are never scored)
    source      sla | orders | supervisor | threeway | dutycheck
    ref         order id / check id / request id the fact is about
    incident_id, order_id, milestone, deadline, number, result, outcome, detail (JSON)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.typing import EncodableT, FieldT

from contracts.common import EventStatus
from gateway.settings import Settings

EVIDENCE_KINDS = (
    "late_arrival",
    "missing_feedback",
    "missing_report",
    "refused_order",
    "unreported_liaison_change",
    "duty_line_miss",
)


@dataclass(frozen=True)
class Evidence:
    """One fact supervision may score."""

    kind: str
    unit_id: str
    at: datetime
    status: EventStatus
    source: str
    ref: str
    incident_id: str = ""
    order_id: str = ""
    milestone: str = ""
    deadline: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[FieldT, EncodableT]:
        return {
            "kind": self.kind,
            "unit_id": self.unit_id,
            "at": self.at.isoformat(),
            "status": self.status.value,
            "source": self.source,
            "ref": self.ref,
            "incident_id": self.incident_id,
            "order_id": self.order_id,
            "milestone": self.milestone,
            "deadline": self.deadline.isoformat() if self.deadline else "",
            "detail": json.dumps(self.detail, ensure_ascii=False, default=str),
        }


def stream_key(settings: Settings) -> str:
    return settings.key("evidence")


def add_to(pipe: Pipeline, settings: Settings, evidence: Evidence) -> None:
    """Queue an append inside a caller's MULTI (the fact commits with its cause)."""
    pipe.xadd(stream_key(settings), evidence.fields())


async def append(redis: Redis, settings: Settings, evidence: Evidence) -> str:
    entry = await redis.xadd(stream_key(settings), evidence.fields())
    return entry.decode() if isinstance(entry, bytes) else str(entry)


async def read_all(redis: Redis, settings: Settings, batch: int = 5000) -> list[dict[str, str]]:
    """Every record, oldest first, each with its stream `id`."""
    out: list[dict[str, str]] = []
    start = "-"
    while True:
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]],
            await redis.xrange(stream_key(settings), min=start, count=batch),
        )
        for entry_id, raw in entries:
            row = {k.decode(): v.decode() for k, v in raw.items()}
            row["id"] = entry_id.decode()
            out.append(row)
        if len(entries) < batch:
            return out
        start = "(" + entries[-1][0].decode()
