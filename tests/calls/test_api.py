"""The call and duty-check API end to end: HTTP → bus → ami-process consumers → state.

The PBX is the scripted port; the app, RabbitMQ, Redis and the consumer runner are real.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from redis.asyncio import Redis

from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from contracts.common import EventStatus
from gateway.calls.service import CallOrchestration
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

from .support import CALL_ID, CALLER, DUTY_1, OPERATOR, ScriptedPort, make_unit

Factory = Callable[..., Awaitable[Any]]
Probe = Callable[..., Awaitable[Any]]


@asynccontextmanager
async def ami_process(
    settings: Settings, redis: Redis, publisher: Publisher, port: ScriptedPort
) -> AsyncIterator[CallOrchestration]:
    """What `linkgate ami` runs for calls: the consumers, on the real broker."""
    calls = CallOrchestration(port=port, redis=redis, settings=settings, emit=publisher.publish,
                              rng=random.Random(3))
    runner = ConsumerRunner(settings, redis, calls.consumer_specs())
    await runner.start()
    try:
        yield calls
    finally:
        await runner.stop(grace_s=5)


async def wait_state(client: httpx.AsyncClient, url: str, state: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            r = await client.get(url)
            assert r.status_code == 200, r.text
            if r.json()["state"] == state:
                return dict(r.json())
            await asyncio.sleep(0.02)


async def test_three_way_request_is_carried_out_and_readable_back(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    app_factory: Factory,
) -> None:
    _, client = await app_factory(call_settings)
    port = ScriptedPort(outcomes={f"PJSIP/{DUTY_1}": ["busy"]})
    async with ami_process(call_settings, redis, publisher, port):
        r = await client.post(f"/v1/calls/{CALL_ID}/three-way", json={
            "unit_id": "ls-fire", "incident_id": "inc-105",
            "caller_channel": CALLER, "operator_channel": OPERATOR,
        })
        assert r.status_code == 202, r.text
        view = await wait_state(client, r.json()["status_url"], "connected")
    assert view["attempt"] == 2 and view["incident_id"] == "inc-105"
    assert [h.get("state", h.get("event")) for h in view["history"]] == [
        "requested", "ringing", "attempt-failed", "ringing", "connected",
    ]
    assert port.names() == ["originate", "originate", "redirect"]


async def test_bad_three_way_requests_are_refused_whole(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    app_factory: Factory,
) -> None:
    _, client = await app_factory(call_settings)
    url = f"/v1/calls/{CALL_ID}/three-way"
    port = ScriptedPort()
    async with ami_process(call_settings, redis, publisher, port):
        r = await client.post(url, json={"unit_id": "no-such-unit"})
        assert (r.status_code, r.json()["detail"]) == (404, "unknown-unit")
        r = await client.post(url, json={"unit_id": "ls-fire", "number": "12"})
        assert r.status_code == 422
        r = await client.post(url, json={"unit_id": "ls-fire",
                                         "operator_channel": "PJSIP/x\r\nAction: Command"})
        assert r.status_code == 422
        r = await client.post(url, json={"unit_id": "ls-fire", "colour": "red"})
        assert r.status_code == 422
        r = await client.post("/v1/calls/bad id!/three-way", json={"unit_id": "ls-fire"})
        assert r.status_code == 422
        r = await client.post(url, json={"unit_id": "ls-fire"}, headers={"X-API-Key": "nope"})
        assert r.status_code == 401
        r = await client.get("/v1/calls/three-way/01JNOPE000000000000000000")
        assert r.status_code == 404
        await asyncio.sleep(0.1)
    assert port.dialled() == []
    assert await redis.keys(call_settings.key("calls", "threeway", "*")) == []


async def test_double_click_gives_one_call_and_a_409_naming_it(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    app_factory: Factory,
) -> None:
    _, client = await app_factory(call_settings)
    gate = asyncio.Event()
    port = ScriptedPort(gate=gate)
    body = {"unit_id": "ls-fire", "caller_channel": CALLER, "operator_channel": OPERATOR}
    async with ami_process(call_settings, redis, publisher, port):
        first = await client.post(f"/v1/calls/{CALL_ID}/three-way", json=body)
        second = await client.post(f"/v1/calls/{CALL_ID}/three-way", json=body)
        assert first.status_code == 202
        assert second.status_code == 409
        assert second.json()["detail"]["request_id"] == first.json()["request_id"]
        gate.set()
        await wait_state(client, first.json()["status_url"], "connected")
    assert port.dialled() == [f"PJSIP/{DUTY_1}"]


async def test_without_a_call_worker_the_request_is_refused_not_lost(
    call_settings: Settings, directory: DirectoryStore, redis: Redis, app_factory: Factory
) -> None:
    _, client = await app_factory(call_settings)
    r = await client.post(f"/v1/calls/{CALL_ID}/three-way", json={"unit_id": "ls-fire"})
    assert (r.status_code, r.json()["detail"]) == (503, "no-call-worker")
    assert await redis.keys(call_settings.key("calls", "threeway", "*")) == []


async def test_transfer_to_12345_through_the_bus(
    call_settings: Settings, redis: Redis, publisher: Publisher, app_factory: Factory,
    bus_probe: Probe,
) -> None:
    probe = await bus_probe("call.transfer.done")
    _, client = await app_factory(call_settings)
    port = ScriptedPort()
    async with ami_process(call_settings, redis, publisher, port):
        r = await client.post(f"/v1/calls/{CALL_ID}/transfer-12345",
                              json={"operator_channel": OPERATOR, "incident_id": "hl-9"})
        assert r.status_code == 202, r.text
        view = await wait_state(client, r.json()["status_url"], "done")
    assert view["operator_channel"] == OPERATOR
    assert port.actions == [
        ("blind_transfer", {"channel": OPERATOR, "context": "hotline", "exten": "12345"})
    ]
    [(_, done)] = await probe.take_with_keys(1)
    assert done.subject == "hl-9"


async def test_duty_check_batch_planned_by_api_called_by_runner(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    app_factory: Factory, bus_probe: Probe,
) -> None:
    probe = await bus_probe("dutycheck.result.#")
    await directory.put_unit(make_unit("ls-water", phones=("+8657812345077",), tier=2), by="t")
    app, client = await app_factory(call_settings)
    app.state.dutycheck_rng = random.Random(5)

    r = await client.post("/v1/dutychecks", json={"units": ["ls-fire", "ghost-1", "ghost-2"]})
    assert r.status_code == 404 and r.json()["detail"]["unit_ids"] == ["ghost-1", "ghost-2"]
    assert await redis.zcard(call_settings.key("dutycheck", "due")) == 0
    r = await client.post("/v1/dutychecks", json={"tier": 1, "all": True})
    assert r.status_code == 422

    r = await client.post("/v1/dutychecks", json={"all": True, "window_minutes": 0,
                                                  "status": "test"})
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["count"] == 2
    port = ScriptedPort(outcomes={"PJSIP/+8657812345077": ["no-answer"]})
    calls = CallOrchestration(port=port, redis=redis, settings=call_settings,
                              emit=publisher.publish)
    assert await calls.dutychecks.run_due() == 2
    results = {e.data["unit_id"]: (k, e) for k, e in await probe.take_with_keys(2)}
    assert results["ls-water"][0] == "dutycheck.result.missed"
    assert results["ls-fire"][0] == "dutycheck.result.answered"
    assert results["ls-water"][1].status == EventStatus.TEST

    r = await client.get(accepted["status_url"])
    outcomes = {c["unit_id"]: c["result"]["outcome"] for c in r.json()["checks"]}
    assert outcomes == {"ls-fire": "answered", "ls-water": "missed"}
    r = await client.get("/v1/dutychecks/flags", params={"period": "2026-11"})
    assert r.status_code == 200 and r.json()["flagged"] == {}


async def test_no_body_ever_gets_a_server_error(
    call_settings: Settings, redis: Redis, directory: DirectoryStore, publisher: Publisher,
    app_factory: Factory,
) -> None:
    """Seeded fuzz: odd values in every field give a clear 4xx (or 202), never a 500."""
    _, client = await app_factory(call_settings)
    rng = random.Random(20261123)
    odd: list[Any] = [None, "", " ", "ls-fire", "x" * 300, "\r\nAction: Command", "110",
                      "+8613800138000", "13800138000", -1, 0, 3, 2**40, 1.5, True, [], {},
                      ["ls-fire"], ["ls-fire", "ls-fire"], "exercise", "2026-11-23T01:00:00Z",
                      "2026-11-23T01:00:00", "全角１３８００１３８０００"]
    keys = {
        "/v1/calls/1795444221.103/three-way": ["unit_id", "number", "incident_id", "order_id",
                                               "operator_channel", "caller_channel", "status"],
        "/v1/calls/1795444221.103/transfer-12345": ["operator_channel", "incident_id",
                                                    "status"],
        "/v1/dutychecks": ["units", "tier", "all", "start_at", "window_minutes", "status"],
    }
    seen: set[int] = set()
    async with ami_process(call_settings, redis, publisher, ScriptedPort(gate=asyncio.Event())):
        for _ in range(150):
            url = rng.choice(list(keys))
            fields = rng.sample(keys[url], rng.randint(0, min(4, len(keys[url]))))
            body = {k: rng.choice(odd) for k in fields}
            r = await client.post(url, json=body)
            assert r.status_code in (202, 404, 409, 422), (url, body, r.status_code, r.text)
            seen.add(r.status_code)
    assert {202, 422} <= seen
