"""`linkgate router`: classify received alerts and deliver them to the centres."""

from __future__ import annotations

from gateway.redis_client import connect_redis
from gateway.routing.pipeline import Router
from gateway.routing.reload import RulesHolder
from gateway.settings import Settings


async def run(settings: Settings) -> None:
    """Run until cancelled (SIGTERM): in-flight deliveries finish, the rest stay queued."""
    holder = RulesHolder(settings.rules_file)  # a bad rules file stops the start, loudly
    redis = connect_redis(settings)
    try:
        await redis.ping()
        await Router(settings, redis, holder).run()
    finally:
        await redis.aclose()
