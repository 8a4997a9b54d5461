"""Refreshes the state gauges (queue and DLQ depths, open orders, spool depth) periodically.

A source that fails leaves its gauges at the last value and sets `linkgate_ops_source_up`
to 0 (plus an error count): alert on that, because a stale "DLQ empty" is a lie.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from gateway.observability import metrics
from gateway.observability.queues import queue_depths
from gateway.settings import Settings

log = structlog.get_logger(__name__)

CountSource = Callable[[], Awaitable[int] | int]


class Collector:
    """Sets the gauges from the broker, and from optional open-order and spool counters."""

    def __init__(
        self,
        settings: Settings,
        open_orders: CountSource | None = None,
        spool_depth: CountSource | None = None,
    ) -> None:
        self._settings = settings
        self._open_orders = open_orders
        self._spool_depth = spool_depth
        self._queues: set[str] = set()
        self._dlqs: set[str] = set()

    async def refresh_once(self) -> None:
        await self._refresh_queues()
        if self._open_orders is not None:
            await self._refresh_count("orders-store", self._open_orders, metrics.OPEN_ORDERS.set)
        if self._spool_depth is not None:
            await self._refresh_count("spool", self._spool_depth, metrics.SPOOL_DEPTH.set)

    async def _refresh_queues(self) -> None:
        try:
            depths = await queue_depths(self._settings)
        except Exception as exc:
            self._failed("rabbitmq-mgmt", exc)
            return
        queues, dlqs = set(), set()
        for q in depths:
            if q.exclusive or q.name.startswith("amq."):
                continue
            if q.kind == "dlq":
                metrics.DLQ_DEPTH.labels(q.name).set(q.total)
                dlqs.add(q.name)
            elif q.kind == "work":
                metrics.QUEUE_DEPTH.labels(q.name).set(q.total)
                queues.add(q.name)
        for gone in self._dlqs - dlqs:
            metrics.DLQ_DEPTH.remove(gone)
        for gone in self._queues - queues:
            metrics.QUEUE_DEPTH.remove(gone)
        self._queues, self._dlqs = queues, dlqs
        metrics.OPS_SOURCE_UP.labels("rabbitmq-mgmt").set(1)

    async def _refresh_count(
        self, source: str, read: CountSource, apply: Callable[[float], None]
    ) -> None:
        try:
            value = read()
            count = await value if not isinstance(value, int) else value
        except Exception as exc:
            self._failed(source, exc)
            return
        apply(count)
        metrics.OPS_SOURCE_UP.labels(source).set(1)

    def _failed(self, source: str, exc: Exception) -> None:
        metrics.OPS_SOURCE_UP.labels(source).set(0)
        metrics.OPS_REFRESH_ERRORS.labels(source).inc()
        log.error("ops.refresh_failed", source=source, error=repr(exc))

    async def run(self) -> None:
        """Refresh every `ops_refresh_s` until cancelled."""
        while True:
            try:
                await self.refresh_once()
            except Exception as exc:  # never let the collector die silently
                self._failed("collector", exc)
            await asyncio.sleep(self._settings.ops_refresh_s)
