"""Durable deadline timers: a Redis sorted set polled with an injected clock.

A due timer is claimed by one Lua call that moves it from `orders:timers` to
`orders:timers:claimed` (score = lease expiry): two sla processes never claim the
same one. The firing itself (state, evidence, outbox events, removal of the claim) is one
transaction, and the record remembers what fired, so a firing interrupted by a crash
is retried after its lease and still takes effect exactly once. With Redis AOF (as
deployed) a Redis restart loses no timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import cast

import structlog
from redis.asyncio import Redis

from bus.publisher import Publisher
from contracts.common import utcnow
from gateway.directory.store import DirectoryStore
from gateway.orders import metrics
from gateway.orders.store import OrderStore, epoch
from gateway.settings import Settings

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZADD', KEYS[2], ARGV[2], m)
end
return due
"""

_RECOVER = """
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, m in ipairs(stale) do
  redis.call('ZREM', KEYS[2], m)
  redis.call('ZADD', KEYS[1], ARGV[1], m)
end
return #stale
"""


class SlaTimers:
    """Fires due timers: reminders, breaches, re-dispatch, evidence."""

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        publisher_of: Callable[[], Publisher | None],
        clock: Clock = utcnow,
        batch: int = 100,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self.store = OrderStore(redis, settings)
        self._directory = DirectoryStore(redis, settings)
        self._publisher_of = publisher_of
        self._clock = clock
        self._batch = batch
        self._claim = redis.register_script(_CLAIM)
        self._recover = redis.register_script(_RECOVER)

    async def tick(self, now: datetime | None = None) -> int:
        """Fire everything due at `now` (default: the clock); returns how many fired."""
        now = now or self._clock()
        keys = [self.store.timers_key, self.store.claimed_key]
        recovered = int(await self._recover(keys=keys, args=[epoch(now)]))
        if recovered:
            log.warning("sla.claims_recovered", count=recovered)
        lease = now + timedelta(seconds=self._settings.sla_claim_lease_s)
        fired = 0
        while True:
            raw = cast(
                list[bytes],
                await self._claim(keys=keys, args=[epoch(now), epoch(lease), self._batch]),
            )
            for member in (m.decode() for m in raw):
                ids = await self.store.fire(member, now, self._directory.get)
                if ids:
                    fired += 1
                    _, milestone, kind = member.split("|")
                    metrics.SLA_FIRED.labels(milestone, kind).inc()
                await self.store.outbox.flush(self._publisher_of(), ids)
            if len(raw) < self._batch:
                return fired

    async def run(self) -> None:
        """Poll until cancelled; a failed round is logged and retried, never fatal."""
        while True:
            try:
                await self.tick()
            except Exception as exc:
                log.error("sla.tick_failed", error=repr(exc))
            await asyncio.sleep(self._settings.sla_poll_interval_s)
