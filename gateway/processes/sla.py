"""`linkgate sla`: order consumers, deadline timers, the outbox drainer, platform exchanges.

Consumers (durable queues):
- `orders.issued`    order.issued          track orders issued on the bus
- `orders.feedback`  order.feedback.#      apply unit feedback from every channel
- `supervision.dutycheck` dutycheck.result.#  duty-check answers for the reports
- `exchanges.hotline` alert.routed.12345   ticket transfer to the 12345 platform
- `exchanges.sea`    alert.routed.maritime-sar / ocean-fishery  hand-over to a sea centre
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis

from bus.consumer import ConsumerRunner, ConsumerSpec
from bus.publisher import Publisher
from contracts.common import utcnow
from gateway.exchanges.consumers import exchange_specs
from gateway.orders.service import Orders
from gateway.orders.timers import Clock, SlaTimers
from gateway.redis_client import connect_redis
from gateway.settings import Settings
from gateway.supervision.dutychecks import dutycheck_spec


def consumer_specs(
    redis: Redis, settings: Settings, publisher_of: Callable[[], Publisher | None]
) -> list[ConsumerSpec]:
    """Every consumer of the sla process (tests run them on their own runner too)."""
    orders = Orders(redis, settings)
    return [
        ConsumerSpec("orders.issued", ["order.issued"], orders.on_order_issued),
        ConsumerSpec("orders.feedback", ["order.feedback.#"], orders.on_feedback),
        *exchange_specs(redis, settings, publisher_of),
        dutycheck_spec(redis, settings),
    ]


def _raise_if_cancelled() -> None:
    """A stop asked for during start-up may have been swallowed by the AMQP client's
    connection code; honour it rather than run on after a SIGTERM."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def run(settings: Settings, clock: Clock | None = None) -> None:
    """Run until cancelled: consumers, timers and the outbox drainer."""
    redis = connect_redis(settings)
    publisher: Publisher | None = None

    def current() -> Publisher | None:
        return publisher

    runner = ConsumerRunner(settings, redis, consumer_specs(redis, settings, current))
    try:
        await redis.ping()
        publisher = await Publisher.connect(settings)
        timers = SlaTimers(redis, settings, current, clock=clock or utcnow)
        await runner.start()
        _raise_if_cancelled()
        tasks = [
            asyncio.create_task(timers.run()),
            asyncio.create_task(timers.store.outbox.run_drainer(current)),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await asyncio.shield(runner.stop())
        if publisher is not None:
            await publisher.close()
        await redis.aclose()
