"""Confirmed, mandatory publishing: success is reported only after the broker confirmed."""

from __future__ import annotations

from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from bus import metrics
from bus.connection import open_robust_connection
from bus.errors import PublishError, UnroutableError
from bus.topology import declare_exchanges
from bus.tracecontext import stamp
from contracts.envelope import CloudEvent
from contracts.registry import routing_key_for
from gateway.settings import Settings

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


def event_message(event: CloudEvent, headers: dict[str, Any] | None = None) -> aio_pika.Message:
    """The AMQP message for an event: persistent, message_id = event id (idempotency key)."""
    hdrs: dict[str, Any] = {"ce-type": event.type, "ce-status": event.status.value}
    if event.traceparent:
        hdrs["traceparent"] = event.traceparent
    if headers:
        hdrs.update(headers)
    return aio_pika.Message(
        body=event.to_json(),
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=event.id,
        timestamp=event.time,
        type=event.type,
        headers=hdrs,
    )


class Publisher:
    """Publishes CloudEvents to `linkage.events` with publisher confirms and `mandatory`."""

    def __init__(
        self,
        connection: AbstractRobustConnection,
        channel: AbstractChannel,
        exchange: AbstractExchange,
        dlx: AbstractExchange,
        confirm_timeout_s: float,
    ) -> None:
        self._connection = connection
        self._channel = channel
        self._exchange = exchange
        self._dlx = dlx
        self._timeout = confirm_timeout_s
        self._owns_connection = True

    @classmethod
    async def connect(cls, settings: Settings, confirm_timeout_s: float = 10.0) -> Publisher:
        """Open a robust connection (reconnects by itself) and a confirming channel."""
        connection = await open_robust_connection(settings.amqp_url, timeout_s=confirm_timeout_s)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
            exchange, dlx = await declare_exchanges(channel, settings)
        except BaseException:
            await connection.close()
            raise
        return cls(connection, channel, exchange, dlx, confirm_timeout_s)

    @property
    def connection(self) -> AbstractRobustConnection:
        return self._connection

    @property
    def is_connected(self) -> bool:
        return not self._connection.is_closed and not self._channel.is_closed

    async def publish(
        self,
        event: CloudEvent,
        routing_key: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; raise if it is not confirmed."""
        event = stamp(event)
        key = routing_key or routing_key_for(event)
        await self._publish(self._exchange, key, event_message(event, headers))

    async def publish_message(
        self, message: aio_pika.Message, routing_key: str, *, dead_letter: bool = False
    ) -> None:
        """Publish a prepared message (retry, DLQ replay) to the events exchange or the DLX."""
        await self._publish(self._dlx if dead_letter else self._exchange, routing_key, message)

    async def publish_to_queue(self, message: aio_pika.Message, queue: str) -> None:
        """Publish straight to a queue through the default exchange (retry delay queues)."""
        await self._publish(self._channel.default_exchange, queue, message)

    async def _publish(
        self, exchange: AbstractExchange, routing_key: str, message: aio_pika.Message
    ) -> None:
        family = ".".join(routing_key.split(".")[:2])
        try:
            await exchange.publish(
                message, routing_key=routing_key, mandatory=True, timeout=self._timeout
            )
            metrics.PUBLISHED.labels(family, "confirmed").inc()
        except aio_pika.exceptions.PublishError as exc:
            metrics.PUBLISHED.labels(family, "unroutable").inc()
            raise UnroutableError(f"no queue bound for routing key {routing_key!r}") from exc
        except (aiormq.exceptions.DeliveryError, aiormq.exceptions.AMQPError) as exc:
            metrics.PUBLISHED.labels(family, "failed").inc()
            raise PublishError(f"broker did not confirm {routing_key!r}: {exc!r}") from exc
        except TimeoutError as exc:
            raise PublishError(f"no confirm for {routing_key!r} within {self._timeout}s") from exc
        except (ConnectionError, OSError, RuntimeError) as exc:
            metrics.PUBLISHED.labels(family, "failed").inc()
            raise PublishError(f"broker link down publishing {routing_key!r}: {exc!r}") from exc

    async def close(self) -> None:
        await self._connection.close()
