"""The AMI client against the capture-driven fake server: login, actions, link loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.ami.client import AmiClient, AmiConfig
from adapters.ami.errors import AmiActionError, AmiAuthError, AmiLinkLost, AmiTimeout
from adapters.ami.frame import Frame

from .fake_server import FakeAmi


def _config(port: int, **kw: object) -> AmiConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1", "port": port, "username": "gw", "secret": "s3cret",
        "action_timeout_s": 2.0, "ping_interval_s": 5.0, "ping_timeout_s": 1.0,
        "backoff_initial_s": 0.02, "backoff_max_s": 0.2, "auth_backoff_min_s": 0.2,
    }
    values.update(kw)
    return AmiConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi(auth_fail_delay=0.01)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeAmi) -> AsyncIterator[AmiClient]:
    c = AmiClient(_config(fake.port))
    await c.start()
    await c.wait_connected(3)
    yield c
    await c.close()


async def test_md5_login_reads_the_banner_version(fake: FakeAmi, client: AmiClient) -> None:
    assert client.version == "12.0.0"
    challenge, login = fake.received_actions[:2]
    assert challenge["Action"] == "Challenge" and challenge["AuthType"] == "MD5"
    assert login["AuthType"] == "MD5" and len(login["Key"]) == 32 and "Secret" not in login
    assert login["Events"] == "call,system"  # no dialplan firehose
    pong = await client.action("Ping")
    assert pong["Ping"] == "Pong"


async def test_errors_carry_asterisk_text(client: AmiClient) -> None:
    with pytest.raises(AmiActionError) as err:
        await client.action("Hangup", {"Channel": "PJSIP/trunk-deadbeef"})
    assert err.value.message == "No such channel"


async def test_list_action_collects_items(fake: FakeAmi, client: AmiClient) -> None:
    await fake.inject("02", until=lambda f: f.name == "BridgeEnter" and "trunk" in f["Channel"])
    resp, items = await client.list_action("CoreShowChannels")
    assert resp["Message"] == "Channels will follow"
    assert sorted(i["Channel"].split("-")[0] for i in items) == ["PJSIP/operator", "PJSIP/trunk"]
    _, regex = await client.list_action("Hangup", {"Channel": "/^PJSIP\\/nothing-/"})
    assert regex == []


async def test_action_timeout(fake: FakeAmi, client: AmiClient) -> None:
    fake.silent_actions.add("status")
    with pytest.raises(AmiTimeout):
        await client.action("Status", timeout_s=0.2)


async def test_events_in_order_and_a_raising_handler_does_not_kill_the_reader(
    fake: FakeAmi,
) -> None:
    c = AmiClient(_config(fake.port, events="on"))  # the whole firehose, VarSet included
    seen: list[str] = []

    async def bad(frame: Frame) -> None:
        if frame.name == "Newstate":
            raise RuntimeError("boom")

    async def good(frame: Frame) -> None:
        seen.append(frame.get("Timestamp") or "")

    c.add_handler(bad)
    c.add_handler(good)
    await c.start()
    try:
        await c.wait_connected(3)
        await c.drain()
        seen.clear()
        emitted = await fake.inject("02")
        await asyncio.wait_for(_until(lambda: len(seen) >= len(emitted)), 3)
        assert seen == [f.get("Timestamp") or "" for f in emitted]
        assert c.stats.handler_errors == sum(f.name == "Newstate" for f in emitted) > 0
        assert (await c.action("Ping"))["Ping"] == "Pong"
    finally:
        await c.close()


async def test_originate_in_flight_is_never_resent_after_reconnect(
    fake: FakeAmi, client: AmiClient
) -> None:
    fake.silent_actions.add("originate")
    task = asyncio.create_task(
        client.action("Originate", {"Channel": "PJSIP/unit-answer", "Context": "linkage-conf",
                                    "Exten": "9001", "Priority": "1", "Async": "true"})
    )
    await fake.wait_for_action("Originate")
    await fake.drop()
    with pytest.raises(AmiLinkLost):
        await asyncio.wait_for(task, 2)
    await client.wait_connected(3)
    assert fake.logins == 2
    await client.action("Ping")
    assert len(fake.actions("Originate")) == 1


async def test_dead_link_found_by_ping(fake: FakeAmi) -> None:
    c = AmiClient(_config(fake.port, ping_interval_s=0.1, ping_timeout_s=0.2))
    await c.start()
    try:
        await c.wait_connected(3)
        fake.silent_actions.add("ping")  # the peer stops answering; TCP stays up
        await asyncio.wait_for(_until(lambda: fake.logins >= 2), 3)
        assert c.stats.ping_failures >= 1
    finally:
        await c.close()


async def test_wrong_secret_is_a_clear_error_with_backoff(fake: FakeAmi) -> None:
    c = AmiClient(_config(fake.port, secret="wrong", auth_backoff_min_s=0.2))
    await c.start()
    try:
        await asyncio.sleep(1.0)
        assert isinstance(c.last_error, AmiAuthError)
        assert "Authentication failed" in str(c.last_error)
        assert not c.connected
        # no tight loop: at most ~1 s / 0.1 s (half of the 0.2 s floor) attempts
        assert 1 <= fake.connections <= 8
        assert all(d >= 0.1 for d in c.stats.backoff_delays)
        assert fake.connections - 1 <= c.stats.auth_failures <= fake.connections
    finally:
        await c.close()


async def test_reconnects_with_growing_jittered_backoff(fake: FakeAmi, client: AmiClient) -> None:
    await fake.down()
    await asyncio.sleep(0.5)
    delays = client.stats.backoff_delays
    assert len(delays) >= 3 and delays[2] > delays[0]
    await fake.up()
    await client.wait_connected(3)
    assert (await client.action("Ping"))["Ping"] == "Pong"


async def _until(cond: object) -> None:
    assert callable(cond)
    while not cond():
        await asyncio.sleep(0.01)
