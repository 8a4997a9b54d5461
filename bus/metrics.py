"""Prometheus counters of the bus (exposed by each process's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

PUBLISHED = Counter(
    "linkgate_published_total", "Events confirmed by the broker", ["routing_key_prefix", "outcome"]
)
CONSUMED = Counter("linkgate_consumed_total", "Deliveries handled", ["queue", "outcome"])
DUPLICATES = Counter("linkgate_duplicates_total", "Deliveries skipped as already done", ["queue"])
SPOOLED = Counter("linkgate_spooled_total", "Events spooled locally while the broker was down")
