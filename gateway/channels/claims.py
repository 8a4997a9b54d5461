"""Inbound dedup: a peer's message id is claimed in Redis before anything is published.

`SET key processing NX` takes the claim; after the message is published (or spooled)
the key holds `done:` + the answer we gave, so a retry gets the very same answer and
publishes nothing. A retry that overlaps the first request (WeChat retries after 5 s)
waits briefly for it; if the first is still running it is told to come back (503),
and if the first failed (claim released) the retry takes over.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum

from redis.asyncio import Redis

_PROCESSING = b"processing"
_DONE = b"done:"


class ClaimState(Enum):
    ACQUIRED = "acquired"
    DONE = "done"
    BUSY = "busy"


@dataclass(frozen=True)
class ClaimResult:
    state: ClaimState
    answer: str = ""


class InboundClaims:
    """Claims on peer message ids under one Redis key prefix."""

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        done_ttl_s: int,
        processing_ttl_s: int = 15,
        wait_s: float = 3.0,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._done_ttl = done_ttl_s
        self._processing_ttl = processing_ttl_s
        self._wait = wait_s

    def _key(self, ident: str) -> str:
        return f"{self._prefix}:{ident}"

    async def claim(self, ident: str) -> ClaimResult:
        """Take the claim, or report the earlier answer, or say someone is still on it."""
        key = self._key(ident)
        deadline = asyncio.get_running_loop().time() + self._wait
        while True:
            if await self._redis.set(key, _PROCESSING, nx=True, ex=self._processing_ttl):
                return ClaimResult(ClaimState.ACQUIRED)
            raw = await self._redis.get(key)
            current = raw.encode() if isinstance(raw, str) else raw
            if current is not None and current.startswith(_DONE):
                return ClaimResult(ClaimState.DONE, current[len(_DONE) :].decode())
            if current is None:
                continue  # released or expired just now: try to take it
            if asyncio.get_running_loop().time() >= deadline:
                return ClaimResult(ClaimState.BUSY)
            await asyncio.sleep(0.05)

    async def done(self, ident: str, answer: str) -> None:
        await self._redis.set(self._key(ident), _DONE + answer.encode(), ex=self._done_ttl)

    async def release(self, ident: str) -> None:
        """Give the claim back after a failure so the peer's retry can do the work."""
        await self._redis.delete(self._key(ident))
