"""Prometheus metrics of the order loop: what an operator alerts on."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SLA_FIRED = Counter(
    "linkgate_sla_fired_total", "Deadline timers fired", ["milestone", "kind"]
)
FEEDBACK = Counter("linkgate_order_feedback_total", "Order feedback handled", ["kind", "outcome"])
OUTBOX_PENDING = Gauge(
    "linkgate_outbox_pending", "Events committed but not yet confirmed by the broker"
)
OUTBOX_FAILED = Counter("linkgate_outbox_publish_failed_total", "Outbox publishes that failed")
