"""Transactional outbox: events are written to Redis in the same MULTI as the state change.

A process may die between committing a change and publishing its events; the outbox
keeps them, and any process running a drainer (API, sla) publishes them later. An event
keeps its id, so a second publish is absorbed by consumers' idempotency by message id.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from bus.errors import PublishError
from bus.publisher import Publisher
from contracts.envelope import CloudEvent
from gateway.orders import metrics
from gateway.settings import Settings

log = structlog.get_logger(__name__)


class Outbox:
    """Redis hash event id → {"t": epoch added, "event": CloudEvent JSON}."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self.key = settings.key("orders", "outbox")

    def add(self, pipe: Pipeline, event: CloudEvent) -> None:
        body = {"t": time.time(), "event": json.loads(event.to_json())}
        pipe.hset(self.key, event.id, json.dumps(body, ensure_ascii=False))

    async def flush(self, publisher: Publisher | None, ids: list[str]) -> int:
        """Publish the given entries now (after their commit); failures stay for the drainer."""
        if publisher is None or not ids:
            return 0
        raws = await self._redis.hmget(self.key, ids)
        sent = 0
        for event_id, raw in zip(ids, raws, strict=True):
            if raw is not None and await self._publish_one(publisher, event_id, raw):
                sent += 1
        return sent

    async def drain(self, publisher: Publisher, min_age_s: float = 5.0) -> int:
        """Publish entries older than `min_age_s` (left by a crash or a broker outage)."""
        raw_all = await self._redis.hgetall(self.key)
        metrics.OUTBOX_PENDING.set(len(raw_all))
        now = time.time()
        sent = 0
        for event_id, raw in sorted(raw_all.items(), key=lambda kv: json.loads(kv[1])["t"]):
            if now - json.loads(raw)["t"] < min_age_s:
                continue
            eid = event_id.decode() if isinstance(event_id, bytes) else event_id
            if await self._publish_one(publisher, eid, raw):
                sent += 1
        return sent

    async def pending(self) -> int:
        return int(await self._redis.hlen(self.key))

    async def _publish_one(self, publisher: Publisher, event_id: str, raw: bytes | str) -> bool:
        event = CloudEvent.model_validate(json.loads(raw)["event"])
        try:
            await publisher.publish(event)
        except PublishError as exc:
            metrics.OUTBOX_FAILED.inc()
            log.error("outbox.publish_failed", event_id=event_id, type=event.type, error=str(exc))
            return False
        await self._redis.hdel(self.key, event_id)
        return True

    async def run_drainer(
        self,
        publisher_of: Callable[[], Publisher | None],
        interval_s: float = 2.0,
        min_age_s: float = 5.0,
    ) -> None:
        """Drain forever; `publisher_of()` returns the current publisher (None while down)."""
        while True:
            await asyncio.sleep(interval_s)
            publisher = publisher_of()
            if publisher is None:
                continue
            try:
                await self.drain(publisher, min_age_s)
            except Exception as exc:  # keep draining whatever happens to one round
                log.error("outbox.drain_failed", error=repr(exc))
