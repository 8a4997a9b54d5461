"""Every Prometheus metric of the gateway, defined once so all processes share the names.

Capabilities import the objects (or the small helpers) from here; the bus counters stay in
`bus.metrics` and are re-exported. All live in the default registry, which `/metrics` on the
API and the per-process metrics port (`LINKGATE_METRICS_PORT`) both expose.

Drills must never be counted with real incidents, so message counters carry `status`
(`actual` | `exercise` | `test`, the CloudEvents extension).
"""

from __future__ import annotations

import time

import structlog
from prometheus_client import Counter, Enum, Gauge, Histogram, start_http_server

from bus.metrics import CONSUMED, DUPLICATES, PUBLISHED, SPOOLED
from gateway.settings import Settings

log = structlog.get_logger(__name__)

__all__ = [
    "AMI_LINK_STATE",
    "AMI_LINK_UP",
    "BUS_EVENTS_OBSERVED",
    "CIRCUIT_OPEN",
    "CONSUMED",
    "DELIVERY_RETRIES",
    "DLQ_DEPTH",
    "DUPLICATES",
    "MESSAGES_IN",
    "MESSAGES_OUT",
    "OPEN_ORDERS",
    "OPS_REFRESH_ERRORS",
    "OPS_SOURCE_UP",
    "PUBLISHED",
    "QUEUE_DEPTH",
    "RECEIVED_TO_ROUTED_SECONDS",
    "ROUTED_TO_DELIVERED_SECONDS",
    "SLA_BREACHES",
    "SPOOLED",
    "SPOOL_DEPTH",
    "WEBHOOK_TO_PUBLISHED_SECONDS",
    "observe_delivered",
    "observe_received",
    "start_metrics_server",
]

# Latency buckets in seconds: webhooks answer in milliseconds, deliveries may take seconds.
_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

# --- traffic (incremented by the adapters / delivery code)
MESSAGES_IN = Counter(
    "linkgate_messages_in_total",
    "Messages accepted from a peer (webhook, AMI, platform), by adapter",
    ["adapter", "status"],
)
MESSAGES_OUT = Counter(
    "linkgate_messages_out_total",
    "Deliveries to a destination or unit, by adapter, destination and outcome",
    ["adapter", "destination", "outcome"],
)
DELIVERY_RETRIES = Counter(
    "linkgate_delivery_retries_total",
    "Delivery attempts that failed and will be retried (bus retries: linkgate_consumed_total)",
    ["destination"],
)
CIRCUIT_OPEN = Gauge(
    "linkgate_circuit_open",
    "1 while a destination's circuit breaker is open or half-open (deliveries held), else 0",
    ["destination"],
)
WEBHOOK_TO_PUBLISHED_SECONDS = Histogram(
    "linkgate_webhook_to_published_seconds",
    "From a webhook request's arrival to the broker's confirm (or the spool commit)",
    ["adapter"],
    buckets=_FAST,
)
ROUTED_TO_DELIVERED_SECONDS = Histogram(
    "linkgate_routed_to_delivered_seconds",
    "From the routing decision (alert.routed event time) to the destination's acceptance",
    ["destination"],
    buckets=_SLOW,
)

# --- observed on the bus by the API's board feed (one observer per API worker)
BUS_EVENTS_OBSERVED = Counter(
    "linkgate_bus_events_observed_total",
    "Events seen by the board feed, by routing key family and status",
    ["family", "detail", "status"],
)
RECEIVED_TO_ROUTED_SECONDS = Histogram(
    "linkgate_received_to_routed_seconds",
    "From alert.received event time to its alert.routed event time (seen by the board feed)",
    ["destination"],
    buckets=_SLOW,
)
SLA_BREACHES = Counter(
    "linkgate_sla_breaches_total",
    "order.sla.breached events seen on the bus, by milestone and status",
    ["milestone", "status"],
)

# --- state gauges (refreshed periodically by the ops collector)
QUEUE_DEPTH = Gauge("linkgate_queue_depth", "Messages ready + unacked in a work queue", ["queue"])
DLQ_DEPTH = Gauge("linkgate_dlq_depth", "Messages waiting in a dead-letter queue", ["queue"])
OPEN_ORDERS = Gauge("linkgate_open_orders", "Orders not yet completed, cancelled or closed")
SPOOL_DEPTH = Gauge("linkgate_spool_depth", "Events in this host's local spool (broker was down)")
OPS_REFRESH_ERRORS = Counter(
    "linkgate_ops_refresh_errors_total",
    "Failures refreshing a gauge (its value is then stale: alert on this)",
    ["source"],
)
OPS_SOURCE_UP = Gauge(
    "linkgate_ops_source_up",
    "1 if the last refresh from a source (rabbitmq-mgmt, orders-store, spool) worked",
    ["source"],
)

# --- AMI link (set by the `linkgate ami` process: see gateway.observability.ami_link)
AMI_LINK_UP = Gauge("linkgate_ami_link_up", "1 while the AMI link is logged in, else 0")
AMI_LINK_STATE = Enum(
    "linkgate_ami_link_state",
    "State of the AMI client",
    states=["idle", "connecting", "connected", "backoff", "stopped"],
)


def observe_received(adapter: str, started: float, status: str = "actual") -> None:
    """Count an accepted message and its webhook→published latency (`started`: perf_counter)."""
    MESSAGES_IN.labels(adapter, status).inc()
    WEBHOOK_TO_PUBLISHED_SECONDS.labels(adapter).observe(max(time.perf_counter() - started, 0.0))


def observe_delivered(
    adapter: str, destination: str, outcome: str, routed_at_epoch: float | None = None
) -> None:
    """Count a delivery; with the routed event's time, observe routed→delivered latency."""
    MESSAGES_OUT.labels(adapter, destination, outcome).inc()
    if routed_at_epoch is not None and outcome == "ok":
        ROUTED_TO_DELIVERED_SECONDS.labels(destination).observe(
            max(time.time() - routed_at_epoch, 0.0)
        )


_started_port: int | None = None


def start_metrics_server(settings: Settings) -> int | None:
    """Serve the default registry on `metrics_host:metrics_port` (0 = off); once per process.

    Returns the port serving, or None. A port already taken is logged loudly, not fatal:
    the process's real work matters more than its metrics.
    """
    global _started_port
    if settings.metrics_port == 0:
        return None
    if _started_port is not None:
        return _started_port
    try:
        start_http_server(settings.metrics_port, addr=settings.metrics_host)
    except OSError as exc:
        log.error(
            "metrics.port_unavailable",
            host=settings.metrics_host,
            port=settings.metrics_port,
            error=repr(exc),
        )
        return None
    _started_port = settings.metrics_port
    log.info("metrics.serving", host=settings.metrics_host, port=settings.metrics_port)
    return _started_port
