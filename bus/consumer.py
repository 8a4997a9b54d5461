"""Consumer runner: ack after the effect, idempotent by message id, retry, then DLQ.

For each delivery:
1. parse the CloudEvent (a message that breaks the contract is poison: DLQ at once);
2. claim its id in Redis (already done: ack and skip; in progress elsewhere: retry later);
3. run the handler; on success mark done and ack;
4. on `PermanentError`: DLQ with the reason; on any other error: republish to a delay
   queue with `x-attempts` + 1 (DLQ after `max_attempts`), then ack the original.
Nothing is acked before its copy (retry or DLQ) is confirmed by the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from pydantic import BaseModel
from redis.asyncio import Redis

from bus import metrics
from bus.connection import open_robust_connection
from bus.errors import PermanentError
from bus.idempotency import Claim, IdempotencyGuard
from bus.publisher import Publisher
from bus.topology import declare_consumer_queue, retry_queue_name
from bus.tracecontext import consume_span
from contracts.envelope import CloudEvent, ContractError, parse_event
from gateway.settings import Settings

log = structlog.get_logger(__name__)

Handler = Callable[[CloudEvent, BaseModel], Awaitable[None]]

ATTEMPTS_HEADER = "x-attempts"
REASON_HEADER = "x-death-reason"
DETAIL_HEADER = "x-death-detail"
QUEUE_HEADER = "x-original-queue"
ROUTING_KEY_HEADER = "x-original-routing-key"


@dataclass
class ConsumerSpec:
    """One durable queue, what it is bound to, and what to do with each message."""

    name: str
    bindings: Sequence[str]
    handler: Handler
    prefetch: int | None = None
    idempotent: bool = True


@dataclass
class _Stats:
    in_flight: int = 0
    idle: asyncio.Event = field(default_factory=asyncio.Event)


class ConsumerRunner:
    """Runs one or more consumers on one robust connection; stops without losing work."""

    def __init__(self, settings: Settings, redis: Redis, specs: Sequence[ConsumerSpec]) -> None:
        self._settings = settings
        self._redis = redis
        self._specs = list(specs)
        self._guard = IdempotencyGuard(
            redis, settings.key("idem"), settings.idempotency_ttl_s,
            processing_ttl_s=settings.idempotency_claim_ttl_s,
        )
        self._connection: AbstractRobustConnection | None = None
        self._publisher: Publisher | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._stats = _Stats()
        self._stats.idle.set()
        self._shielded: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        """Declare each queue with its DLQ and retry queues, then start consuming."""
        self._publisher = await Publisher.connect(self._settings)
        self._connection = await open_robust_connection(self._settings.amqp_url)
        for spec in self._specs:
            channel = await self._connection.channel()
            await channel.set_qos(prefetch_count=spec.prefetch or self._settings.prefetch)
            queue = await declare_consumer_queue(channel, self._settings, spec.name, spec.bindings)
            tag = await queue.consume(self._callback_for(spec))
            self._consumers.append((queue, tag))
        log.info("consumers.started", queues=[s.name for s in self._specs])

    async def stop(self, grace_s: float = 30.0) -> None:
        """Stop taking messages, finish those in flight, then close (unacked ones requeue)."""
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):
                await queue.cancel(tag)
        self._consumers.clear()
        try:
            await asyncio.wait_for(self._stats.idle.wait(), grace_s)
        except TimeoutError:
            log.warning("consumers.stop_grace_exceeded", in_flight=self._stats.in_flight)
        if self._connection is not None:
            await self._connection.close()
        if self._publisher is not None:
            await self._publisher.close()
        log.info("consumers.stopped")

    async def run(self) -> None:
        """Start and run until cancelled; stop gracefully on the way out."""
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.shield(self.stop())

    def _callback_for(
        self, spec: ConsumerSpec
    ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def tracked(message: AbstractIncomingMessage) -> None:
            self._stats.in_flight += 1
            self._stats.idle.clear()
            try:
                await self._process(spec, message)
            except (
                aiormq.exceptions.AMQPError,
                aio_pika.exceptions.AMQPException,
                aiormq.exceptions.ChannelInvalidStateError,  # a RuntimeError, not an AMQPError
            ) as exc:
                # the effect is done and marked (or given back); only the ack / nack was
                # lost with the channel: the broker redelivers and the guard decides again
                log.warning("consumer.settle_lost", queue=spec.name, error=repr(exc))
            finally:
                self._stats.in_flight -= 1
                if self._stats.in_flight == 0:
                    self._stats.idle.set()

        async def on_message(message: AbstractIncomingMessage) -> None:
            # aiormq cancels consumer tasks when their channel closes (broker restart): an
            # effect cut in half would be done twice or wait for the claim's TTL. Finish it
            # (and mark it done) in its own task; the redelivery then finds it done.
            task = asyncio.ensure_future(tracked(message))
            self._shielded.add(task)
            task.add_done_callback(self._shielded.discard)
            await asyncio.shield(task)

        return on_message

    async def _process(self, spec: ConsumerSpec, message: AbstractIncomingMessage) -> None:
        try:
            event, model = parse_event(message.body)
        except ContractError as exc:
            await self._dead_letter(spec, message, exc.reason, exc.detail)
            return
        msg_id = message.message_id or event.id
        try:
            claim = (
                await self._guard.claim(spec.name, msg_id) if spec.idempotent else Claim.ACQUIRED
            )
        except Exception as exc:  # Redis unreachable: leave the message on the queue
            log.error("consumer.idempotency_unavailable", queue=spec.name, error=repr(exc))
            await asyncio.sleep(1.0)
            await message.nack(requeue=True)
            return
        if claim is Claim.DONE:
            metrics.DUPLICATES.labels(spec.name).inc()
            log.info("consumer.duplicate_skipped", queue=spec.name, id=msg_id)
            await message.ack()
            return
        if claim is Claim.IN_PROGRESS:
            await self._retry(spec, message, count_attempt=False, error="in progress elsewhere")
            return
        try:
            with consume_span(event, spec.name):
                await spec.handler(event, model)
        except PermanentError as exc:
            await self._release(spec, msg_id)
            await self._dead_letter(spec, message, exc.reason, exc.detail)
            return
        except Exception as exc:
            log.warning("consumer.handler_failed", queue=spec.name, id=msg_id, error=repr(exc))
            await self._release(spec, msg_id)
            await self._retry(spec, message, count_attempt=True, error=repr(exc))
            return
        except asyncio.CancelledError:
            # the channel closed under us (broker restart): aiormq cancels the handler; give
            # the claim back so the redelivery is processed now, not after the claim's TTL
            await asyncio.shield(self._release(spec, msg_id))
            raise
        if spec.idempotent:
            await self._guard.mark_done(spec.name, msg_id)
        metrics.CONSUMED.labels(spec.name, "ok").inc()
        await message.ack()

    async def _release(self, spec: ConsumerSpec, msg_id: str) -> None:
        if spec.idempotent:
            with contextlib.suppress(Exception):
                await self._guard.release(spec.name, msg_id)

    async def _retry(
        self,
        spec: ConsumerSpec,
        message: AbstractIncomingMessage,
        *,
        count_attempt: bool,
        error: str,
    ) -> None:
        raw_attempts = (message.headers or {}).get(ATTEMPTS_HEADER, 0)
        attempts = raw_attempts if isinstance(raw_attempts, int) else 0
        if count_attempt:
            attempts += 1
        if attempts >= self._settings.max_attempts:
            await self._dead_letter(spec, message, "max-attempts", error)
            return
        delays = self._settings.retry_delays_ms
        delay = delays[min(max(attempts - 1, 0), len(delays) - 1)]
        copy = _copy(message, {ATTEMPTS_HEADER: attempts, "x-last-error": error[:500]})
        assert self._publisher is not None
        try:
            await self._publisher.publish_to_queue(copy, retry_queue_name(spec.name, delay))
        except Exception as exc:
            log.error("consumer.retry_publish_failed", queue=spec.name, error=repr(exc))
            await message.nack(requeue=True)
            return
        metrics.CONSUMED.labels(spec.name, "retry").inc()
        await message.ack()

    async def _dead_letter(
        self, spec: ConsumerSpec, message: AbstractIncomingMessage, reason: str, detail: str
    ) -> None:
        copy = _copy(
            message,
            {
                REASON_HEADER: reason,
                DETAIL_HEADER: detail[:1000],
                QUEUE_HEADER: spec.name,
                # after a retry the delivery's routing key is the queue name: keep the original
                ROUTING_KEY_HEADER: (message.headers or {}).get(ROUTING_KEY_HEADER)
                or message.routing_key
                or "",
            },
        )
        assert self._publisher is not None
        try:
            await self._publisher.publish_message(copy, spec.name, dead_letter=True)
        except Exception as exc:
            log.error("consumer.dlq_publish_failed", queue=spec.name, error=repr(exc))
            await message.nack(requeue=True)
            return
        metrics.CONSUMED.labels(spec.name, "dead-lettered").inc()
        log.warning("consumer.dead_lettered", queue=spec.name, reason=reason, detail=detail[:200])
        await message.ack()


def _copy(message: AbstractIncomingMessage, extra_headers: dict[str, Any]) -> aio_pika.Message:
    """A persistent copy of a delivery with extra headers (the routing key is kept in one)."""
    headers = dict(message.headers or {})
    headers.setdefault(ROUTING_KEY_HEADER, message.routing_key or "")
    headers.update(extra_headers)
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        headers=headers,
    )
