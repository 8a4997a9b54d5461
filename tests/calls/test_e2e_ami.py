"""End to end through the real AMI client against the fake AMI server that replays the
Asterisk 23.4.1 captures (03 answered, 04 busy, 05 no answer, 06 offline), with the real
app, RabbitMQ, Redis and consumer runner. Assertions are on what the PBX received
(AMI actions), what a peer sees on the exchange, and the state in Redis."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from adapters.ami.bridge import CallBridge
from adapters.ami.client import AmiClient
from adapters.ami.telephony import AmiTelephony
from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from contracts import ThreeWayCall, make_event, utcnow
from contracts.common import EventStatus
from gateway.calls.service import CallOrchestration
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings
from tests.ami.fake_server import FakeAmi, captures_available
from tests.ami.test_client import _config

from .support import DUTY_1, DUTY_2, LIAISON, Clock, evidence, make_unit

pytestmark = pytest.mark.skipif(not captures_available(), reason="AMI captures not present")

Factory = Callable[..., Awaitable[Any]]
Probe = Callable[..., Awaitable[Any]]


@asynccontextmanager
async def pbx(
    scenarios: dict[str, str], bridge_to: tuple[Redis, Settings, Publisher] | None = None,
    time_scale: float = 0.0,
) -> AsyncIterator[tuple[FakeAmi, AmiTelephony]]:
    """The fake Asterisk and our AMI client logged in to it (with the call-event bridge
    of the ami process publishing `call.event.*`, when `bridge_to` is given)."""
    fake = FakeAmi(scenarios=scenarios, time_scale=time_scale)
    await fake.start()
    client = AmiClient(_config(fake.port))
    port = AmiTelephony(client, hangup_grace_s=0.3)
    if bridge_to is not None:
        redis, settings, publisher = bridge_to
        CallBridge(client, redis, settings, emit=publisher.publish)
    await client.start()
    try:
        await client.wait_connected(3)
        yield fake, port
    finally:
        await client.close()
        await fake.stop()


@asynccontextmanager
async def ami_process(
    settings: Settings, redis: Redis, publisher: Publisher, port: AmiTelephony,
    clock: Callable[[], Any] | None = None,
) -> AsyncIterator[CallOrchestration]:
    kwargs: dict[str, Any] = {"clock": clock} if clock else {}
    calls = CallOrchestration(port=port, redis=redis, settings=settings, emit=publisher.publish,
                              rng=random.Random(11), **kwargs)
    runner = ConsumerRunner(settings, redis, calls.consumer_specs())
    await runner.start()
    try:
        yield calls
    finally:
        await runner.stop(grace_s=5)


def dialplan(settings: Settings, **numbers: str) -> Settings:
    """Duty phones mapped to the fake PBX's scenario endpoints."""
    return settings.model_copy(update={"dial_overrides": {
        DUTY_1: numbers.get("duty1", "PJSIP/duty-1"),
        DUTY_2: numbers.get("duty2", "PJSIP/duty-2"),
        LIAISON: numbers.get("liaison", "PJSIP/liaison"),
    }})


async def inbound_110(fake: FakeAmi) -> None:
    """Capture 02's citizen call up to the moment caller and operator are bridged."""
    await fake.inject("02", until=lambda f: f.name == "BridgeEnter" and "trunk" in f["Channel"])


async def wait_state(client: httpx.AsyncClient, url: str, *states: str) -> dict[str, Any]:
    async with asyncio.timeout(8):
        while True:
            r = await client.get(url)
            if r.json()["state"] in states:
                return dict(r.json())
            await asyncio.sleep(0.02)


async def test_three_way_connected_sends_originate_then_one_dual_redirect(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    app_factory: Factory, bus_probe: Probe,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-answer")
    probe = await bus_probe("call.threeway.#")
    _, client = await app_factory(settings)
    async with pbx({}) as (fake, port), ami_process(settings, redis, publisher, port):
        await inbound_110(fake)
        caller, operator = sorted(c.channel for c in await port.channels())[::-1]
        r = await client.post("/v1/calls/1795444221.103/three-way", json={
            "unit_id": "ls-fire", "incident_id": "inc-105", "order_id": "ord-7",
        })
        assert r.status_code == 202, r.text
        request_id = r.json()["request_id"]
        view = await wait_state(client, r.json()["status_url"], "connected", "failed")

    assert view["state"] == "connected", view
    [orig] = fake.actions("Originate")
    assert orig["ActionID"] == orig["ChannelId"] == f"{request_id}-1"
    assert orig["Channel"] == "PJSIP/unit-answer" and orig["Async"] == "true"
    assert orig["Context"] == "linkage-conf" and orig["Exten"] == view["room"]
    assert orig["Timeout"] == "30000"
    assert orig.get_all("Variable") == [
        f"LG_REQUEST_ID={request_id}-1", "INCIDENT_ID=inc-105", "ORDER_ID=ord-7",
    ]
    [redirect] = fake.actions("Redirect")
    assert (redirect["Channel"], redirect["ExtraChannel"]) == (caller, operator)
    assert caller.startswith("PJSIP/trunk-") and operator.startswith("PJSIP/operator-")
    assert redirect["Context"] == redirect["ExtraContext"] == "linkage-conf"
    assert redirect["Exten"] == redirect["ExtraExten"] == view["room"]
    names = [f["Action"] for f in fake.received_actions]
    assert names.index("Redirect") > names.index("Originate")
    keys = [k for k, _ in await probe.take_with_keys(3)]
    assert keys == ["call.threeway.requested", "call.threeway.ringing", "call.threeway.connected"]


async def test_unit_busy_then_fallback_number_answers(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, app_factory: Factory,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-busy", duty2="PJSIP/unit-answer")
    probe = await bus_probe("call.threeway.*")
    _, client = await app_factory(settings)
    async with pbx({}) as (fake, port), ami_process(settings, redis, publisher, port):
        await inbound_110(fake)
        r = await client.post("/v1/calls/1795444221.103/three-way",
                              json={"unit_id": "ls-fire", "incident_id": "inc-105"})
        view = await wait_state(client, r.json()["status_url"], "connected", "failed")

    assert view["state"] == "connected" and view["number"] == DUTY_2
    dialled = [f["Channel"] for f in fake.actions("Originate")]
    assert dialled == ["PJSIP/unit-busy", "PJSIP/unit-answer"]
    names = [f["Action"] for f in fake.received_actions if f["Action"] in ("Originate", "Redirect")]
    # the caller's leg is touched once, after the second unit answered
    assert names == ["Originate", "Originate", "Redirect"]
    [miss] = await evidence(redis, settings)
    assert (miss["number"], miss["cause"], miss["result"]) == (DUTY_1, "17", "busy")
    events = [e for _, e in await probe.take_with_keys(4)]
    assert [(e.data["state"], e.data.get("number")) for e in events] == [
        ("requested", None), ("ringing", DUTY_1), ("ringing", DUTY_2), ("connected", DUTY_2),
    ]
    assert events[-1].data["attempt"] == 2


async def test_no_answer_anywhere_fails_with_every_miss_recorded(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-noanswer", duty2="PJSIP/unit-offline",
                        liaison="PJSIP/unit-noanswer")
    probe = await bus_probe("call.threeway.failed")
    async with pbx({}) as (fake, port), ami_process(settings, redis, publisher, port) as calls:
        await inbound_110(fake)
        command = ThreeWayCall(request_id="01JE2E00000000000000000000", call_id="1795444221.103",
                               incident_id="inc-105", unit_id="ls-fire", state="requested",
                               occurred_at=utcnow())
        await publisher.publish(make_event(command, source="/tests", subject="inc-105"))
        [(_, failed)] = await probe.take_with_keys(1, timeout=8)

    assert failed.data["reason"] == "no-answer" and failed.data["cause"] == 19
    assert failed.data["attempt"] == 3
    assert [f["Channel"] for f in fake.actions("Originate")] == [
        "PJSIP/unit-noanswer", "PJSIP/unit-offline", "PJSIP/unit-noanswer",
    ]
    assert fake.actions("Redirect") == []  # the caller was never disturbed
    misses = await evidence(redis, settings)
    assert [(m["number"], m["cause"]) for m in misses] == [
        (DUTY_1, "19"), (DUTY_2, "19"), (LIAISON, "19"),
    ]
    assert calls is not None


async def test_duty_checks_on_the_exchange_and_a_unit_flagged_after_three_misses(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-noanswer").model_copy(
        update={"dutycheck_concurrency": 2}
    )
    await directory.put_unit(make_unit("ls-health", phones=("+8657812345088",)), by="t")
    settings.dial_overrides["+8657812345088"] = "PJSIP/unit-answer"
    probe = await bus_probe("dutycheck.result.#")
    async with pbx({}) as (fake, port), ami_process(settings, redis, publisher, port,
                                                    clock) as calls:
        for _ in range(3):
            units = await directory.all()
            await calls.dutychecks.plan(units, start=clock(), window_minutes=30,
                                        status=EventStatus.ACTUAL, scope="all")
            clock.advance(minutes=31)
            assert await asyncio.wait_for(calls.dutychecks.run_due(), 10) == 2
        results = [e for _, e in await probe.take_with_keys(6)]

    fire = [e.data for e in results if e.data["unit_id"] == "ls-fire"]
    health = [e.data for e in results if e.data["unit_id"] == "ls-health"]
    assert [d["outcome"] for d in fire] == ["missed"] * 3
    assert [d["misses_in_period"] for d in fire] == [1, 2, 3]
    assert [d["flagged"] for d in fire] == [False, False, True]
    assert all(d["cause"] == 19 for d in fire)
    assert [d["outcome"] for d in health] == ["answered"] * 3
    assert not any(d["flagged"] for d in health)
    checks = fake.actions("Originate")
    assert len(checks) == 6
    assert {(f["Context"], f["Exten"]) for f in checks} == {("dutycheck", "s")}
    assert all(f["ActionID"] == f["ChannelId"] for f in checks)
    flagged = await calls.dutychecks.store.flagged(EventStatus.ACTUAL, "2026-11")
    assert list(flagged) == ["ls-fire"]
    misses = await evidence(redis, settings)
    assert len(misses) == 3 and {m["source"] for m in misses} == {"dutycheck"}


async def test_unit_hanging_up_ends_the_three_way_call(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    app_factory: Factory, bus_probe: Probe,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-answer")
    await bus_probe("call.event.#", "alert.#")  # a peer listening, as in production
    probe = await bus_probe("call.threeway.ended")
    _, client = await app_factory(settings)
    async with pbx({}, (redis, settings, publisher)) as (fake, port), ami_process(
        settings, redis, publisher, port
    ):
        await inbound_110(fake)
        r = await client.post("/v1/calls/1795444221.103/three-way",
                              json={"unit_id": "ls-fire", "incident_id": "inc-105"})
        view = await wait_state(client, r.json()["status_url"], "connected", "failed")
        assert view["state"] == "connected"
        await fake.hangup_remote(view["unit_channel"])  # the duty room puts the phone down
        [(key, ended)] = await probe.take_with_keys(1, timeout=8)
        assert key == "call.threeway.ended" and ended.data["cause"] == 16
        view = await wait_state(client, r.json()["status_url"], "ended")
    await probe.assert_nothing(0.2)


async def test_one_click_transfer_to_12345_finds_the_operator_leg(
    call_settings: Settings, redis: Redis, publisher: Publisher, app_factory: Factory,
    bus_probe: Probe,
) -> None:
    probe = await bus_probe("call.transfer.*")
    _, client = await app_factory(call_settings)
    async with pbx({}) as (fake, port), ami_process(call_settings, redis, publisher, port):
        await inbound_110(fake)
        r = await client.post("/v1/calls/1795444221.103/transfer-12345", json={})
        assert r.status_code == 202
        done = await wait_state(client, r.json()["status_url"], "done", "failed")
    assert done["state"] == "done", done
    [transfer] = fake.actions("BlindTransfer")
    assert transfer["Channel"].startswith("PJSIP/operator-")
    assert (transfer["Context"], transfer["Exten"]) == ("hotline", "12345")
    keys = [key for key, _ in await probe.take_with_keys(2)]
    assert keys == ["call.transfer.requested", "call.transfer.done"]


async def test_link_dropped_while_the_unit_rings_is_reported_unknown_and_never_redialled(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-noanswer")
    probe = await bus_probe("call.threeway.failed", "call.threeway.connected")
    # capture 05 rings 8 s before the Originate times out: 1.6 s at this scale
    async with pbx({}, time_scale=0.2) as (fake, port), ami_process(
        settings, redis, publisher, port
    ):
        await inbound_110(fake)
        command = ThreeWayCall(request_id="01JE2E0000000000000000000D", call_id="1795444221.103",
                               incident_id="inc-105", unit_id="ls-fire", state="requested",
                               occurred_at=utcnow())
        await publisher.publish(make_event(command, source="/tests", subject="inc-105"))
        await fake.wait_for_action("Originate")
        await asyncio.sleep(0.1)
        await fake.drop()  # the AMI link breaks while the duty phone rings
        [(key, failed)] = await probe.take_with_keys(1, timeout=8)

    assert key == "call.threeway.failed" and failed.data["reason"] == "unknown"
    assert len(fake.actions("Originate")) == 1  # the next number is not rung either
    assert fake.actions("Redirect") == []
    assert await evidence(redis, settings) == []  # not a provable miss
    # reconciled with CoreShowChannels after the reconnect: the still-ringing leg hung up
    assert fake.actions("CoreShowChannels")
    hangups = [f["Channel"] for f in fake.actions("Hangup")]
    assert hangups == [] or hangups[0].startswith("PJSIP/unit-noanswer-")
