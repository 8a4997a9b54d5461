"""`linkgate ami` end to end: fake AMI (captures) → real RabbitMQ and Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from adapters.ami.client import AmiConfig
from adapters.ami.events import to_call_event
from adapters.ami.frame import Frame
from gateway.processes import ami as ami_process
from gateway.settings import Settings

from .fake_server import FakeAmi, call_events
from .test_client import _config

Probe = Callable[..., Awaitable[Any]]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi(auth_fail_delay=0.01)
    await server.start()
    yield server
    await server.stop()


async def _start(settings: Settings, fake: FakeAmi, **kw: object) -> asyncio.Task[None]:
    task = asyncio.create_task(
        ami_process.run(settings, extra_tasks=[], client_config=_config(fake.port, **kw))
    )
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=10)
    if not done:  # pragma: no cover - diagnostics for a stuck shutdown
        for t in asyncio.all_tasks():
            coro: Any = t.get_coro()
            chain = []
            while coro is not None:
                frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
                if frame is not None:
                    chain.append(f"{frame.f_code.co_filename}:{frame.f_lineno}")
                coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
            print("TASK", t.get_name(), " <- ".join(chain))
        raise AssertionError("the ami process did not stop within 10 s of cancellation")
    assert task.cancelled()


async def _until(cond: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.01)


def _mapped(frames: list[Frame]) -> int:
    return sum(to_call_event(f, {"from-trunk"}) is not None for f in frames)


def _bridged(f: Frame) -> bool:
    return f.name == "BridgeEnter" and "trunk" in (f.get("Channel") or "")


async def test_inbound_110_call_gives_one_alert_and_its_call_events(
    settings: Settings, fake: FakeAmi, bus_probe: Probe
) -> None:
    alerts = await bus_probe("alert.received.call")
    calls = await bus_probe("call.event.#")
    task = await _start(settings, fake)
    try:
        await fake.wait_for_action("BridgeList")  # connected and reconciled
        emitted = await fake.inject("02")
        got = await calls.take_with_keys(_mapped(emitted), timeout=5)
        [alert] = await alerts.take(1)
        assert alert.type == "cn.linkage.alert.received"
        assert alert.data["caller"] == "+8613800138000" and alert.data["called"] == "110"
        assert alert.data["channel"] == "call"
        trunk_uid = next(f["Uniqueid"] for f in emitted if f.name == "Newchannel")
        assert alert.data["call_id"] == trunk_uid
        keys = [k for k, _ in got]
        assert keys.count("call.event.new") == 2 and keys.count("call.event.hangup") == 2
        hangups = [e for k, e in got if k == "call.event.hangup"]
        assert {e.data["cause"] for e in hangups} == {16}
        await alerts.assert_nothing(0.3)
        await calls.assert_nothing(0.1)
    finally:
        await _stop(task)


async def test_link_dropped_mid_call_is_reconciled_without_loss_or_duplicates(
    settings: Settings, fake: FakeAmi, bus_probe: Probe
) -> None:
    alerts = await bus_probe("alert.received.call")
    calls = await bus_probe("call.event.#")
    task = await _start(settings, fake)
    try:
        await fake.wait_for_action("BridgeList")
        # call A is up and bridged when the link drops
        first = await fake.inject("02", until=_bridged)
        await calls.take(_mapped(first))
        [alert_a] = await alerts.take(1)
        await fake.down()
        # while we are blind: call A ends, call B (another 110 call) starts and is answered
        rest = call_events("02")[len(first) :]
        await fake.emit([f for _, f in rest])
        b_first = await fake.inject("02", rename="b", until=_bridged)
        assert not fake.channels.keys() & {f.get("Uniqueid") for f in first}
        await fake.up()
        # reconcile: synthetic hangups for A's 2 legs, `new` for B's 2 legs, one alert for B
        got = await calls.take_with_keys(4, timeout=5)
        by_key: dict[str, list[Any]] = {}
        for key, event in got:
            by_key.setdefault(key, []).append(event)
        assert sorted(e.data["source_event"] for e in by_key["call.event.hangup"]) == [
            "Reconcile", "Reconcile",
        ]
        a_ids = {f["Uniqueid"] for f in first if f.name == "Newchannel"}
        assert {e.data["call_id"] for e in by_key["call.event.hangup"]} == a_ids
        assert {e.data["call_id"] for e in by_key["call.event.new"]} == {
            f["Uniqueid"] for f in b_first if f.name == "Newchannel"
        }
        [alert_b] = await alerts.take(1)
        assert alert_b.data["call_id"] != alert_a.data["call_id"]
        assert alert_b.data["caller"] == "+8613800138000"
        # call B ends live: each leg's hangup once; nothing else
        rest_b = await fake.inject("02", rename="b", start=len(b_first))
        hangups = await calls.take_with_keys(_mapped(rest_b), timeout=5)
        assert sum(k == "call.event.hangup" for k, _ in hangups) == 2
        # another reconnect with nothing changed publishes nothing
        await fake.drop()
        await _until(lambda: fake.logins >= 3)
        await asyncio.sleep(0.3)
        await alerts.assert_nothing(0.2)
        await calls.assert_nothing(0.1)
    finally:
        await _stop(task)


async def test_wrong_credentials_clear_error_and_backoff(
    settings: Settings, fake: FakeAmi, bus_probe: Probe
) -> None:
    calls = await bus_probe("call.event.#", "alert.#")
    task = await _start(settings, fake, secret="wrong", auth_backoff_min_s=0.3)
    try:
        await asyncio.sleep(1.0)
        assert not task.done()  # the process waits and retries; it does not crash or spin
        assert 1 <= fake.connections <= 6
        assert fake.logins == 0
        assert [a["Action"] for a in fake.received_actions[:2]] == ["Challenge", "Login"]
        await calls.assert_nothing(0.1)
    finally:
        await _stop(task)


def test_amiconfig_from_settings(settings: Settings) -> None:
    cfg = AmiConfig.from_settings(settings, ping_interval_s=1.0)
    assert (cfg.host, cfg.port, cfg.ping_interval_s) == (settings.ami_host, settings.ami_port, 1.0)


async def test_default_process_runs_the_call_orchestration_too(
    settings: Settings, fake: FakeAmi, bus_probe: Probe
) -> None:
    """`linkgate ami` as started by the CLI: the link plus gateway/calls' consumers."""
    alerts = await bus_probe("alert.received.call")
    task = asyncio.create_task(ami_process.run(settings, client_config=_config(fake.port)))
    try:
        await fake.wait_for_action("BridgeList")
        await asyncio.sleep(0.5)
        assert not task.done(), task.exception() if task.done() else None
        await fake.inject("02")
        [alert] = await alerts.take(1)
        assert alert.data["called"] == "110"
    finally:
        await _stop(task)


async def test_restart_ends_calls_that_ended_while_the_gateway_was_down(
    settings: Settings, fake: FakeAmi, bus_probe: Probe, redis: Any
) -> None:
    """State left by an earlier process run (its own connection ids) is reconciled too."""
    calls = await bus_probe("call.event.#")
    record = '{"channel": "PJSIP/trunk-00000001", "linked_id": "1795440000.1", "gen": 1}'
    await redis.hset(settings.key("ami", "channels"), "1795440000.1", record)
    task = await _start(settings, fake)
    try:
        [event] = await calls.take(1)
        assert (event.data["state"], event.data["call_id"]) == ("hangup", "1795440000.1")
        assert event.data["source_event"] == "Reconcile"
        await calls.assert_nothing(0.3)
        assert not await redis.hexists(settings.key("ami", "channels"), "1795440000.1")
    finally:
        await _stop(task)
