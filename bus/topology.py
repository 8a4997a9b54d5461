"""The broker topology, declared in one place.

- `linkage.events`: topic exchange every message is published to (contract v1).
- `linkage.dlx`: topic exchange for dead letters; each consumer queue `Q` has `Q.dlq`
  bound to it with routing key `Q`.
- Delayed retry without plugins: per-queue TTL queues `Q.retry.<ms>` that dead-letter
  back to `Q` through the default exchange when the TTL expires.
"""

from __future__ import annotations

from collections.abc import Sequence

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue

from gateway.settings import Settings


def dlq_name(queue: str) -> str:
    return f"{queue}.dlq"


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}"


async def declare_exchanges(
    channel: AbstractChannel, settings: Settings
) -> tuple[AbstractExchange, AbstractExchange]:
    """Declare (idempotently) the events exchange and the dead-letter exchange."""
    events = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    dlx = await channel.declare_exchange(
        settings.dead_letter_exchange, aio_pika.ExchangeType.TOPIC, durable=True
    )
    return events, dlx


async def declare_consumer_queue(
    channel: AbstractChannel, settings: Settings, queue: str, bindings: Sequence[str]
) -> AbstractQueue:
    """Declare a durable work queue with its bindings, its DLQ and its retry queues."""
    events, dlx = await declare_exchanges(channel, settings)
    main = await channel.declare_queue(
        queue,
        durable=True,
        arguments={
            "x-dead-letter-exchange": settings.dead_letter_exchange,
            "x-dead-letter-routing-key": queue,
        },
    )
    for key in bindings:
        await main.bind(events, routing_key=key)
    dead = await channel.declare_queue(dlq_name(queue), durable=True)
    await dead.bind(dlx, routing_key=queue)
    for delay in settings.retry_delays_ms:
        await channel.declare_queue(
            retry_queue_name(queue, delay),
            durable=True,
            arguments={
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": queue,
            },
        )
    return main


async def declare_topology(channel: AbstractChannel, settings: Settings) -> None:
    """Declare the shared exchanges (queues belong to the consumers that own them)."""
    await declare_exchanges(channel, settings)
