"""The bus against the real broker and Redis: confirms, DLQ, retry, idempotency, shutdown."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aio_pika
import pytest
from pydantic import BaseModel
from redis.asyncio import Redis

from bus.consumer import REASON_HEADER, ConsumerRunner, ConsumerSpec
from bus.errors import PermanentError, UnroutableError
from bus.publisher import Publisher
from bus.topology import dlq_name
from contracts import Alert, CloudEvent, make_event, utcnow
from gateway.settings import Settings


def alert_event(text: str = "着火了") -> CloudEvent:
    alert = Alert(channel="sms", received_at=utcnow(), caller="13800138000", text=text)
    return make_event(alert, source="/tests", subject=alert.incident_id)


async def dlq_messages(
    settings: Settings, queue: str, expect: int, timeout: float = 5.0
) -> list[Any]:
    """Read (and ack) what sits in a queue's DLQ, as an operator would."""
    conn = await aio_pika.connect(settings.amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(dlq_name(queue), durable=True, passive=True)
        out = []
        async with asyncio.timeout(timeout):
            while len(out) < expect:
                msg = await q.get(no_ack=True, fail=False)
                if msg is None:
                    await asyncio.sleep(0.05)
                    continue
                out.append(msg)
        return out
    finally:
        await conn.close()


async def test_publish_confirm_consume_ack_round_trip(
    settings: Settings, redis: Redis, publisher: Publisher
) -> None:
    seen: list[tuple[str, str]] = []
    done = asyncio.Event()

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        assert isinstance(model, Alert)
        seen.append((event.id, model.text))
        done.set()

    runner = ConsumerRunner(
        settings, redis, [ConsumerSpec("t.alerts", ["alert.received.*"], handle)]
    )
    await runner.start()
    try:
        event = alert_event("河里有人落水")
        await publisher.publish(event)
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.stop()
    assert seen == [(event.id, "河里有人落水")]
    # acked: nothing left on the queue
    conn = await aio_pika.connect(settings.amqp_url)
    ch = await conn.channel()
    q = await ch.declare_queue("t.alerts", durable=True, passive=True)
    assert q.declaration_result.message_count == 0
    await conn.close()


async def test_unroutable_publish_raises(publisher: Publisher) -> None:
    with pytest.raises(UnroutableError):
        await publisher.publish(alert_event())  # no queue is bound yet in this vhost


async def test_failing_message_lands_in_dlq_with_reason_after_max_attempts(
    settings: Settings, redis: Redis, publisher: Publisher
) -> None:
    attempts: list[str] = []

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        attempts.append(event.id)
        raise RuntimeError("centre answered 503")

    runner = ConsumerRunner(settings, redis, [ConsumerSpec("t.fail", ["alert.#"], handle)])
    await runner.start()
    try:
        event = alert_event()
        await publisher.publish(event)
        dead = await dlq_messages(settings, "t.fail", 1)
    finally:
        await runner.stop()
    assert len(attempts) == settings.max_attempts
    assert dead[0].message_id == event.id
    assert dead[0].headers[REASON_HEADER] == "max-attempts"
    assert dead[0].headers["x-original-routing-key"] == "alert.received.sms"  # not the retry queue
    assert "503" in dead[0].headers["x-death-detail"]


async def test_permanent_error_and_poison_go_to_dlq_at_once(
    settings: Settings, redis: Redis, publisher: Publisher
) -> None:
    calls = Counter[str]()

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        calls[event.id] += 1
        raise PermanentError("unknown-unit", "no unit xyz")

    runner = ConsumerRunner(settings, redis, [ConsumerSpec("t.perm", ["alert.#"], handle)])
    await runner.start()
    try:
        event = alert_event()
        await publisher.publish(event)
        poison = aio_pika.Message(b'{"not": "a cloudevent"}', message_id="poison-1")
        await publisher.publish_message(poison, "alert.received.sms")
        dead = await dlq_messages(settings, "t.perm", 2)
    finally:
        await runner.stop()
    reasons = {m.message_id: m.headers[REASON_HEADER] for m in dead}
    assert reasons == {event.id: "unknown-unit", "poison-1": "invalid-envelope"}
    assert calls[event.id] == 1


async def test_transient_failure_is_retried_then_succeeds(
    settings: Settings, redis: Redis, publisher: Publisher
) -> None:
    calls: list[int] = []
    done = asyncio.Event()

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("timeout to centre")
        done.set()

    runner = ConsumerRunner(settings, redis, [ConsumerSpec("t.retry", ["alert.#"], handle)])
    await runner.start()
    try:
        await publisher.publish(alert_event())
        await asyncio.wait_for(done.wait(), 5)
    finally:
        await runner.stop()
    assert len(calls) == 2


async def test_duplicate_message_id_is_processed_once(
    settings: Settings, redis: Redis, publisher: Publisher
) -> None:
    seen = Counter[str]()

    async def handle(event: CloudEvent, model: BaseModel) -> None:
        seen[event.id] += 1

    runner = ConsumerRunner(settings, redis, [ConsumerSpec("t.dup", ["alert.#"], handle)])
    await runner.start()
    try:
        event = alert_event()
        for _ in range(3):  # a peer retrying, a spool re-publishing
            await publisher.publish(event)
        other = alert_event("second")
        await publisher.publish(other)
        for _ in range(100):
            if seen[other.id]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        await runner.stop()
    assert seen == Counter({event.id: 1, other.id: 1})


async def test_consumer_stopped_mid_batch_loses_nothing(
    settings: Settings, redis: Redis, publisher: Publisher
) -> None:
    """Stop a consumer while it holds a batch; a new one gets the rest, each processed once."""
    processed = Counter[str]()
    gate = asyncio.Event()

    async def slow(event: CloudEvent, model: BaseModel) -> None:
        await gate.wait()
        processed[event.id] += 1

    async def fast(event: CloudEvent, model: BaseModel) -> None:
        processed[event.id] += 1

    events = [alert_event(f"alert {i}") for i in range(40)]
    first = ConsumerRunner(
        settings, redis, [ConsumerSpec("t.batch", ["alert.#"], slow, prefetch=10)]
    )
    await first.start()
    for e in events:
        await publisher.publish(e)
    await asyncio.sleep(0.3)  # the first consumer now holds 10 in flight
    stopping = asyncio.create_task(first.stop(grace_s=5))
    await asyncio.sleep(0.1)
    gate.set()  # in-flight ones finish during the graceful stop
    await stopping
    second = ConsumerRunner(settings, redis, [ConsumerSpec("t.batch", ["alert.#"], fast)])
    await second.start()
    try:
        async with asyncio.timeout(10):
            while len(processed) < len(events):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        await second.stop()
    assert set(processed) == {e.id for e in events}
    assert set(processed.values()) == {1}


async def test_consumer_killed_without_ack_gets_redelivered_once(
    settings: Settings, redis: Redis, publisher: Publisher
) -> None:
    """A consumer whose connection dies mid-effect: the message comes back and is done once."""
    processed = Counter[str]()
    started = asyncio.Event()
    release = asyncio.Event()

    async def hang(event: CloudEvent, model: BaseModel) -> None:
        started.set()
        await release.wait()

    async def ok(event: CloudEvent, model: BaseModel) -> None:
        processed[event.id] += 1

    # short processing claim so the redelivery is not held back by the dead consumer's claim
    dying = ConsumerRunner(settings, redis, [ConsumerSpec("t.kill", ["alert.#"], hang)])
    dying._guard._processing_ttl = 1
    await dying.start()
    event = alert_event()
    await publisher.publish(event)
    await asyncio.wait_for(started.wait(), 5)
    assert dying._connection is not None
    await dying._connection.close()  # the link dies, nothing acked
    survivor = ConsumerRunner(settings, redis, [ConsumerSpec("t.kill", ["alert.#"], ok)])
    await survivor.start()
    try:
        async with asyncio.timeout(10):
            while not processed:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    finally:
        release.set()
        await survivor.stop()
    assert processed == Counter({event.id: 1})
