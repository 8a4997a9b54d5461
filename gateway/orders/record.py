"""What the gateway keeps about one order: the order, its state, milestones and history."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from contracts.common import EventStatus
from contracts.order import Order, OrderState

Milestone = str  # "acknowledge" | "arrive" | "report"

PROGRESS_RANK: dict[OrderState, int] = {
    OrderState.ISSUED: 0,
    OrderState.DELIVERED: 1,
    OrderState.ACKNOWLEDGED: 2,
    OrderState.ARRIVED: 3,
    OrderState.COMPLETED: 4,
    OrderState.REPORTED: 5,
}
CLOSED: frozenset[OrderState] = frozenset(
    {OrderState.REPORTED, OrderState.ESCALATED, OrderState.REFUSED, OrderState.CANCELLED}
)


class HistoryEntry(BaseModel):
    """One thing that happened to the order, in the order it was recorded."""

    kind: str
    at: datetime
    recorded_at: datetime
    by: str | None = None
    via: str | None = None
    note: str | None = None
    feedback_id: str | None = None
    implied: bool = False
    state: OrderState | None = None
    detail: dict[str, object] = Field(default_factory=dict)


class OrderRecord(BaseModel):
    """The stored order (one Redis string, replaced atomically on every change)."""

    order: Order
    status: EventStatus = EventStatus.ACTUAL
    state: OrderState = OrderState.ISSUED
    version: int = 1
    milestones: dict[str, datetime] = Field(default_factory=dict)
    feedback_ids: list[str] = Field(default_factory=list)
    fired: list[str] = Field(default_factory=list)
    tried: list[str] = Field(default_factory=list, description="liaison mobiles sent to")
    handed_to_unit: str | None = None
    reinforcements: int = 0
    history: list[HistoryEntry] = Field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.state in CLOSED

    def deadline(self, milestone: Milestone) -> datetime | None:
        d = self.order.deadlines
        return {"acknowledge": d.acknowledge_by, "arrive": d.arrive_by, "report": d.report_by}[
            milestone
        ]

    def pending_milestones(self) -> set[Milestone]:
        """Milestones still awaited (their timers stay armed)."""
        if self.closed:
            return set()
        out: set[Milestone] = {"report"}
        if self.state == OrderState.HANDED_OVER:
            return out
        rank = PROGRESS_RANK.get(self.state, 0)
        if rank < 2:
            out.add("acknowledge")
        if rank < 3 and self.order.deadlines.arrive_by is not None:
            out.add("arrive")
        return out
