"""Delivery records of the order messages we send, moved forward only by receipts.

Every SMS we send gets our own message id (`mid`, in the StatusCallback URL) and a
record `chan:sms:<mid>` (order, unit, recipient, Twilio sid, status) with its full
history in `chan:sms:<mid>:history`. Twilio's callbacks arrive late, twice, or out of
order; a Lua script applies a status only if it ranks above the current one, and
appends every callback to the history either way (with `applied` true/false).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from contracts.common import utcnow
from gateway.channels.redisutil import as_str
from gateway.settings import Settings

RANK = {
    "created": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "read": 6,
}
FAILED = frozenset({"undelivered", "failed"})
RECORD_TTL_S = 30 * 24 * 3600

_APPLY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'rank') or '-1')
local applied = 0
if tonumber(ARGV[2]) > cur then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2])
  applied = 1
end
local entry = cjson.decode(ARGV[3])
entry['applied'] = (applied == 1)
redis.call('RPUSH', KEYS[2], cjson.encode(entry))
redis.call('EXPIRE', KEYS[2], ARGV[4])
return applied
"""


@dataclass(frozen=True)
class DeliveryRecord:
    mid: str
    fields: dict[str, str]

    @property
    def status(self) -> str:
        return self.fields.get("status", "")

    def get(self, name: str) -> str | None:
        return self.fields.get(name) or None


class DeliveryStore:
    """Create records, apply receipts forward-only, read records and history."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._apply = redis.register_script(_APPLY)

    def _key(self, mid: str) -> str:
        return self._settings.key("chan", "sms", mid)

    def _history(self, mid: str) -> str:
        return self._settings.key("chan", "sms", mid, "history")

    async def create(self, mid: str, **fields: str) -> None:
        """A record in state `created`, before the message is handed to the provider."""
        mapping: dict[Any, Any] = {
            **fields,
            "status": "created",
            "rank": "0",
            "created_at": utcnow().isoformat(),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(mid), mapping=mapping)
            pipe.expire(self._key(mid), RECORD_TTL_S)
            await pipe.execute()

    async def set_field(self, mid: str, name: str, value: str) -> None:
        await self._redis.hset(self._key(mid), name, value)

    async def apply(self, mid: str, status: str, **detail: Any) -> bool | None:
        """Apply a status; True if it moved the record, False if stale, None if unknown."""
        rank = RANK.get(status)
        if rank is None:
            return False
        entry = {"status": status, "at": utcnow().isoformat(), **detail}
        result = await self._apply(
            keys=[self._key(mid), self._history(mid)],
            args=[status, rank, json.dumps(entry, ensure_ascii=False), RECORD_TTL_S],
        )
        return None if int(result) < 0 else bool(int(result))

    async def get(self, mid: str) -> DeliveryRecord | None:
        raw = await self._redis.hgetall(self._key(mid))
        if not raw:
            return None
        return DeliveryRecord(mid, {as_str(k): as_str(v) for k, v in raw.items()})

    async def history(self, mid: str) -> list[dict[str, Any]]:
        raw = await self._redis.lrange(self._history(mid), 0, -1)
        return [json.loads(item) for item in raw]
