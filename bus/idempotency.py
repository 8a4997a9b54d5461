"""Exactly-once effect on top of at-least-once delivery: claims by message id in Redis.

A claim is `SET key processing NX EX <short>` before the effect and `done` (long TTL)
after it. A consumer that dies mid-effect leaves a short claim that expires, so the
redelivered message is processed again instead of being lost.
"""

from __future__ import annotations

from enum import Enum

from redis.asyncio import Redis

PROCESSING = b"processing"
DONE = b"done"


class Claim(Enum):
    ACQUIRED = "acquired"
    DONE = "done"  # already processed: skip
    IN_PROGRESS = "in-progress"  # someone else is on it right now: try later


class IdempotencyGuard:
    """Claims keyed by (scope, id); scope is usually the consumer queue name."""

    def __init__(
        self, redis: Redis, key_prefix: str, done_ttl_s: int, processing_ttl_s: int = 120
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._done_ttl = done_ttl_s
        self._processing_ttl = processing_ttl_s

    def key(self, scope: str, message_id: str) -> str:
        return f"{self._prefix}:{scope}:{message_id}"

    async def claim(self, scope: str, message_id: str) -> Claim:
        key = self.key(scope, message_id)
        if await self._redis.set(key, PROCESSING, nx=True, ex=self._processing_ttl):
            return Claim.ACQUIRED
        current = await self._redis.get(key)
        if current == DONE:
            return Claim.DONE
        if current is None:  # expired between SET and GET: try once more
            if await self._redis.set(key, PROCESSING, nx=True, ex=self._processing_ttl):
                return Claim.ACQUIRED
        return Claim.IN_PROGRESS

    async def mark_done(self, scope: str, message_id: str) -> None:
        await self._redis.set(self.key(scope, message_id), DONE, ex=self._done_ttl)

    async def release(self, scope: str, message_id: str) -> None:
        """Give a claim back after a failed effect so a retry can take it."""
        await self._redis.delete(self.key(scope, message_id))
