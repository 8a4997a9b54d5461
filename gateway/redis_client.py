"""The Redis client of every process: a pool that makes a burst wait, not fail.

redis-py's default pool holds at most 100 connections and raises `MaxConnectionsError` at
once when a 101st command runs concurrently. In a surge the API has hundreds of webhooks
in flight, each claiming its message id: they got 503s (an SMS that Twilio never resends)
while Redis itself was idle. A blocking pool queues those commands for a free connection
for up to `LINKGATE_REDIS_POOL_TIMEOUT_S`; only a Redis that stays unreachable or saturated
past that is an error (a clear 503 at the webhook, a nack and retry on the bus).
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from gateway.settings import Settings


def connect_redis(settings: Settings, **options: float) -> Redis:
    """A client on a blocking pool sized by the settings (no I/O until first used)."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_s,
        **options,
    )
    return Redis(connection_pool=pool)
