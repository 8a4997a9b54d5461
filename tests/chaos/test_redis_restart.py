"""Redis (test-owned, AOF fsync always) killed and restarted under the gateway.

- Idempotency survives: the peers' retries of everything already accepted, and a
  redelivery of every received event, change nothing a centre sees.
- SLA timers (the orders' sorted set) survive and still fire.
- Redis unreachable: the SMS webhook answers a clear 503 and publishes nothing; the
  peer's retry once Redis is back is accepted and delivered once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bus.publisher import Publisher
from contracts import Alert, make_event, utcnow
from contracts.common import Channel
from gateway.directory.store import DirectoryStore
from gateway.orders.store import OrderStore
from gateway.orders.timers import SlaTimers
from gateway.settings import Settings
from tests.chaos.services import ChaosRedis, Receiver
from tests.chaos.stack import (
    Intake,
    chaos_settings,
    expected_deliveries,
    received_id,
    running_app,
    running_router,
    sms_form,
)
from tests.conftest import TEST_API_KEY

pytestmark = pytest.mark.chaos


async def test_redis_restart_keeps_idempotency_and_sla_timers(
    settings: Settings,
    receiver: Receiver,
    chaos_redis: ChaosRedis,
    bus_probe: object,
    example_directory_file: Path,
) -> None:
    n = 100
    settings = chaos_settings(settings, receiver, redis_url=chaos_redis.url)
    expected = expected_deliveries(range(n))
    probe = await bus_probe("alert.received.*", "order.sla.*")  # type: ignore[operator]
    seed = Redis.from_url(settings.redis_url)
    await DirectoryStore(seed, settings).load_file(example_directory_file, by="test")
    await seed.aclose()

    async with asyncio.timeout(90):
        async with running_router(settings), running_app(settings) as (app, client):
            intake = Intake(app, client, settings)
            await intake.send_all(range(n))
            await receiver.wait_for(lambda: set(receiver.posts) >= expected, 30)
            assert len(await probe.take(n, timeout=10)) == n
            r = await client.post(
                "/v1/orders",
                headers={"X-API-Key": TEST_API_KEY},
                json={
                    "incident_id": "INC-CHAOS-1",
                    "unit_id": "ls-fire",
                    "instructions": "莲都区紫金路 12 号民房起火,请立即出警",
                    "issued_at": utcnow().isoformat(),
                },
            )
            assert r.status_code == 201, r.text
            order_id = r.json()["order_id"]
            store = OrderStore(app.state.redis, settings)
            timers_before = await store.timers(order_id)
            assert timers_before, "an issued order has deadline timers"

            await asyncio.to_thread(chaos_redis.restart)  # SIGKILL: only the AOF survives

            # every peer retries everything: same answers, nothing published again
            answers_before = dict(intake.answers)
            intake.accepted.clear()
            await intake.send_all(range(n))
            assert intake.accepted == set(range(n))
            assert all(intake.answers[i] == 200 for i in range(n)), answers_before
            await asyncio.sleep(1.0)
            assert probe.pending() == 0, f"{probe.pending()} re-published by the webhook"
            # and the bus redelivers every received event: the router skips them all
            publisher = await Publisher.connect(settings)
            try:
                for i in range(n):
                    form = sms_form(i)
                    alert = Alert(
                        channel=Channel.SMS, received_at=utcnow(), caller=form["From"],
                        text=form["Body"], source_ref=form["MessageSid"],
                    )
                    await publisher.publish(
                        make_event(alert, source="/tests/chaos",
                                   event_id=received_id(form["MessageSid"]))
                    )
            finally:
                await publisher.close()
            await asyncio.sleep(3.0)

            assert await store.timers(order_id) == timers_before
            record = await store.get(order_id)
            assert record is not None
            # the timers still fire after the restart (the deadline, as if it had passed)
            timers = SlaTimers(app.state.redis, settings, lambda: app.state.publisher)
            fired = await timers.tick(utcnow() + timedelta(hours=30))
            assert fired >= 1

    assert set(receiver.posts) == expected
    assert receiver.duplicates() == {}
    # only the n redelivered copies we published ourselves, no webhook re-publish
    leftovers = [k for k, _ in await probe.take_with_keys(probe.pending(), timeout=5)]
    assert leftovers.count("alert.received.sms") == n
    assert any(k.startswith("order.sla.") for k in leftovers)


async def test_redis_unreachable_webhook_answers_503_and_the_retry_is_delivered_once(
    settings: Settings, receiver: Receiver, chaos_redis: ChaosRedis, bus_probe: object
) -> None:
    settings = chaos_settings(settings, receiver, redis_url=chaos_redis.url)
    probe = await bus_probe("alert.received.*")  # type: ignore[operator]
    async with asyncio.timeout(60):
        async with running_router(settings), running_app(settings) as (app, client):
            intake = Intake(app, client, settings)
            await intake.send_all([0])  # warm: the app's Redis pool is connected
            await receiver.wait_for(lambda: set(receiver.posts) >= expected_deliveries([0]), 10)
            await probe.take(1)

            await asyncio.to_thread(chaos_redis.kill)
            statuses = [await intake.send_once(i) for i in (1, 2, 3)]
            assert statuses == [503, 503, 503]
            assert all("redis-unavailable" in intake.bodies[i] for i in (1, 2, 3)), intake.bodies
            r = await client.post("/webhooks/twilio/sms", data=sms_form(1))
            assert r.status_code in (403, 503)  # unsigned: refused either way
            await probe.assert_nothing(within=1.0)

            await asyncio.to_thread(chaos_redis.start)  # AOF replayed
            await intake.send_all([1, 2, 3], concurrency=3)  # the peer retries
            expected = expected_deliveries(range(4))
            await receiver.wait_for(lambda: set(receiver.posts) >= expected, 30)
            assert len(await probe.take(3)) == 3
            await probe.assert_nothing(within=1.0)
    assert set(receiver.posts) == expected
    assert receiver.duplicates() == {}
