"""The AMI link breaks during a CONNECTED three-way call (caller, operator and the unit's
duty room in the conference): the client reconnects and the call state is reconciled.

Builds on the calls team's end-to-end harness (tests/calls/test_e2e_ami.py: the capture-
driven fake Asterisk, the real AMI client, orchestration, app, RabbitMQ, Redis). Their
tests already cover a link lost while the unit's phone rings (reported `unknown`, never
redialled) and the AMI team's a link lost mid-call (tests/ami/test_process.py, synthetic
hangups on reconcile); these two cover the connected conference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from bus.publisher import Publisher
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings
from tests.ami.fake_server import captures_available
from tests.calls.conftest import call_settings, directory  # noqa: F401 (fixtures)
from tests.calls.test_e2e_ami import ami_process, dialplan, inbound_110, pbx, wait_state

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.skipif(not captures_available(), reason="AMI captures not present"),
]

Factory = Callable[..., Awaitable[Any]]


async def connected_threeway(client: Any, fake: Any) -> tuple[dict[str, Any], str]:
    await inbound_110(fake)
    r = await client.post("/v1/calls/1795444221.103/three-way",
                          json={"unit_id": "ls-fire", "incident_id": "inc-chaos"})
    assert r.status_code == 202, r.text
    view = await wait_state(client, r.json()["status_url"], "connected", "failed")
    assert view["state"] == "connected", view
    return view, r.json()["status_url"]


async def test_link_dropped_in_a_connected_three_way_call_reconnects_and_tracks_the_end(
    call_settings: Settings, redis: Redis, directory: DirectoryStore,  # noqa: F811
    publisher: Publisher, app_factory: Factory, bus_probe: Any,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-answer")
    await bus_probe("call.event.#", "alert.#")
    probe = await bus_probe("call.threeway.#")
    _, client = await app_factory(settings)
    async with asyncio.timeout(40):
        async with pbx({}, (redis, settings, publisher)) as (fake, port), ami_process(
            settings, redis, publisher, port
        ):
            view, url = await connected_threeway(client, fake)
            await probe.take(3)  # requested, ringing, connected
            logins = fake.logins
            await fake.drop()  # the network between gateway and PBX fails for a moment
            async with asyncio.timeout(10):
                while fake.logins <= logins:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # reconcile after the reconnect
            assert (await wait_state(client, url, "connected", "ended", "failed"))["state"] == (
                "connected"
            ), "the conference is still up: the drop must not end or fail it"
            await probe.assert_nothing(0.3)  # nothing spurious from the reconnect
            await fake.hangup_remote(view["unit_channel"])  # then the duty room hangs up
            [(key, _)] = await probe.take_with_keys(1, timeout=8)
            assert key == "call.threeway.ended"
            await wait_state(client, url, "ended")
    assert len(fake.actions("Originate")) == 1, "the unit was never rung twice"
    await probe.assert_nothing(0.3)


async def test_unit_hangs_up_while_the_link_is_down_the_reconcile_ends_the_call_once(
    call_settings: Settings, redis: Redis, directory: DirectoryStore,  # noqa: F811
    publisher: Publisher, app_factory: Factory, bus_probe: Any,
) -> None:
    settings = dialplan(call_settings, duty1="PJSIP/unit-answer")
    await bus_probe("call.event.#", "alert.#")
    probe = await bus_probe("call.threeway.#")
    _, client = await app_factory(settings)
    async with asyncio.timeout(40):
        async with pbx({}, (redis, settings, publisher)) as (fake, port), ami_process(
            settings, redis, publisher, port
        ):
            view, url = await connected_threeway(client, fake)
            await probe.take(3)
            await fake.down()  # Asterisk unreachable…
            await fake.hangup_remote(view["unit_channel"])  # …while the duty room hangs up
            await fake.up()
            [(key, _)] = await probe.take_with_keys(1, timeout=15)
            assert key == "call.threeway.ended", key
            final = await wait_state(client, url, "ended")
            assert final["state"] == "ended"
    await probe.assert_nothing(0.5)
