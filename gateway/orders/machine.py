"""The order state machine: pure, no I/O, so every rule is tested on its own.

issued → delivered → acknowledged → arrived → completed → reported, plus
handed_over (first-receiver responsibility), escalated, refused, cancelled, and
reinforcement requests that are recorded without changing the state.

Out-of-order feedback: a later milestone implies the earlier ones (an "arrived" before
any "acknowledged" means the unit acknowledged by acting); they are recorded as implied
at the same time. Feedback for a milestone already passed (a late delivery receipt) is
a duplicate: accepted, nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from contracts.order import OrderFeedback, OrderState
from gateway.orders.record import CLOSED, PROGRESS_RANK, OrderRecord

Outcome = Literal["applied", "duplicate", "refused"]
CLOCK_SKEW = timedelta(minutes=5)  # a channel's clock may be a little behind ours

KIND_TO_STATE: dict[str, OrderState] = {
    "delivered": OrderState.DELIVERED,
    "acknowledged": OrderState.ACKNOWLEDGED,
    "arrived": OrderState.ARRIVED,
    "completed": OrderState.COMPLETED,
    "report": OrderState.REPORTED,
    "handed_over": OrderState.HANDED_OVER,
    "escalated": OrderState.ESCALATED,
    "refused": OrderState.REFUSED,
    "cancelled": OrderState.CANCELLED,
}
STATE_TO_KIND = {v: k for k, v in KIND_TO_STATE.items()}
_BEFORE_ARRIVAL = {
    OrderState.ISSUED,
    OrderState.DELIVERED,
    OrderState.ACKNOWLEDGED,
    OrderState.ARRIVED,
}


@dataclass
class Decision:
    """What a feedback does to an order."""

    outcome: Outcome
    reason: str = ""
    new_state: OrderState | None = None
    implied: list[str] = field(default_factory=list)


def _progress_between(start: OrderState, target: OrderState) -> list[str]:
    lo, hi = PROGRESS_RANK[start], PROGRESS_RANK[target]
    return [STATE_TO_KIND[s] for s, r in PROGRESS_RANK.items() if lo < r < hi]


def decide(record: OrderRecord, fb: OrderFeedback) -> Decision:
    """Decide what `fb` does to `record` (nothing is changed here)."""
    if fb.feedback_id in record.feedback_ids:
        return Decision("duplicate", "same-feedback")
    if fb.at < record.order.issued_at - CLOCK_SKEW:
        return Decision("refused", "feedback-before-order")
    state = record.state
    kind = fb.kind
    if kind == "reinforcement":
        if record.closed:
            return Decision("refused", f"order-{state.value}")
        return Decision("applied", new_state=state)
    target = KIND_TO_STATE[kind]
    if target == state:
        return Decision("duplicate", f"already-{state.value}")
    if target in PROGRESS_RANK:
        return _progress(state, target, kind)
    if kind == "handed_over":
        if not fb.handed_to_unit:
            return Decision("refused", "handed-to-unit-required")
        if state in _BEFORE_ARRIVAL:
            arrived = OrderState.ARRIVED
            implied = _progress_between(state, arrived) + (
                ["arrived"] if state != arrived else []
            )
            return Decision("applied", new_state=target, implied=implied)
        return Decision("refused", f"cannot-hand-over-when-{state.value}")
    if kind == "refused":
        if state in {OrderState.ISSUED, OrderState.DELIVERED, OrderState.ACKNOWLEDGED}:
            return Decision("applied", new_state=target)
        return Decision("refused", f"cannot-refuse-when-{state.value}")
    # escalated / cancelled: the centre's decisions, before the work is done
    if state in _BEFORE_ARRIVAL:
        return Decision("applied", new_state=target)
    verb = "cancel" if kind == "cancelled" else "escalate"
    return Decision("refused", f"cannot-{verb}-when-{state.value}")


def _progress(state: OrderState, target: OrderState, kind: str) -> Decision:
    if state == OrderState.HANDED_OVER:
        if target == OrderState.REPORTED:
            return Decision("applied", new_state=target)
        if PROGRESS_RANK[target] <= PROGRESS_RANK[OrderState.ARRIVED]:
            return Decision("duplicate", "already-past")
        return Decision("refused", "order-handed-over")
    if state in CLOSED and state not in PROGRESS_RANK:
        return Decision("refused", f"order-{state.value}")
    if PROGRESS_RANK[target] < PROGRESS_RANK[state]:
        return Decision("duplicate", "already-past")
    return Decision("applied", new_state=target, implied=_progress_between(state, target))
