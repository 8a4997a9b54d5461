"""A Redis token bucket: WeCom robots (20 messages a minute, emergencies first) and API
keys (requests per source).

The bucket lives in Redis so every process (and API worker) shares it; the Lua script
refills by elapsed server time and takes a token atomically. Non-emergency takers leave
the last `reserve` tokens to emergencies, so a burst of routine notices cannot make an
emergency order wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local need = 1 + tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) / 1000 * rate)
local ok = 0
local wait_ms = 0
if tokens >= need then
  tokens = tokens - 1
  ok = 1
else
  wait_ms = math.ceil((need - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {ok, wait_ms}
"""


@dataclass(frozen=True)
class Taken:
    ok: bool
    wait_s: float


class TokenBucket:
    """`capacity` tokens refilled at `capacity / period_s` per second."""

    def __init__(
        self,
        redis: Redis,
        key_prefix: str,
        capacity: int = 20,
        period_s: float = 60.0,
        reserve: int = 5,
    ) -> None:
        self._redis = redis
        self._prefix = key_prefix
        self._capacity = capacity
        self._rate = capacity / period_s
        self._reserve = min(reserve, capacity - 1)
        self._script = redis.register_script(_TAKE)

    async def take(self, name: str, emergency: bool) -> Taken:
        """Take one token from bucket `name`; emergencies may use the reserve."""
        reserve = 0 if emergency else self._reserve
        ok, wait_ms = await self._script(
            keys=[f"{self._prefix}:{name}"], args=[self._capacity, self._rate, reserve]
        )
        return Taken(bool(int(ok)), int(wait_ms) / 1000)
