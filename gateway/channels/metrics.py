"""Prometheus counters of the channels (exposed by each process's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

INBOUND = Counter(
    "linkgate_channel_inbound_total",
    "Inbound peer messages by outcome (citizen, feedback, unparsed, duplicate, refused, …)",
    ["channel", "outcome"],
)
OUTBOUND = Counter(
    "linkgate_channel_outbound_total",
    "Order messages handed to a provider, by outcome (sent, retry, failed, rate_limited)",
    ["channel", "outcome"],
)
RECEIPTS = Counter(
    "linkgate_channel_receipts_total",
    "Delivery receipts by status and whether applied",
    ["status", "applied"],
)
