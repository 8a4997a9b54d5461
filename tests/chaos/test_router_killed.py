"""`linkgate router` killed with SIGKILL mid-batch, then restarted: each alert once.

The router runs as a real subprocess on the shared broker (a fresh vhost) and Redis (a
fresh prefix); nothing shared is broken, only our own process is killed. Deliveries
that were in flight at the kill (POST sent, not yet marked done) may be POSTed again
after the restart with the same `Idempotency-Key` — the centre's record is still one;
the test counts them and bounds them by what can be in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import aio_pika
import pytest

from gateway.routing.pipeline import CLASSIFY_QUEUE
from gateway.settings import Settings
from tests.chaos.services import Receiver, per_destination
from tests.chaos.stack import (
    Intake,
    chaos_settings,
    expected_deliveries,
    linkgate,
    running_app,
    settings_env,
)

pytestmark = pytest.mark.chaos

CLAIM_TTL_S = 5


@contextlib.contextmanager
def router_process(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    env = settings_env(settings) | {"LINKGATE_IDEMPOTENCY_CLAIM_TTL_S": str(CLAIM_TTL_S)}
    proc = subprocess.Popen(
        linkgate("router"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


async def wait_consuming(settings: Settings, queue: str, timeout: float = 30) -> None:
    """Until the queue exists and has a consumer (the router process is up)."""
    conn = await aio_pika.connect(settings.amqp_url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                ch = await conn.channel()
                try:
                    q = await ch.declare_queue(queue, passive=True)
                    if q.declaration_result.consumer_count:
                        await ch.close()
                        return
                    await ch.close()
                except aio_pika.exceptions.ChannelClosed:
                    pass
                await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def test_router_sigkilled_mid_batch_then_restarted_delivers_each_alert_once(
    settings: Settings, receiver: Receiver, n_alerts: int
) -> None:
    settings = chaos_settings(settings, receiver)
    receiver.delay_s = 0.005  # a centre that takes a moment: a real batch is in flight
    expected = expected_deliveries(range(n_alerts))
    started = time.monotonic()
    async with asyncio.timeout(90 + n_alerts / 10):  # bounded, scaled to the stream
        with router_process(settings) as first:
            await wait_consuming(settings, CLASSIFY_QUEUE)
            async with running_app(settings) as (app, client):
                intake = Intake(app, client, settings)
                sending = asyncio.create_task(intake.send_all(range(n_alerts)))
                await receiver.wait_for(lambda: len(receiver.posts) >= len(expected) // 4, 60)
                first.send_signal(signal.SIGKILL)
                first.wait(timeout=10)
                at_kill = len(receiver.posts)
                await sending  # the webhook keeps accepting while no router runs
        assert first.returncode == -signal.SIGKILL
        with router_process(settings) as second:
            try:
                await receiver.wait_for(lambda: set(receiver.posts) >= expected, 60 + n_alerts / 20)
            except TimeoutError:
                second.send_signal(signal.SIGTERM)
                err = second.communicate(timeout=20)[1].decode()[-2000:]
                missing = expected - set(receiver.posts)
                raise AssertionError(f"{len(missing)} missing; router said: {err}") from None
            await asyncio.sleep(1.0)
            assert second.poll() is None, "the restarted router died"

    duplicates = receiver.duplicates()
    print(
        f"\n{n_alerts} alerts; router SIGKILLed after {at_kill}/{len(expected)} deliveries; "
        f"re-POSTed after restart (same Idempotency-Key): {len(duplicates)}; "
        f"deliveries {per_destination(receiver)}; {time.monotonic() - started:.1f} s"
    )
    assert set(receiver.posts) == expected, "lost or unexpected deliveries"
    # at most what one router can have in flight: prefetch per delivery queue
    assert len(duplicates) <= settings.prefetch * 4
    assert all(n == 2 for n in duplicates.values()), duplicates
    assert os.environ.get("LINKGATE_CHAOS_STRICT") != "1" or not duplicates
