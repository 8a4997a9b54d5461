"""Orders over the bus, as `linkgate sla` runs them: orders issued by the command centre on
the bus, feedback from the SMS/WeCom channels (by id or by the short code), and the
process as a whole restarted in the middle with its timers intact."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from bus.consumer import ConsumerRunner
from bus.errors import UnroutableError
from bus.publisher import Publisher
from contracts.common import new_id, utcnow
from contracts.envelope import CloudEvent, make_event
from contracts.order import Order, OrderFeedback
from gateway.directory.store import DirectoryStore
from gateway.orders.store import OrderStore
from gateway.processes import sla
from gateway.settings import Settings
from tests.exchanges.conftest import dlq_messages

Probe = Callable[..., Awaitable[Any]]
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
async def runner(
    settings: Settings, redis: Redis, publisher: Publisher, directory: DirectoryStore
) -> AsyncIterator[ConsumerRunner]:
    r = ConsumerRunner(settings, redis, sla.consumer_specs(redis, settings, lambda: publisher))
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


def order(**kw: Any) -> Order:
    base: dict[str, Any] = {
        "order_id": new_id(), "code": "KM7RT", "incident_id": "INC-B", "unit_id": "ls-water",
        "tier": 1, "instructions": "城北水厂主管破裂,请抢修", "issued_at": T0,
        "issued_by": "command-centre",
    }
    return Order.model_validate(base | kw)


def fb(kind: str, minutes: float, **kw: Any) -> OrderFeedback:
    return OrderFeedback(
        feedback_id=new_id(), kind=kind, by="+8613957800909", via="sms",
        at=T0 + timedelta(minutes=minutes), **kw,
    )


async def publish_when_bound(publisher: Publisher, event: CloudEvent) -> None:
    """Publish once the process under test has declared its queues."""
    async with asyncio.timeout(10):
        while True:
            try:
                await publisher.publish(event)
                return
            except UnroutableError:
                await asyncio.sleep(0.05)


async def wait_state(store: OrderStore, order_id: str, state: str, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while True:
            rec = await store.get(order_id)
            if rec is not None and rec.state.value == state:
                return
            await asyncio.sleep(0.05)


async def test_order_issued_on_bus_is_tracked_and_sms_feedback_applied(
    runner: ConsumerRunner, publisher: Publisher, redis: Redis, settings: Settings,
    bus_probe: Probe,
) -> None:
    o = order()
    store = OrderStore(redis, settings)
    probe = await bus_probe("order.#")
    await publisher.publish(make_event(o, source="/command-centre", subject=o.incident_id))
    await probe.take(1)
    async with asyncio.timeout(5):
        while (rec := await store.get(o.order_id)) is None:
            await asyncio.sleep(0.05)
    assert rec.order.deadlines.arrive_by == T0 + timedelta(minutes=20)  # filled in: tier 1
    # an SMS reply "到 KM7RT" arrives before any acknowledgement, by code only
    await publisher.publish(make_event(fb("arrived", 12, order_code="KM7RT"), source="/sms"))
    await wait_state(store, o.order_id, "arrived")
    rec = await store.get(o.order_id)
    assert rec is not None
    assert [(h.kind, h.implied) for h in rec.history] == [
        ("issued", False), ("delivered", True), ("acknowledged", True), ("arrived", False),
    ]
    # the same reply again (another event id) changes nothing and publishes nothing
    await publisher.publish(make_event(fb("arrived", 13, order_id=o.order_id), source="/sms"))
    await publisher.publish(make_event(fb("completed", 50, order_id=o.order_id), source="/sms"))
    await wait_state(store, o.order_id, "completed")
    rec = await store.get(o.order_id)
    assert rec is not None and len(rec.history) == 5
    await probe.take(3)  # the three feedback events we published ourselves
    await probe.assert_nothing(within=0.3)


async def test_impossible_feedback_from_the_bus_is_dead_lettered(
    runner: ConsumerRunner, publisher: Publisher, redis: Redis, settings: Settings
) -> None:
    o = order(code="TWX9C")
    store = OrderStore(redis, settings)
    await publisher.publish(make_event(o, source="/command-centre"))
    await publisher.publish(make_event(fb("cancelled", 1, order_id=o.order_id), source="/cc"))
    await wait_state(store, o.order_id, "cancelled")
    late = fb("arrived", 15, order_id=o.order_id)
    await publisher.publish(make_event(late, source="/sms"))
    [dead] = await dlq_messages(settings, "orders.feedback", 1)
    assert dead.headers["x-death-reason"] == "order-cancelled"
    # feedback for an order nobody knows: retried (it may be in flight), then dead-lettered
    ghost = fb("arrived", 15, order_id="01GHOST")
    await publisher.publish(make_event(ghost, source="/sms"))
    [dead] = await dlq_messages(settings, "orders.feedback", 1, timeout=8)
    assert dead.headers["x-death-reason"] == "max-attempts"


async def test_sla_process_restarted_mid_way_fires_each_timer_once(
    settings: Settings, redis: Redis, publisher: Publisher, directory: DirectoryStore,
    bus_probe: Probe,
) -> None:
    fast = settings.model_copy(update={"sla_poll_interval_s": 0.05})
    now = {"t": utcnow()}
    o = order(issued_at=now["t"], code="HJ4PX")

    def clock() -> datetime:
        return now["t"]

    probe = await bus_probe("order.sla.#")
    first = asyncio.create_task(sla.run(fast, clock=clock))
    try:
        await publish_when_bound(publisher, make_event(o, source="/command-centre"))
        store = OrderStore(redis, settings)
        async with asyncio.timeout(5):
            while await store.get(o.order_id) is None:
                await asyncio.sleep(0.05)
        now["t"] += timedelta(minutes=4)  # ack reminder due (3.5 min)
        [warn] = await probe.take(1)
        assert (warn.data["milestone"], warn.data["kind"]) == ("acknowledge", "warning")
    finally:
        first.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first
    now["t"] += timedelta(minutes=17)  # 21 min: ack breach, arrive reminder + breach
    second = asyncio.create_task(sla.run(fast, clock=clock))
    third = asyncio.create_task(sla.run(fast, clock=clock))  # and a second process alongside
    try:
        events = await probe.take(3, timeout=10)
        assert sorted((e.data["milestone"], e.data["kind"]) for e in events) == [
            ("acknowledge", "breached"), ("arrive", "breached"), ("arrive", "warning"),
        ]
        await probe.assert_nothing(within=0.5)
    finally:
        for task in (second, third):
            task.cancel()
        for task in (second, third):
            with contextlib.suppress(asyncio.CancelledError):
                await task
