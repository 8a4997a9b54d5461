"""Duty-line spot checks: planning in a window, bounded concurrency, misses and the flag."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from redis.asyncio import Redis

from bus.publisher import Publisher
from contracts.common import EventStatus
from contracts.directory import DutyWindow
from gateway.calls.dutycheck import DutyCheckRunner, period_of, plan_batch
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

from .support import DUTY_1, Clock, ScriptedPort, evidence, make_unit

Probe = Callable[..., Awaitable[Any]]


def runner(port: ScriptedPort, redis: Redis, settings: Settings, directory: DirectoryStore,
           publisher: Publisher, clock: Clock, instance: str = "w1") -> DutyCheckRunner:
    return DutyCheckRunner(port=port, redis=redis, settings=settings, directory=directory,
                           emit=publisher.publish, clock=clock, rng=random.Random(7),
                           instance=instance)


def test_plan_puts_every_unit_at_a_random_moment_inside_the_window() -> None:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    units = [make_unit(f"u{i}") for i in range(50)]
    plan = plan_batch(units, batch_id="b", start=start, window_minutes=120,
                      rng=random.Random(1), status=EventStatus.ACTUAL)
    assert len(plan) == 50 and {c.number for c in plan} == {DUTY_1}
    assert all(start <= c.due_at <= start + timedelta(minutes=120) for c in plan)
    assert len({c.due_at for c in plan}) == 50  # not all at the same hour
    again = plan_batch(units, batch_id="b", start=start, window_minutes=120,
                       rng=random.Random(1), status=EventStatus.ACTUAL)
    assert [c.due_at for c in again] == [c.due_at for c in plan]


def test_period_is_the_local_calendar_month() -> None:
    assert period_of(datetime(2026, 11, 30, 16, 30, tzinfo=UTC)) == "2026-12"  # 00:30 Dec 1 CST


async def test_checks_run_when_due_and_never_more_at_once_than_configured(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("dutycheck.result.#")
    settings = call_settings.model_copy(update={"dutycheck_concurrency": 3})
    units = [make_unit(f"u{i}", phones=(f"+86578123450{i:02d}",)) for i in range(8)]
    for unit in units:
        await directory.put_unit(unit, by="test")
    gate = asyncio.Event()
    port = ScriptedPort(gate=gate)
    run = runner(port, redis, settings, directory, publisher, clock)
    batch_id, _ = await run.plan(units, start=clock(), window_minutes=60,
                                      status=EventStatus.ACTUAL, scope="test")

    assert await run.run_due() == 0  # nothing is due at the window's start… (seeded rng)
    clock.advance(minutes=61)
    task = asyncio.create_task(run.run_due())
    async with asyncio.timeout(5):
        while port.in_flight < 3:
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert port.in_flight == 3
    gate.set()
    assert await asyncio.wait_for(task, 5) == 8
    assert port.max_in_flight == 3
    results = await probe.take_with_keys(8)
    assert {k for k, _ in results} == {"dutycheck.result.answered"}
    assert {e.data["unit_id"] for _, e in results} == {u.id for u in units}
    view = await run.store.batch(batch_id)
    assert view is not None and all(c["result"]["outcome"] == "answered" for c in view["checks"])
    assert await run.run_due() == 0  # each check is called once


async def test_a_unit_unanswered_three_times_in_the_month_is_flagged(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("dutycheck.result.#")
    unit = make_unit("ls-water", phones=(DUTY_1,))
    await directory.put_unit(unit, by="test")
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["no-answer", "busy", "no-answer",
                                                       "no-answer"]})
    run = runner(port, redis, call_settings, directory, publisher, clock)
    for _ in range(4):
        await run.plan([unit], start=clock(), window_minutes=0, status=EventStatus.ACTUAL,
                       scope="test")
        assert await run.run_due() == 1
        clock.advance(days=1)

    seen = await probe.take_with_keys(4)
    assert [k for k, _ in seen] == [
        "dutycheck.result.missed", "dutycheck.result.busy", "dutycheck.result.missed",
        "dutycheck.result.missed",
    ]
    data = [e.data for _, e in seen]
    assert [d["misses_in_period"] for d in data] == [1, 1, 2, 3]
    assert [d["flagged"] for d in data] == [False, False, False, True]
    assert data[0]["cause"] == 19 and data[1]["cause"] == 17
    assert data[0]["started_at"] <= data[0]["ended_at"]
    assert await run.store.flagged(EventStatus.ACTUAL, "2026-11") == {
        "ls-water": clock.now.replace(day=clock.now.day - 1).isoformat()
    }
    misses = await evidence(redis, call_settings)
    assert [m["result"] for m in misses] == ["no-answer", "busy", "no-answer", "no-answer"]
    assert {m["source"] for m in misses} == {"dutycheck"}


async def test_drill_misses_are_counted_apart_from_real_ones(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    clock: Clock,
) -> None:
    unit = make_unit("ls-water", phones=(DUTY_1,))
    await directory.put_unit(unit, by="test")
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["no-answer"]})
    run = runner(port, redis, call_settings, directory, publisher, clock)
    for _ in range(3):
        await run.plan([unit], start=clock(), window_minutes=0, status=EventStatus.EXERCISE,
                       scope="drill")
        await run.run_due()
    assert await run.store.flagged(EventStatus.ACTUAL, "2026-11") == {}
    assert list(await run.store.flagged(EventStatus.EXERCISE, "2026-11")) == ["ls-water"]


async def test_a_check_left_in_flight_by_a_dead_runner_is_reported_not_redialled(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("dutycheck.result.#")
    unit = make_unit("ls-water", phones=(DUTY_1,))
    await directory.put_unit(unit, by="test")
    dead = runner(ScriptedPort(), redis, call_settings, directory, publisher, clock, "w-old")
    await dead.plan([unit], start=clock(), window_minutes=0, status=EventStatus.ACTUAL,
                    scope="test")
    [claimed] = await dead.store.claim_due(clock(), 10, "w-old")  # …and then it died

    port = ScriptedPort()
    fresh = runner(port, redis, call_settings, directory, publisher, clock, "w-new")
    assert await fresh.recover() == 1
    assert await fresh.run_due() == 0 and port.dialled() == []
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "dutycheck.result.failed" and event.data["check_id"] == claimed.check_id


async def test_scheduled_day_plans_one_batch_of_every_unit_inside_the_window(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    clock: Clock,
) -> None:
    settings = call_settings.model_copy(update={
        "dutycheck_schedule_days": [23], "dutycheck_window_start": "09:00",
        "dutycheck_window_minutes": 120,
    })
    run = runner(ScriptedPort(), redis, settings, directory, publisher, clock)  # 10:00 local
    batch_id = await run.maybe_schedule()
    assert batch_id is not None
    assert await run.maybe_schedule() is None  # once a day
    view = await run.store.batch(batch_id)
    assert view is not None and [c["unit_id"] for c in view["checks"]] == ["ls-fire"]
    due = datetime.fromisoformat(view["checks"][0]["due_at"])
    assert clock() <= due <= clock() + timedelta(minutes=60)


async def test_the_directory_as_it_stands_at_call_time_decides_who_is_rung(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("dutycheck.result.#")
    old = make_unit("ls-water", phones=(DUTY_1,))
    support = make_unit("ls-archive", phones=("+8657812345066",), tier=3).model_copy(
        update={"working_hours": DutyWindow(weekdays=[1, 2, 3, 4, 5], start=time(8, 30),
                                            end=time(17, 30))}
    )
    for unit in (old, support):
        await directory.put_unit(unit, by="test")
    port = ScriptedPort()
    run = runner(port, redis, call_settings, directory, publisher, clock)
    await run.plan([old, support], start=clock(), window_minutes=0, status=EventStatus.ACTUAL,
                   scope="test")
    await directory.put_unit(make_unit("ls-water", phones=("+8657812345055",)), by="liaison")
    clock.now = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # 22:00 local: archive closed
    assert await run.run_due() == 2

    assert port.dialled() == ["PJSIP/+8657812345055"]  # the new duty phone, at once
    results = {e.data["unit_id"]: e.data for _, e in await probe.take_with_keys(2)}
    assert results["ls-water"]["number"] == "+8657812345055"
    assert results["ls-archive"]["outcome"] == "failed"
    assert "working hours" in results["ls-archive"]["cause_txt"]
    assert results["ls-archive"]["misses_in_period"] == 0


async def test_own_check_stuck_in_flight_is_reported_but_a_running_one_is_left_alone(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("dutycheck.result.#")
    unit = make_unit("ls-water", phones=(DUTY_1,))
    await directory.put_unit(unit, by="test")
    gate = asyncio.Event()
    run = runner(ScriptedPort(gate=gate), redis, call_settings, directory, publisher, clock)
    for _ in range(2):
        await run.plan([unit], start=clock(), window_minutes=0, status=EventStatus.ACTUAL,
                       scope="test")
    [stuck] = await run.store.claim_due(clock(), 1, "w1")  # its report was lost
    ringing = asyncio.create_task(run.run_due())  # the other one is ringing right now
    async with asyncio.timeout(5):
        while len(await run.store.in_flight()) < 2:
            await asyncio.sleep(0.01)
    assert await run.recover(others=False) == 1
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "dutycheck.result.failed" and event.data["check_id"] == stuck.check_id
    gate.set()
    assert await asyncio.wait_for(ringing, 5) == 1
    [(key, _)] = await probe.take_with_keys(1)
    assert key == "dutycheck.result.answered"
