"""The processes' Redis client: a burst beyond the pool waits for a connection, not fails."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.redis_client import connect_redis
from gateway.settings import Settings


async def test_a_burst_larger_than_the_pool_is_served_in_full(
    settings: Settings, redis: Redis
) -> None:
    small = settings.model_copy(update={"redis_max_connections": 5})
    client = connect_redis(small)
    try:
        keys = [settings.key("burst", str(i)) for i in range(300)]
        results = await asyncio.gather(*(client.set(k, b"1", nx=True, ex=60) for k in keys))
    finally:
        await client.aclose()
    assert all(results)
    assert await redis.exists(*keys) == 300


async def test_redis_pys_default_pool_refuses_the_same_burst(settings: Settings) -> None:
    """What the blocking pool is for: the stock pool raises at once past its size."""
    client = Redis.from_url(settings.redis_url, max_connections=5)
    try:
        keys = [settings.key("refused", str(i)) for i in range(300)]
        with pytest.raises(RedisConnectionError):
            await asyncio.gather(*(client.set(k, b"1", ex=60) for k in keys))
    finally:
        await client.aclose()


async def test_a_pool_held_past_its_timeout_is_a_clear_error(settings: Settings) -> None:
    tight = settings.model_copy(update={"redis_max_connections": 1, "redis_pool_timeout_s": 0.2})
    client = connect_redis(tight)
    try:
        hog = asyncio.create_task(client.blpop([settings.key("never")], timeout=2))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await client.get(settings.key("x"))
        assert time.monotonic() - started < 1.5  # the pool timeout, not the hog's 2 s
        await hog
    finally:
        await client.aclose()
