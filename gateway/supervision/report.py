"""The supervision report: per unit, orders and how fast they were answered, duty checks,
and deduction items with the points rule applied. Everything is computed from the order
records and the evidence stream, so the same inputs always give the same scores.
Drills (status exercise/test) never count.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from contracts.common import EventStatus, utcnow
from contracts.order import OrderState
from gateway.directory.store import DirectoryStore
from gateway.orders.record import OrderRecord
from gateway.orders.store import OrderStore
from gateway.settings import Settings
from gateway.supervision.evidence import read_all
from gateway.supervision.rules import DUTY_MISSES_PER_ITEM, Rule, rules

DIRECT_KINDS = (
    "late_arrival",
    "missing_feedback",
    "missing_report",
    "refused_order",
    "unreported_liaison_change",
)
_NOT_SCORED = {OrderState.CANCELLED, OrderState.ESCALATED}


@dataclass
class Milestone:
    """How one milestone went across a unit's orders."""

    due: int = 0
    done: int = 0
    on_time: int = 0
    minutes: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "done": self.done,
            "on_time": self.on_time,
            "on_time_rate": round(self.on_time / self.due, 4) if self.due else None,
            "median_minutes": round(statistics.median(self.minutes), 1) if self.minutes else None,
        }


@dataclass
class UnitStats:
    unit_id: str
    name: str = ""
    tier: int | None = None
    orders: int = 0
    states: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    acknowledged: Milestone = field(default_factory=Milestone)
    arrived: Milestone = field(default_factory=Milestone)
    completed: Milestone = field(default_factory=Milestone)
    reports: Milestone = field(default_factory=Milestone)
    duty_answered: int = 0
    duty_missed: int = 0
    duty_line_misses: int = 0
    deductions: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "name": self.name,
            "tier": self.tier,
            "orders": self.orders,
            "states": dict(sorted(self.states.items())),
            "acknowledged": self.acknowledged.as_dict(),
            "arrived": self.arrived.as_dict(),
            "completed": self.completed.as_dict(),
            "reports": self.reports.as_dict(),
            "duty_checks": {
                "answered": self.duty_answered,
                "missed": self.duty_missed,
                "line_misses": self.duty_line_misses,
            },
            "deductions": self.deductions,
            "deduction_items": len(self.deductions),
            "deduction_points": round(sum(d["points"] for d in self.deductions), 2),
        }


def _minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def _score_order(stats: UnitStats, rec: OrderRecord, now: datetime) -> None:
    """Add one order's milestones to its unit (cancelled/escalated ones are not scored;
    a milestone neither reached nor yet due is left out of its rate)."""
    stats.orders += 1
    stats.states[rec.state.value] += 1
    if rec.state in _NOT_SCORED:
        return
    o = rec.order
    m = rec.milestones
    arrived = m.get("arrived")  # a hand-over implies arrival (recorded as implied)
    for bucket, done, deadline in (
        (stats.acknowledged, m.get("acknowledged"), o.deadlines.acknowledge_by),
        (stats.arrived, arrived, o.deadlines.arrive_by),
        (stats.reports, m.get("report"), o.deadlines.report_by),
    ):
        if deadline is None or (done is None and deadline > now):
            continue
        bucket.due += 1
        if done is not None:
            bucket.done += 1
            bucket.minutes.append(_minutes(o.issued_at, done))
            if done <= deadline:
                bucket.on_time += 1
    if rec.state != OrderState.HANDED_OVER:
        stats.completed.due += 1
        done = m.get("completed")
        if done is not None:
            stats.completed.done += 1
            stats.completed.minutes.append(_minutes(o.issued_at, done))
            # "on time" for completion: reported at once after an on-time arrival
            arrive_by = o.deadlines.arrive_by
            if arrive_by is None or (arrived is not None and arrived <= arrive_by):
                stats.completed.on_time += 1


def _in_range(row: dict[str, str], start: datetime, end: datetime) -> bool:
    try:
        at = datetime.fromisoformat(row.get("at", ""))
    except ValueError:
        return False
    return at.tzinfo is not None and start <= at < end


def _item(rule: Rule, row: dict[str, str], **extra: Any) -> dict[str, Any]:
    detail = row.get("detail") or "{}"
    try:
        parsed = json.loads(detail)
    except ValueError:
        parsed = {"raw": detail}
    return {
        "kind": rule.kind,
        "label": rule.label,
        "item": rule.item,
        "points": rule.points,
        "at": row.get("at"),
        "ref": row.get("ref") or row.get("order_id") or "",
        "order_id": row.get("order_id") or None,
        "evidence_id": row.get("id"),
        "detail": parsed,
    } | extra


async def build_report(
    redis: Redis,
    settings: Settings,
    start: datetime,
    end: datetime,
    unit: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The report for [start, end) (timezone-aware), all units or one, as of `now`."""
    now = now or utcnow()
    table = rules(settings)
    directory = {u.id: u for u in await DirectoryStore(redis, settings).all()}
    units: dict[str, UnitStats] = {}

    def stats_for(unit_id: str) -> UnitStats:
        if unit_id not in units:
            u = directory.get(unit_id)
            units[unit_id] = UnitStats(unit_id, u.name if u else "", u.tier if u else None)
        return units[unit_id]

    if unit is not None:
        stats_for(unit)
    for rec in await OrderStore(redis, settings).issued_between(start, end):
        if rec.status != EventStatus.ACTUAL or (unit and rec.order.unit_id != unit):
            continue
        _score_order(stats_for(rec.order.unit_id), rec, now)

    misses: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in await read_all(redis, settings):
        uid = row.get("unit_id", "")
        if row.get("status", "actual") != "actual" or not uid or (unit and uid != unit):
            continue
        if not _in_range(row, start, end):
            continue
        kind = row.get("kind", "")
        if kind in DIRECT_KINDS:
            stats_for(uid).deductions.append(_item(table[kind], row))
        elif kind == "duty_line_miss":
            stats_for(uid).duty_line_misses += 1
            misses[(uid, row.get("number", ""))].append(row)
        elif kind == "duty_check":
            detail = json.loads(row.get("detail") or "{}")
            s = stats_for(uid)
            if detail.get("outcome") == "answered":
                s.duty_answered += 1
            else:
                s.duty_missed += 1
    rule = table["duty_line_unanswered"]
    for (uid, number), rows in sorted(misses.items()):
        rows.sort(key=lambda r: r.get("at", ""))
        for i in range(len(rows) // DUTY_MISSES_PER_ITEM):
            group = rows[i * DUTY_MISSES_PER_ITEM : (i + 1) * DUTY_MISSES_PER_ITEM]
            stats_for(uid).deductions.append(
                _item(rule, group[-1], ref=number, evidence_ids=[r.get("id") for r in group],
                      detail={"number": number, "misses": [r.get("at") for r in group]})
            )
    for s in units.values():
        s.deductions.sort(key=lambda d: d.get("at") or "")
    rows_out = [units[k].as_dict() for k in sorted(units)]
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "unit": unit,
        "generated_at": now.isoformat(),
        "rules": [
            {"kind": r.kind, "points": r.points, "item": r.item, "label": r.label}
            for r in table.values()
        ],
        "units": rows_out,
        "totals": {
            "orders": sum(u["orders"] for u in rows_out),
            "deduction_items": sum(u["deduction_items"] for u in rows_out),
            "deduction_points": round(sum(u["deduction_points"] for u in rows_out), 2),
        },
    }
