"""The gateway: API, routing, order lifecycle and SLA, supervision, CLI and processes."""
