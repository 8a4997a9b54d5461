"""A centre down for a while: its breaker opens, its alerts go to its DLQ (nobody else
waits), and `linkgate dlq replay --all` delivers each of them once when it is back."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from redis.asyncio import Redis

from adapters.platforms import CentreAdapter
from contracts import Destination
from gateway.dlq import list_dead_letters
from gateway.routing.pipeline import Router, centre_config, delivery_queue
from gateway.routing.reload import RulesHolder
from gateway.settings import Settings
from tests.chaos.services import Receiver, per_destination
from tests.chaos.stack import (
    TEXTS,
    Intake,
    chaos_settings,
    expected_deliveries,
    run_linkgate,
    running_app,
)

pytestmark = pytest.mark.chaos

DOWN = "maritime-sar"
BREAKER_RESET_S = 2.0


async def wait_dead_letters(settings: Settings, queue: str, n: int, timeout: float) -> int:
    async with asyncio.timeout(timeout):
        while True:
            found = len(await list_dead_letters(settings, queue, limit=n + 10))
            if found >= n:
                return found
            await asyncio.sleep(0.5)


async def test_centre_down_breaker_opens_dlq_then_replay_delivers_once(
    settings: Settings, receiver: Receiver
) -> None:
    n = 200
    settings = chaos_settings(settings, receiver)
    expected = expected_deliveries(range(n))
    down_expected = {(d, k) for d, k in expected if d == DOWN}
    up_expected = expected - down_expected
    receiver.down.add(DOWN)

    adapters = {}
    for dest in Destination:
        config = centre_config(settings, dest)
        assert config is not None
        # the breaker's pause, shortened for the test (CentreConfig.breaker_reset_s)
        adapters[dest] = CentreAdapter(
            type(config)(**{**config.__dict__, "breaker_reset_s": BREAKER_RESET_S})
        )
    redis = Redis.from_url(settings.redis_url)
    router = Router(settings, redis, RulesHolder(None), adapters=adapters)
    started = time.monotonic()
    await router.start()
    try:
        async with asyncio.timeout(120):
            async with running_app(settings) as (app, client):
                await Intake(app, client, settings).send_all(range(n))
                # the other centres are not held up by the dead one
                await receiver.wait_for(lambda: set(receiver.posts) >= up_expected, 30)
                dead = await wait_dead_letters(
                    settings, delivery_queue(Destination.MARITIME_SAR), len(down_expected), 30
                )
            breaker = adapters[Destination.MARITIME_SAR].client.breaker
            refused = receiver.refused[DOWN]
            tries = settings.max_attempts * adapters[Destination.MARITIME_SAR].config.attempts
            assert dead == len(down_expected) == n // len(TEXTS)
            assert not any(d == DOWN for d, _ in receiver.posts)
            # the breaker cut the hammering: far fewer requests than attempts × alerts
            assert refused < dead * tries / 2, (refused, dead * tries)
            assert breaker.opened_at is not None

            receiver.down.clear()  # the centre is back
            await asyncio.sleep(BREAKER_RESET_S + 0.2)  # the breaker lets a probe through
            out = await asyncio.to_thread(run_linkgate, settings, "dlq", "replay", "--all")
            assert out.returncode == 0, out.stderr
            replayed = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
            assert len(replayed) == dead
            assert {r["to"] for r in replayed} == {delivery_queue(Destination.MARITIME_SAR)}

            await receiver.wait_for(lambda: set(receiver.posts) >= expected, 30)
            # a second replay finds nothing; nothing arrives twice
            again = await asyncio.to_thread(run_linkgate, settings, "dlq", "replay", "--all")
            assert again.returncode == 0 and again.stdout.strip() == ""
            await asyncio.sleep(1.0)
    finally:
        await router.stop()
        await redis.aclose()

    print(
        f"\n{n} alerts, {DOWN} down: {refused} requests refused before the breaker "
        f"held back, {dead} dead-lettered, replayed {len(replayed)}; deliveries "
        f"{per_destination(receiver)}; {time.monotonic() - started:.1f} s"
    )
    assert set(receiver.posts) == expected
    assert receiver.duplicates() == {}
    assert await list_dead_letters(settings) == []
