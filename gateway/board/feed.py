"""The board's bus feed: an exclusive, auto-delete queue bound to alerts and orders.

It is a view, so it consumes without acks (nothing is lost for the system if the board
misses an event) and its queue is bounded. A lost link is shown on the board at once
("feed down") and retried with backoff; on reconnect the state carries on from the bus.
"""

from __future__ import annotations

import asyncio
import functools

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage

from bus.topology import declare_exchanges
from contracts.envelope import ContractError, parse_event
from gateway.board.hub import BoardHub
from gateway.observability import metrics
from gateway.settings import Settings

log = structlog.get_logger(__name__)

PATTERNS = ("alert.received.#", "alert.routed.#", "order.#")
MAX_QUEUE = 10_000


def handle_message(hub: BoardHub, message: AbstractIncomingMessage) -> None:
    """Parse one delivery and fold it into the hub; a bad one is logged and counted."""
    try:
        event, model = parse_event(message.body)
    except ContractError as exc:
        metrics.OPS_REFRESH_ERRORS.labels("board-feed").inc()
        log.warning("board.bad_event", reason=exc.reason, routing_key=message.routing_key)
        return
    hub.apply(message.routing_key or "", event, model)


async def run_feed(settings: Settings, hub: BoardHub, max_backoff_s: float = 10.0) -> None:
    """Consume until cancelled, reconnecting after any failure (the page shows the gap)."""
    delay = 0.5
    while True:
        try:
            connection = await aio_pika.connect(settings.amqp_url, timeout=5)
            try:
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=512)
                events, _ = await declare_exchanges(channel, settings)
                queue = await channel.declare_queue(
                    exclusive=True,
                    auto_delete=True,
                    arguments={"x-max-length": MAX_QUEUE, "x-overflow": "drop-head"},
                )
                for pattern in PATTERNS:
                    await queue.bind(events, routing_key=pattern)
                await queue.consume(functools.partial(_on_message, hub), no_ack=True)
                hub.set_feed("up")
                log.info("board.feed_up", queue=queue.name)
                delay = 0.5
                await connection.closed()
                raise ConnectionError("broker connection closed")
            finally:
                await connection.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            hub.set_feed("down", type(exc).__name__)
            log.error("board.feed_down", error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)


async def _on_message(hub: BoardHub, message: AbstractIncomingMessage) -> None:
    handle_message(hub, message)
