"""Durable timers driven by a controllable clock: reminders, breaches, re-dispatch,
evidence, and restarts or two sla processes firing each timer exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from redis.asyncio import Redis

from bus.publisher import Publisher
from gateway.orders.store import OrderStore, epoch
from gateway.orders.timers import SlaTimers
from gateway.settings import Settings
from gateway.supervision.evidence import read_all
from tests.orders.conftest import feedback, issue

Probe = Callable[..., Awaitable[Any]]
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def timers(redis: Redis, settings: Settings, publisher: Publisher) -> SlaTimers:
    return SlaTimers(redis, settings, lambda: publisher, clock=lambda: T0)


async def test_on_time_order_fires_no_breach(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    oid = (await issue(client))["order_id"]  # ls-fire: ack 5 min, arrive 20 min
    probe = await bus_probe("order.sla.#")
    await feedback(client, oid, "acknowledged", at(1).isoformat())
    await feedback(client, oid, "arrived", at(15).isoformat())
    sla = timers(redis, settings, publisher)
    assert await sla.tick(at(60)) == 0
    await probe.assert_nothing(within=0.3)
    assert [r for r in await read_all(redis, settings) if r.get("order_id") == oid] == []


async def test_late_order_warns_breaches_redispatches_and_records_evidence(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    oid = (await issue(client, unit_id="ls-fire"))["order_id"]
    probe = await bus_probe("order.sla.#", "order.issued")
    sla = timers(redis, settings, publisher)
    assert await sla.tick(at(3)) == 0  # ack warning is due at 3.5 min (70 %)
    assert await sla.tick(at(3.5)) == 1
    [(key, warn)] = await probe.take_with_keys(1)
    assert key == "order.sla.warning"
    assert warn.data["milestone"] == "acknowledge" and warn.data["kind"] == "warning"
    assert await sla.tick(at(5)) == 1
    got = await probe.take_with_keys(2)
    assert [k for k, _ in got] == ["order.sla.breached", "order.issued"]
    breach, again = got[0][1], got[1][1]
    assert breach.data["deadline"] == "2026-11-23T02:05:00Z"
    # ls-fire at 10:00 local: 张伟 (day shift) had it; the next liaison is 罗刚
    assert again.data["order_id"] == oid and again.data["attempt"] == 2
    assert again.data["recipients"] == ["+8613957820402"]
    assert await sla.tick(at(5)) == 0  # nothing twice
    evidence = [r for r in await read_all(redis, settings) if r.get("order_id") == oid]
    assert [(r["kind"], r["unit_id"], r["milestone"]) for r in evidence] == [
        ("missing_feedback", "ls-fire", "acknowledge"),
    ]
    # arrival deadline passes too: late_arrival; no liaison left to try
    assert await sla.tick(at(20)) == 2  # arrive warning (14 min) + breach (20 min)
    keys = [k for k, _ in await probe.take_with_keys(2)]
    assert keys == ["order.sla.warning", "order.sla.breached"]
    await probe.assert_nothing(within=0.3)
    record = (await client.get(f"/v1/orders/{oid}")).json()
    assert [h["kind"] for h in record["history"]] == [
        "issued", "sla.warning", "sla.breached", "redispatch", "sla.warning", "sla.breached",
        "redispatch_exhausted",
    ]
    # arriving late still counts as arrival; the evidence stays
    r = await feedback(client, oid, "arrived", at(26).isoformat())
    assert r.json()["state"] == "arrived"
    kinds = [r["kind"] for r in await read_all(redis, settings) if r.get("order_id") == oid]
    assert kinds == ["missing_feedback", "late_arrival"]


async def test_restart_mid_way_keeps_timers_and_fires_each_once(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    oid = (await issue(client, unit_id="ls-police"))["order_id"]  # ack 5, arrive 10
    probe = await bus_probe("order.sla.#")
    first = timers(redis, settings, publisher)
    assert await first.tick(at(4)) == 1  # the ack reminder (3.5 min)
    await probe.take(1)
    del first  # the sla process stops; a new one starts from what Redis holds
    second = timers(redis, settings, publisher)
    store = OrderStore(redis, settings)
    assert len(await store.timers(oid)) == 5  # ack breach, arrive x2, report x2
    assert await second.tick(at(11)) == 3  # ack breach, arrive reminder, arrive breach
    await probe.take(3)
    assert await second.tick(at(11)) == 0
    await probe.assert_nothing(within=0.3)


async def test_two_sla_processes_never_fire_twice(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    ids = [(await issue(client, incident_id=f"INC-{i}"))["order_id"] for i in range(10)]
    probe = await bus_probe("order.sla.#")
    a = timers(redis, settings, publisher)
    b = timers(redis, settings, publisher)
    fired = await asyncio.gather(a.tick(at(6)), b.tick(at(6)), a.tick(at(6)), b.tick(at(6)))
    assert sum(fired) == 20  # per order: ack warning + ack breach
    events = await probe.take(20)
    assert len({(e.data["order_id"], e.data["milestone"], e.data["kind"]) for e in events}) == 20
    await probe.assert_nothing(within=0.3)
    evidence = [r for r in await read_all(redis, settings) if r.get("order_id") in ids]
    assert len(evidence) == 10


async def test_claimed_but_unfinished_firing_comes_back_after_its_lease(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    oid = (await issue(client))["order_id"]
    store = OrderStore(redis, settings)
    # a process claims the ack warning and dies before carrying it out
    lease = epoch(at(3.6)) + settings.sla_claim_lease_s  # until 4.6 min
    claim = redis.register_script(
        "redis.call('ZREM', KEYS[1], ARGV[1]); return redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])"
    )
    await claim(keys=[store.timers_key, store.claimed_key], args=[f"{oid}|acknowledge|warning", lease])
    probe = await bus_probe("order.sla.#")
    sla = timers(redis, settings, publisher)
    assert await sla.tick(at(4)) == 0  # still leased to the dead process
    assert await sla.tick(at(4.7)) == 1
    [event] = await probe.take(1)
    assert (event.data["milestone"], event.data["kind"]) == ("acknowledge", "warning")
    assert await redis.zcard(store.claimed_key) == 0


async def test_drill_orders_carry_their_status(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    oid = (await issue(client, status="exercise"))["order_id"]
    probe = await bus_probe("order.sla.#")
    await timers(redis, settings, publisher).tick(at(5))
    events = await probe.take(2)
    assert {e.status.value for e in events} == {"exercise"}
    [ev] = [r for r in await read_all(redis, settings) if r.get("order_id") == oid]
    assert ev["status"] == "exercise"


async def test_missing_written_report_is_evidence(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    oid = (await issue(client, unit_id="ah-township-meicheng"))["order_id"]  # Anhua: 12 h
    await feedback(client, oid, "arrived", at(40).isoformat())
    await feedback(client, oid, "completed", at(90).isoformat())
    probe = await bus_probe("order.sla.breached")
    sla = timers(redis, settings, publisher)
    await sla.tick(at(11 * 60))
    await probe.assert_nothing(within=0.2)
    await sla.tick(at(12 * 60))
    [breach] = await probe.take(1)
    assert breach.data["milestone"] == "report"
    [ev] = [r for r in await read_all(redis, settings) if r.get("order_id") == oid]
    assert (ev["kind"], ev["deadline"]) == ("missing_report", "2026-11-23T14:00:00+00:00")
