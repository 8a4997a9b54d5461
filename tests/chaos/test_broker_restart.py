"""RabbitMQ stopped and restarted mid-stream: every alert reaches its centre exactly once.

The broker is a test-owned node (`chaos_rabbit`); the API app (webhook intake, spool,
publisher), the router's consumers and the centres run in this process against it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aio_pika
import pytest
from redis.asyncio import Redis

from gateway.dlq import KNOWN_QUEUES, dlq_name
from gateway.settings import Settings, load_settings
from tests.chaos.services import ChaosRabbit, Receiver, per_destination
from tests.chaos.stack import (
    Intake,
    chaos_settings,
    expected_deliveries,
    running_app,
    running_router,
)
from tests.conftest import REDIS_URL, _delete_prefix

pytestmark = pytest.mark.chaos


@pytest.fixture
async def broker_settings(
    chaos_rabbit: ChaosRabbit, receiver: Receiver, tmp_path: Path
) -> AsyncIterator[Settings]:
    unique = uuid.uuid4().hex[:12]
    vhost = f"lgchaos-{unique}"
    await asyncio.to_thread(chaos_rabbit.add_vhost, vhost)
    base = load_settings(
        amqp_url=chaos_rabbit.url(vhost),
        redis_url=REDIS_URL,
        redis_prefix=f"lgt:{unique}",
        spool_dir=tmp_path / "spool",
        retry_delays_ms=[100, 500, 1000],
        max_attempts=5,
        log_json=False,
        log_level="WARNING",
    )
    try:
        yield chaos_settings(base, receiver)
    finally:
        await asyncio.to_thread(chaos_rabbit.delete_vhost, vhost)
        r = Redis.from_url(REDIS_URL)
        try:
            await _delete_prefix(r, base.redis_prefix)
        finally:
            await r.aclose()


async def dead_letter_counts(settings: Settings) -> dict[str, int]:
    conn = await aio_pika.connect(settings.amqp_url)
    try:
        out = {}
        for queue in KNOWN_QUEUES:
            ch = await conn.channel()
            try:
                q = await ch.declare_queue(dlq_name(queue), passive=True)
                out[queue] = q.declaration_result.message_count or 0
            except aio_pika.exceptions.ChannelClosed:
                out[queue] = 0
        return out
    finally:
        await conn.close()


async def queue_depths(settings: Settings) -> dict[str, int]:
    """Messages ready in every queue of the router (main, retry, DLQ), as the broker says."""
    names = [
        n
        for q in KNOWN_QUEUES
        for n in (q, dlq_name(q), *(f"{q}.retry.{d}" for d in settings.retry_delays_ms))
    ]
    conn = await aio_pika.connect(settings.amqp_url)
    out = {}
    try:
        for name in names:
            ch = await conn.channel()
            try:
                q = await ch.declare_queue(name, passive=True)
                if q.declaration_result.message_count:
                    out[name] = q.declaration_result.message_count
                await ch.close()
            except aio_pika.exceptions.ChannelClosed:
                pass
    finally:
        await conn.close()
    return out


async def test_broker_stopped_and_restarted_mid_stream_delivers_each_alert_once(
    broker_settings: Settings, chaos_rabbit: ChaosRabbit, receiver: Receiver, n_alerts: int
) -> None:
    settings = broker_settings
    expected = expected_deliveries(range(n_alerts))
    started = time.monotonic()
    async with asyncio.timeout(90 + n_alerts / 10):  # bounded, scaled to the stream
        async with running_router(settings), running_app(settings) as (app, client):
            intake = Intake(app, client, settings)
            first = asyncio.create_task(intake.send_all(range(n_alerts // 3)))

            # part of the stream through, then pull the broker from under it while the
            # rest keeps coming (sent only once the broker is down, so some of it is
            # certainly accepted during the outage however fast this machine is)
            while len(intake.accepted) < n_alerts // 6 and not first.done():
                await asyncio.sleep(0.02)
            await asyncio.to_thread(chaos_rabbit.stop_app)
            stopped_at = len(intake.accepted)
            sending = asyncio.create_task(intake.send_all(range(n_alerts // 3, n_alerts)))
            # longer than a webhook's wait for a confirm (2 s) before it spools
            await asyncio.sleep(4.0)
            during_outage = len(intake.accepted) - stopped_at
            await asyncio.to_thread(chaos_rabbit.start_app)

            await first
            await sending
            assert intake.accepted == set(range(n_alerts))
            try:
                await receiver.wait_for(lambda: set(receiver.posts) >= expected, 60 + n_alerts / 20)
            except TimeoutError:
                depths = await queue_depths(settings)
                missing = expected - set(receiver.posts)
                raise AssertionError(
                    f"{len(missing)} of {len(expected)} deliveries missing; "
                    f"spool {app.state.spool.depth()}; queues {depths}; "
                    f"e.g. {sorted(missing)[:3]}"
                ) from None
            await asyncio.sleep(1.0)  # anything late and twice would show up now
            spooled_left = app.state.spool.depth()

    elapsed = time.monotonic() - started
    missing = expected - set(receiver.posts)
    extra = set(receiver.posts) - expected
    print(
        f"\n{n_alerts} alerts, broker down 2 s after {stopped_at} accepted; "
        f"{during_outage} accepted during the outage; intake retries {intake.retries}; "
        f"deliveries {per_destination(receiver)}; {elapsed:.1f} s"
    )
    assert not missing, f"{len(missing)} deliveries lost, e.g. {sorted(missing)[:3]}"
    assert not extra, f"unexpected deliveries: {sorted(extra)[:3]}"
    assert receiver.duplicates() == {}, f"delivered twice: {list(receiver.duplicates())[:5]}"
    assert spooled_left == 0
    # at 16 in flight, more than two rounds answered: the webhook kept accepting (a stalled
    # event loop, as rich tracebacks of every failed publish once caused, answers ~none)
    assert during_outage > 32, "the webhook stopped accepting while the broker was down"
    assert await dead_letter_counts(settings) == dict.fromkeys(KNOWN_QUEUES, 0)
