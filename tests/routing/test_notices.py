"""The command centre is told at once of what goes wrong after routing (breaches, orders
nobody can be reached for, sea centres' status), through the same guarded delivery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

import respx
from redis.asyncio import Redis

from bus.publisher import Publisher
from contracts import SlaEvent, make_event, new_id, utcnow
from contracts.common import Destination, EventStatus
from gateway.routing.pipeline import Router
from gateway.routing.reload import RulesHolder
from gateway.settings import Settings
from tests.routing.test_router import URLS, adapters


async def test_sla_breach_reaches_the_command_centre_once(
    settings: Settings, redis: Redis, publisher: Publisher, bus_probe: Callable[..., Awaitable[object]]
) -> None:
    cc = URLS[Destination.COMMAND_CENTRE]
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        events_route = mock.post(f"{cc}events").respond(202)
        router = Router(settings, redis, RulesHolder(), adapters())
        await router.start()
        try:
            now = utcnow()
            breach = SlaEvent(
                order_id=new_id(), unit_id="ls-fire", incident_id=new_id(), milestone="arrive",
                kind="breached", deadline=now - timedelta(seconds=1), at=now,
            )
            event = make_event(breach, source="/sla", subject=breach.incident_id,
                               status=EventStatus.EXERCISE)
            await publisher.publish(event)
            await publisher.publish(event)  # redelivered or re-published: told once
            async with asyncio.timeout(8):
                while not events_route.calls:
                    await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)
        finally:
            await router.stop()
    assert len(events_route.calls) == 1
    request = events_route.calls[0].request
    assert request.headers["Idempotency-Key"] == event.id
    body = json.loads(request.content)
    assert body["type"] == "cn.linkage.order.sla" and body["status"] == "exercise"
    assert body["data"]["kind"] == "breached"
