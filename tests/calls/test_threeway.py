"""Three-way call orchestration: dial order, fallbacks, evidence, idempotency (real bus + Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from adapters.ami.port import ChannelInfo
from bus.publisher import Publisher
from contracts import CallEvent, ThreeWayCall, make_event, utcnow
from contracts.common import EventStatus
from contracts.envelope import CloudEvent
from gateway.calls.threeway import ThreeWayOrchestrator
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

from .support import (
    CALL_ID,
    CALLER,
    DUTY_1,
    DUTY_2,
    LIAISON,
    OPERATOR,
    Clock,
    ScriptedPort,
    bridged_call,
    evidence,
    make_unit,
    refusal,
)

Probe = Callable[..., Awaitable[Any]]


def request(
    request_id: str = "01JREQ0000000000000000000A", *, legs: bool = True, number: str | None = None,
    status: EventStatus = EventStatus.ACTUAL,
) -> tuple[CloudEvent, ThreeWayCall]:
    command = ThreeWayCall(
        request_id=request_id, call_id=CALL_ID, incident_id="inc-105", unit_id="ls-fire",
        order_id="ord-7", number=number, state="requested", occurred_at=utcnow(),
        caller_channel=CALLER if legs else None, operator_channel=OPERATOR if legs else None,
    )
    return make_event(command, source="/tests", subject="inc-105", status=status), command


def orchestrator(
    port: ScriptedPort, redis: Redis, settings: Settings, directory: DirectoryStore,
    publisher: Publisher, clock: Clock, instance: str = "worker-1",
) -> ThreeWayOrchestrator:
    async def no_sleep(_: float) -> None:
        return None

    return ThreeWayOrchestrator(
        port=port, redis=redis, settings=settings, directory=directory, emit=publisher.publish,
        clock=clock, instance=instance, sleep=no_sleep,
    )


async def test_unit_answers_then_caller_and_operator_join_the_room(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.#")
    port = ScriptedPort()
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()

    await orch.handle_request(event, command)

    assert port.names() == ["originate", "redirect"]
    _, orig = port.actions[0]
    room = orig["exten"]
    assert orig["endpoint"] == f"PJSIP/{DUTY_1}"
    assert orig["context"] == "linkage-conf" and room.isdigit()
    assert orig["variables"] == {
        "INCIDENT_ID": "inc-105", "ORDER_ID": "ord-7", "LG_REQUEST_ID": command.request_id,
    }
    _, redirect = port.actions[1]
    assert redirect == {"channel": CALLER, "extra_channel": OPERATOR,
                        "context": "linkage-conf", "exten": room}
    seen = await probe.take_with_keys(2)
    assert [key for key, _ in seen] == ["call.threeway.ringing", "call.threeway.connected"]
    connected = seen[1][1]
    assert connected.subject == "inc-105" and connected.data["room"] == room
    assert connected.data["number"] == DUTY_1
    assert await evidence(redis, call_settings) == []


async def test_busy_duty_phone_falls_back_to_the_next_without_disturbing_the_caller(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.#")
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["busy"]})
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()

    await orch.handle_request(event, command)

    # the redirect (the only action touching the caller) comes after the answer only
    assert port.names() == ["originate", "originate", "redirect"]
    assert port.dialled() == [f"PJSIP/{DUTY_1}", f"PJSIP/{DUTY_2}"]
    keys = [key for key, _ in await probe.take_with_keys(3)]
    assert keys == ["call.threeway.ringing", "call.threeway.ringing", "call.threeway.connected"]
    [miss] = await evidence(redis, call_settings)
    assert miss["kind"] == "duty_line_miss" and miss["source"] == "threeway"
    assert miss["unit_id"] == "ls-fire" and miss["number"] == DUTY_1
    assert miss["cause"] == "17" and miss["result"] == "busy"
    assert miss["ref"] == command.request_id and miss["status"] == "actual"


async def test_nobody_answers_fails_with_every_miss_recorded(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.#")
    port = ScriptedPort(outcomes={
        f"PJSIP/{DUTY_1}": ["no-answer"], f"PJSIP/{DUTY_2}": ["busy"],
        f"PJSIP/{LIAISON}": ["no-answer"],
    })
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()

    await orch.handle_request(event, command)

    assert port.dialled() == [f"PJSIP/{DUTY_1}", f"PJSIP/{DUTY_2}", f"PJSIP/{LIAISON}"]
    assert "redirect" not in port.names()
    seen = await probe.take_with_keys(4)
    assert [k for k, _ in seen][-1] == "call.threeway.failed"
    failed = seen[-1][1].data
    assert failed["reason"] == "no-answer" and failed["attempt"] == 3 and failed["cause"] == 19
    misses = await evidence(redis, call_settings)
    assert [m["number"] for m in misses] == [DUTY_1, DUTY_2, LIAISON]
    assert [m["line"] for m in misses] == ["duty", "duty", "liaison"]
    view = await orch._store.get(command.request_id)
    assert view is not None and view["state"] == "failed"
    assert [h.get("event", h.get("state")) for h in view["history"]] == [
        "ringing", "attempt-failed", "ringing", "attempt-failed", "ringing", "attempt-failed",
        "failed",
    ]


async def test_requested_number_is_tried_first_and_not_twice(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    clock: Clock,
) -> None:
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_2}": ["no-answer"], f"PJSIP/{DUTY_1}": ["busy"],
                                  f"PJSIP/{LIAISON}": ["busy"]})
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request(number=DUTY_2)
    await orch.handle_request(event, command)
    assert port.dialled() == [f"PJSIP/{DUTY_2}", f"PJSIP/{DUTY_1}", f"PJSIP/{LIAISON}"]


async def test_lost_link_is_unknown_and_never_redialled(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.#")
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["unknown"]})
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()

    await orch.handle_request(event, command)

    assert port.dialled() == [f"PJSIP/{DUTY_1}"]
    seen = await probe.take_with_keys(2)
    assert seen[-1][0] == "call.threeway.failed" and seen[-1][1].data["reason"] == "unknown"
    assert await evidence(redis, call_settings) == []


async def test_same_request_twice_dials_once(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    clock: Clock,
) -> None:
    port = ScriptedPort()
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()
    await orch.handle_request(event, command)
    again = make_event(command, source="/tests", subject="inc-105")  # a new event id
    await orch.handle_request(again, command)
    assert port.dialled() == [f"PJSIP/{DUTY_1}"]


async def test_request_left_mid_call_by_a_dead_worker_fails_unknown_without_dialling(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.#")
    event, command = request()
    dead = orchestrator(ScriptedPort(), redis, call_settings, directory, publisher, clock, "w-old")
    await dead._store.claim(command.request_id, "w-old")
    await dead._store.record(command.request_id, clock(), "ringing", call_id=CALL_ID,
                             unit_id="ls-fire", incident_id="inc-105")
    port = ScriptedPort()
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock, "w-new")

    await orch.handle_request(event, command)

    assert port.dialled() == []
    [(key, failed)] = await probe.take_with_keys(1)
    assert key == "call.threeway.failed" and failed.data["reason"] == "unknown"


async def test_legs_found_from_live_channels_and_caller_gone_dials_nobody(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.failed")
    port = ScriptedPort(live=bridged_call())
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request("01JREQ0000000000000000000B", legs=False)
    await orch.handle_request(event, command)
    redirect = next(args for name, args in port.actions if name == "redirect")
    assert (redirect["channel"], redirect["extra_channel"]) == (CALLER, OPERATOR)

    gone = ScriptedPort(live=[])
    orch = orchestrator(gone, redis, call_settings, directory, publisher, clock)
    event, command = request("01JREQ0000000000000000000C", legs=False)
    await orch.handle_request(event, command)
    assert gone.dialled() == []
    [(_, failed)] = await probe.take_with_keys(1)
    assert failed.data["reason"] == "caller-gone"


async def test_caller_hung_up_before_redirect_releases_the_unit(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.failed")
    port = ScriptedPort(redirect_error=refusal("Redirect", "Channel does not exist: PJSIP/trunk-1"))
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()
    await orch.handle_request(event, command)
    assert port.names() == ["originate", "redirect", "hangup"]
    assert port.actions[-1][1]["channel"] == f"PJSIP/{DUTY_1}-0000abcd"
    [(_, failed)] = await probe.take_with_keys(1)
    assert failed.data["reason"] == "caller-gone"


async def test_unit_leg_hangup_ends_the_three_way_call_once(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.ended")
    port = ScriptedPort()
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request(status=EventStatus.EXERCISE)
    await orch.handle_request(event, command)
    unit_uniqueid = port.actions[0][1]["request_id"]
    hangup = CallEvent(call_id=unit_uniqueid, channel=f"PJSIP/{DUTY_1}-0000abcd", state="hangup",
                       occurred_at=utcnow(), cause=16, source_event="Hangup")
    hangup_event = make_event(hangup, source="/tests")
    await orch.handle_call_event(hangup_event, hangup)
    await orch.handle_call_event(hangup_event, hangup)  # and the caller's leg: still one end
    [(_, ended)] = await probe.take_with_keys(1)
    assert ended.data["cause"] == 16 and ended.status == EventStatus.EXERCISE
    await probe.assert_nothing(0.2)
    view = await orch._store.get(command.request_id)
    assert view is not None and view["state"] == "ended"


async def test_unknown_unit_fails_without_dialling(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    clock: Clock,
) -> None:
    port = ScriptedPort()
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()
    command = command.model_copy(update={"unit_id": "no-such-unit"})
    await orch.handle_request(event, command)
    assert port.dialled() == []
    view = await orch._store.get(command.request_id)
    assert view is not None and view["state"] == "failed" and view["reason"] == "rejected"


async def test_redirect_without_an_answer_is_unknown_and_leaves_the_channels_alone(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.failed")
    port = ScriptedPort(redirect_error=TimeoutError("no response to Redirect"))
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()
    await orch.handle_request(event, command)
    assert port.names() == ["originate", "redirect"]  # no hangup, no second redirect
    [(_, failed)] = await probe.take_with_keys(1)
    assert failed.data["reason"] == "unknown"


def unit_leg(request_id: str, state: str) -> ChannelInfo:
    return ChannelInfo(f"PJSIP/{DUTY_1}-00000047", f"{request_id}-1", f"{request_id}-1", state,
                       caller_number=None, context="linkage-conf", exten="900001", bridge_id=None)


async def test_after_a_lost_link_an_answered_unit_found_on_the_pbx_is_connected(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.connected")
    event, command = request()
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["unknown"]},
                        live=[unit_leg(command.request_id, "Up")])
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    await orch.handle_request(event, command)
    assert port.names() == ["originate", "redirect"]  # asked, not re-dialled
    [(_, connected)] = await probe.take_with_keys(1)
    assert connected.data["attempt"] == 1


async def test_after_a_lost_link_a_still_ringing_unit_leg_is_hung_up_and_reported_unknown(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.failed")
    event, command = request()
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["unknown"]},
                        live=[unit_leg(command.request_id, "Ringing")])
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    await orch.handle_request(event, command)
    assert port.names() == ["originate", "hangup"]
    [(_, failed)] = await probe.take_with_keys(1)
    assert failed.data["reason"] == "unknown"
    view = await orch._store.get(command.request_id)
    assert view is not None and "hung up" in view["detail"]


async def test_a_second_unit_joins_the_room_without_moving_the_caller_again(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    await directory.put_unit(make_unit("ls-police", phones=("+865782000110",)), by="test")
    probe = await bus_probe("call.threeway.connected")
    port = ScriptedPort()
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()
    await orch.handle_request(event, command)
    room = port.actions[0][1]["exten"]
    # the caller now sits in the room, as CoreShowChannels reports it
    port.live = [replace(bridged_call()[0], context="linkage-conf", exten=room, bridge_id="cb")]
    second = command.model_copy(
        update={"request_id": "01JREQ0000000000000000000Z", "unit_id": "ls-police"}
    )
    await orch.handle_request(make_event(second, source="/tests"), second)

    assert port.names() == ["originate", "redirect", "originate"]
    assert port.actions[-2][1]["exten"] == room  # the police dialled into the same room
    assert [e.data["unit_id"] for _, e in await probe.take_with_keys(2)] == [
        "ls-fire", "ls-police",
    ]


async def test_caller_hanging_up_while_units_are_rung_stops_the_fallbacks(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    bus_probe: Probe, clock: Clock,
) -> None:
    probe = await bus_probe("call.threeway.failed")
    gate = asyncio.Event()
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["no-answer"]}, gate=gate)
    orch = orchestrator(port, redis, call_settings, directory, publisher, clock)
    event, command = request()
    task = asyncio.create_task(orch.handle_request(event, command))
    async with asyncio.timeout(5):
        while port.in_flight == 0:
            await asyncio.sleep(0.01)
    hangup = CallEvent(call_id=CALL_ID, channel=CALLER, state="hangup", occurred_at=utcnow(),
                       cause=16, source_event="Hangup")
    await orch.handle_call_event(make_event(hangup, source="/tests"), hangup)
    gate.set()
    await asyncio.wait_for(task, 5)

    assert port.dialled() == [f"PJSIP/{DUTY_1}"]
    [(_, failed)] = await probe.take_with_keys(1)
    assert failed.data["reason"] == "caller-gone"
    assert len(await evidence(redis, call_settings)) == 1  # the first one still missed
