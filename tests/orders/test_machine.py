"""The state machine on its own: every rule, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.order import Order, OrderFeedback, OrderState
from gateway.orders.machine import decide
from gateway.orders.record import OrderRecord

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def rec(state: OrderState) -> OrderRecord:
    order = Order(
        order_id="O1", code="KMNPR", incident_id="I1", unit_id="u1", tier=1,
        instructions="x", issued_at=T0, issued_by="cc",
    )
    return OrderRecord(order=order, state=state)


def fb(kind: str, fid: str = "F1", **kw: object) -> OrderFeedback:
    return OrderFeedback(feedback_id=fid, order_id="O1", kind=kind, by="u", via="api", at=T0, **kw)


@pytest.mark.parametrize(
    ("state", "kind", "outcome", "new_state", "implied"),
    [
        (OrderState.ISSUED, "acknowledged", "applied", OrderState.ACKNOWLEDGED, ["delivered"]),
        (OrderState.ISSUED, "arrived", "applied", OrderState.ARRIVED, ["delivered", "acknowledged"]),
        (OrderState.DELIVERED, "delivered", "duplicate", None, []),
        (OrderState.ACKNOWLEDGED, "delivered", "duplicate", None, []),
        (OrderState.ARRIVED, "completed", "applied", OrderState.COMPLETED, []),
        (OrderState.COMPLETED, "report", "applied", OrderState.REPORTED, []),
        (OrderState.ISSUED, "report", "applied", OrderState.REPORTED,
         ["delivered", "acknowledged", "arrived", "completed"]),
        (OrderState.CANCELLED, "arrived", "refused", None, []),
        (OrderState.ESCALATED, "completed", "refused", None, []),
        (OrderState.ARRIVED, "refused", "refused", None, []),
        (OrderState.DELIVERED, "refused", "applied", OrderState.REFUSED, []),
        (OrderState.COMPLETED, "cancelled", "refused", None, []),
        (OrderState.ACKNOWLEDGED, "escalated", "applied", OrderState.ESCALATED, []),
        (OrderState.ARRIVED, "reinforcement", "applied", OrderState.ARRIVED, []),
        (OrderState.REPORTED, "reinforcement", "refused", None, []),
        (OrderState.HANDED_OVER, "report", "applied", OrderState.REPORTED, []),
        (OrderState.HANDED_OVER, "arrived", "duplicate", None, []),
        (OrderState.HANDED_OVER, "completed", "refused", None, []),
    ],
)
def test_transitions(
    state: OrderState, kind: str, outcome: str, new_state: OrderState | None, implied: list[str]
) -> None:
    d = decide(rec(state), fb(kind))
    assert d.outcome == outcome, d.reason
    if outcome == "applied":
        assert d.new_state == new_state
        assert d.implied == implied
    if outcome == "refused":
        assert d.reason


def test_hand_over_needs_the_responsible_unit_and_implies_arrival() -> None:
    assert decide(rec(OrderState.ACKNOWLEDGED), fb("handed_over")).reason == "handed-to-unit-required"
    d = decide(rec(OrderState.ACKNOWLEDGED), fb("handed_over", handed_to_unit="u2"))
    assert (d.outcome, d.new_state, d.implied) == ("applied", OrderState.HANDED_OVER, ["arrived"])
    assert decide(rec(OrderState.COMPLETED), fb("handed_over", handed_to_unit="u2")).outcome == "refused"


def test_same_feedback_id_is_a_duplicate_whatever_it_says() -> None:
    r = rec(OrderState.ARRIVED)
    r.feedback_ids.append("F9")
    assert decide(r, fb("completed", fid="F9")).reason == "same-feedback"


def test_feedback_dated_before_the_order_is_refused() -> None:
    from datetime import timedelta

    early = OrderFeedback(
        feedback_id="F2", order_id="O1", kind="arrived", by="u", via="sms",
        at=T0 - timedelta(minutes=6),
    )
    assert decide(rec(OrderState.ISSUED), early).reason == "feedback-before-order"
    skewed = early.model_copy(update={"at": T0 - timedelta(minutes=4)})
    assert decide(rec(OrderState.ISSUED), skewed).outcome == "applied"
