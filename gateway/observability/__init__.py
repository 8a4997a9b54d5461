"""Operator's view: Prometheus metrics, W3C trace context, queue depths."""
