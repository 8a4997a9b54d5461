"""Duty-check plans, results and miss counts in Redis.

Keys (under `settings.key("dutycheck", ...)`):
- `due`                  zset check_id -> due time (epoch s): what is still to be called
- `inflight`             hash check_id -> runner instance: being called right now
- `check:<id>`           hash: `plan` (JSON) and, once done, `result` (DutyCheckResult JSON)
- `batch:<id>`           hash: the batch's meta data; `batch:<id>:checks` list of check ids
- `misses:<status>:<period>:<unit>`  counter of unanswered checks (drills counted apart)
- `flagged:<status>:<period>`        hash unit_id -> when it reached the threshold
- `scheduled:<date>`     set once when the automatic batch of that day was planned
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, cast

from redis.asyncio import Redis

from contracts.common import EventStatus
from contracts.dutycheck import DutyCheckResult
from gateway.settings import Settings

# Move due checks to `inflight` atomically, so a crash can lose no check unnoticed.
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HSET', KEYS[2], id, ARGV[3])
end
return ids
"""


@dataclass(frozen=True)
class PlannedCheck:
    """One call to make: which unit, which number, when."""

    check_id: str
    batch_id: str
    unit_id: str
    number: str
    due_at: datetime
    status: EventStatus
    line: str = "duty"  # duty | liaison: which of the unit's lines is checked

    def to_json(self) -> str:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat()
        data["status"] = self.status.value
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> PlannedCheck:
        data = json.loads(raw)
        data["due_at"] = datetime.fromisoformat(data["due_at"])
        data["status"] = EventStatus(data["status"])
        return cls(**data)


class DutyCheckStore:
    """Everything the planner (API) and the runner (ami process) share."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self._ttl = settings.call_state_ttl_s
        self._claim = redis.register_script(_CLAIM)

    def _key(self, *parts: str) -> str:
        return self._settings.key("dutycheck", *parts)

    async def add_batch(
        self, batch_id: str, meta: dict[str, str], checks: list[PlannedCheck]
    ) -> None:
        """Store a whole batch at once: either every check is planned or none is."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key("batch", batch_id), mapping=cast(Any, meta))
            pipe.expire(self._key("batch", batch_id), self._ttl)
            for check in checks:
                pipe.hset(self._key("check", check.check_id), "plan", check.to_json())
                pipe.expire(self._key("check", check.check_id), self._ttl)
                pipe.rpush(self._key("batch", batch_id, "checks"), check.check_id)
                pipe.zadd(self._key("due"), {check.check_id: check.due_at.timestamp()})
            pipe.expire(self._key("batch", batch_id, "checks"), self._ttl)
            await pipe.execute()

    async def claim_due(self, now: datetime, limit: int, owner: str) -> list[PlannedCheck]:
        """Take up to `limit` checks due by `now` (moved to in-flight)."""
        ids = await self._claim(
            keys=[self._key("due"), self._key("inflight")], args=[now.timestamp(), limit, owner]
        )
        return [check for check in [await self.plan(_s(i)) for i in ids] if check is not None]

    async def plan(self, check_id: str) -> PlannedCheck | None:
        raw = await self._redis.hget(self._key("check", check_id), "plan")
        return None if raw is None else PlannedCheck.from_json(raw)

    async def in_flight(self) -> dict[str, str]:
        raw = await self._redis.hgetall(self._key("inflight"))
        return {_s(k): _s(v) for k, v in raw.items()}

    def _misses_key(self, status: EventStatus, period: str, unit_id: str) -> str:
        return self._key("misses", status.value, period, unit_id)

    async def misses(self, status: EventStatus, period: str, unit_id: str) -> int:
        raw = await self._redis.get(self._misses_key(status, period, unit_id))
        return int(raw or 0)

    async def finish(
        self, result: DutyCheckResult, status: EventStatus, period: str, counted: bool
    ) -> int:
        """Store the result, leave in-flight, count a miss; returns misses in the period."""
        misses_key = self._misses_key(status, period, result.unit_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            if counted:
                pipe.incr(misses_key)
                pipe.expire(misses_key, 400 * 24 * 3600)
            else:
                pipe.get(misses_key)
            pipe.hset(self._key("check", result.check_id), "result", result.model_dump_json())
            pipe.hdel(self._key("inflight"), result.check_id)
            replies = await pipe.execute()
        return int(replies[0] or 0)

    async def flag(self, status: EventStatus, period: str, unit_id: str, at: datetime) -> bool:
        """Mark a unit as flagged for the period; True the first time."""
        key = self._key("flagged", status.value, period)
        return bool(await self._redis.hsetnx(key, unit_id, at.isoformat()))

    async def flagged(self, status: EventStatus, period: str) -> dict[str, str]:
        raw = await self._redis.hgetall(self._key("flagged", status.value, period))
        return {_s(k): _s(v) for k, v in raw.items()}

    async def batch(self, batch_id: str) -> dict[str, Any] | None:
        """A batch with each check's plan and, when done, its result."""
        meta = await self._redis.hgetall(self._key("batch", batch_id))
        if not meta:
            return None
        view: dict[str, Any] = {_s(k): _s(v) for k, v in meta.items()}
        checks = []
        for raw_id in await self._redis.lrange(self._key("batch", batch_id, "checks"), 0, -1):
            entry = await self._redis.hgetall(self._key("check", _s(raw_id)))
            plan = json.loads(entry[b"plan"]) if b"plan" in entry else {"check_id": _s(raw_id)}
            if b"result" in entry:
                plan["result"] = json.loads(entry[b"result"])
            checks.append(plan)
        view["batch_id"] = batch_id
        view["checks"] = checks
        return view

    async def schedule_once(self, day: date) -> bool:
        """True the first time the automatic batch of `day` is planned."""
        key = self._key("scheduled", day.isoformat())
        return bool(await self._redis.set(key, "1", nx=True, ex=40 * 24 * 3600))


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
