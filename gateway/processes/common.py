"""Shared start-up for consumer processes: Redis, a publisher, a consumer runner."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from redis.asyncio import Redis

from bus.consumer import ConsumerRunner, ConsumerSpec
from gateway.settings import Settings


async def run_consumers(settings: Settings, specs: Sequence[ConsumerSpec], redis: Redis) -> None:
    """Run the given consumers until cancelled, finishing in-flight work on the way out."""
    runner = ConsumerRunner(settings, redis, specs)
    await runner.run()


async def wait_forever() -> None:
    await asyncio.Event().wait()
