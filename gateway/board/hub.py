"""The board's state, built from bus events, and the fan-out to SSE clients.

State is a bounded view (recent alerts, open orders, recent breaches); the record keeper is
the command centre's system and the orders store, not the board. Each update goes to every
subscriber's bounded queue; a client too slow to keep up is dropped (it reconnects and gets
a fresh snapshot) rather than slowing the feed for everyone.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import BaseModel

from contracts.alert import Alert, RoutedAlert
from contracts.envelope import CloudEvent
from contracts.order import Order, OrderFeedback, SlaEvent
from gateway.logging import mask_phone
from gateway.observability import metrics

log = structlog.get_logger(__name__)

Update = dict[str, Any]

# feedback kind -> order state; orders in CLOSED leave the board (as in gateway.orders.record)
_FEEDBACK_STATE = {
    "delivered": "delivered",
    "acknowledged": "acknowledged",
    "arrived": "arrived",
    "completed": "completed",
    "report": "reported",
    "handed_over": "handed_over",
    "refused": "refused",
    "escalated": "escalated",
    "cancelled": "cancelled",
}
CLOSED = {"reported", "escalated", "refused", "cancelled"}
_RANK = {"issued": 0, "delivered": 1, "acknowledged": 2, "arrived": 3, "completed": 4}
_TEXT_MAX = 200


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


class BoardHub:
    """Recent alerts (with where each was routed), open orders, breaches; and subscribers."""

    def __init__(self, max_alerts: int = 100, max_breaches: int = 50, queue_size: int = 500):
        self._max_alerts = max_alerts
        self._queue_size = queue_size
        self.alerts: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.orders: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, str] = {}
        self.breaches: deque[dict[str, Any]] = deque(maxlen=max_breaches)
        self.feed: dict[str, Any] = {"state": "connecting", "since": _iso(datetime.now(UTC))}
        self.tapped: list[str] = []  # exact routing keys the feed is bound to
        self._subscribers: set[asyncio.Queue[Update | None]] = set()

    # --- subscribers
    def subscribe(self) -> asyncio.Queue[Update | None]:
        queue: asyncio.Queue[Update | None] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Update | None]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _broadcast(self, update: Update) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(update)
            except asyncio.QueueFull:  # too slow: drop it; None tells its stream to end
                self._subscribers.discard(queue)
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(None)
                log.warning("board.slow_client_dropped")

    # --- state
    def snapshot(self) -> dict[str, Any]:
        """Everything a freshly connected page needs, newest alerts first."""
        return {
            "now": _iso(datetime.now(UTC)),
            "feed": dict(self.feed),
            "tapped": list(self.tapped),
            "alerts": list(reversed(self.alerts.values())),
            "orders": sorted(self.orders.values(), key=lambda o: o.get("due") or "~"),
            "breaches": list(reversed(self.breaches)),
        }

    def set_feed(self, state: str, detail: str = "") -> None:
        """The bus feed's link state: the page shows a banner unless it is "up"."""
        if self.feed.get("state") == state and self.feed.get("detail", "") == detail:
            return
        self.feed = {"state": state, "since": _iso(datetime.now(UTC)), "detail": detail}
        self._broadcast({"kind": "feed", "item": dict(self.feed)})

    def load_orders(self, orders: list[dict[str, Any]]) -> None:
        """Seed open orders from the orders store (bus events keep them current after)."""
        for order in orders:
            self.orders[order["order_id"]] = order
            if order.get("code"):
                self._codes[order["code"]] = order["order_id"]

    def apply(self, routing_key: str, event: CloudEvent, model: BaseModel) -> Update | None:
        """Fold one bus event into the state; broadcast and return the resulting update."""
        family = ".".join(routing_key.split(".")[:2])
        detail = routing_key.split(".", 2)[2] if routing_key.count(".") >= 2 else ""
        metrics.BUS_EVENTS_OBSERVED.labels(family, detail, event.status.value).inc()
        update: Update | None = None
        if isinstance(model, Alert):
            update = self._alert_received(event, model)
        elif isinstance(model, RoutedAlert):
            update = self._alert_routed(event, model)
        elif isinstance(model, Order):
            update = self._order_issued(event, model)
        elif isinstance(model, OrderFeedback):
            update = self._order_feedback(model)
        elif isinstance(model, SlaEvent):
            update = self._sla(event, model)
        if update is not None:
            self._broadcast(update)
        return update

    def _alert_entry(self, event: CloudEvent, alert: Alert) -> dict[str, Any]:
        entry = self.alerts.get(alert.alert_id)
        if entry is None:
            entry = {
                "alert_id": alert.alert_id,
                "incident_id": alert.incident_id,
                "channel": alert.channel,
                "text": mask_phone(alert.text[:_TEXT_MAX]),
                "caller": mask_phone(alert.caller) if alert.caller else None,
                "received_at": _iso(alert.received_at),
                "status": event.status.value,
                "trace": event.traceparent,
            }
            self.alerts[alert.alert_id] = entry
            while len(self.alerts) > self._max_alerts:
                self.alerts.popitem(last=False)
        return entry

    def _alert_received(self, event: CloudEvent, alert: Alert) -> Update:
        entry = self._alert_entry(event, alert)
        entry.setdefault("received_event_time", event.time.timestamp())
        return {"kind": "alert", "item": entry}

    def _alert_routed(self, event: CloudEvent, routed: RoutedAlert) -> Update:
        entry = self._alert_entry(event, routed.alert)
        decision = routed.decision
        entry.update(
            destination=decision.destination,
            category=decision.category,
            rule=decision.rule,
            emergency=decision.emergency,
            routed_at=_iso(event.time),
        )
        received = entry.get("received_event_time")
        if isinstance(received, float):
            metrics.RECEIVED_TO_ROUTED_SECONDS.labels(decision.destination).observe(
                max(event.time.timestamp() - received, 0.0)
            )
        return {"kind": "alert", "item": entry}

    def _order_issued(self, event: CloudEvent, order: Order) -> Update:
        d = order.deadlines
        entry = {
            "order_id": order.order_id,
            "code": order.code,
            "incident_id": order.incident_id,
            "unit_id": order.unit_id,
            "tier": str(order.tier),
            "emergency": order.emergency,
            "state": "issued",
            "issued_at": _iso(order.issued_at),
            "deadlines": {
                "acknowledge": _iso(d.acknowledge_by),
                "arrive": _iso(d.arrive_by),
                "report": _iso(d.report_by),
            },
            "breached": [],
            "status": event.status.value,
        }
        _set_due(entry)
        self.orders[order.order_id] = entry
        self._codes[order.code] = order.order_id
        return {"kind": "order", "item": entry}

    def _order_feedback(self, feedback: OrderFeedback) -> Update | None:
        order_id = feedback.order_id or self._codes.get(feedback.order_code or "")
        entry = self.orders.get(order_id or "")
        state = _FEEDBACK_STATE.get(feedback.kind)
        if entry is None or state is None:
            return None
        entry["state"] = state
        _set_due(entry)
        if state in CLOSED:
            del self.orders[entry["order_id"]]
            return {"kind": "order_closed", "item": entry}
        return {"kind": "order", "item": entry}

    def _sla(self, event: CloudEvent, sla: SlaEvent) -> Update:
        entry = self.orders.get(sla.order_id)
        if sla.kind == "breached":
            metrics.SLA_BREACHES.labels(sla.milestone, event.status.value).inc()
            breach = {
                "order_id": sla.order_id,
                "unit_id": sla.unit_id,
                "incident_id": sla.incident_id,
                "milestone": sla.milestone,
                "deadline": _iso(sla.deadline),
                "at": _iso(sla.at),
                "status": event.status.value,
                "code": sla.order_code or (entry.get("code") if entry else None),
            }
            self.breaches.append(breach)
            if entry is not None and sla.milestone not in entry["breached"]:
                entry["breached"].append(sla.milestone)
                self._broadcast({"kind": "order", "item": entry})
            return {"kind": "breach", "item": breach}
        if entry is not None:
            entry["warned"] = sla.milestone
            return {"kind": "order", "item": entry}
        return {"kind": "warning", "item": {"order_id": sla.order_id, "milestone": sla.milestone}}


def _set_due(entry: dict[str, Any]) -> None:
    """The next deadline the unit must meet, given how far the order has got."""
    deadlines = entry["deadlines"]
    rank = _RANK.get(entry["state"], 4)  # handed over: only the written report is awaited
    if rank < 2 and deadlines.get("acknowledge"):
        entry["milestone"], entry["due"] = "acknowledge", deadlines["acknowledge"]
    elif rank < 3 and deadlines.get("arrive"):
        entry["milestone"], entry["due"] = "arrive", deadlines["arrive"]
    elif deadlines.get("report"):
        entry["milestone"], entry["due"] = "report", deadlines["report"]
    else:
        entry["milestone"], entry["due"] = None, None
