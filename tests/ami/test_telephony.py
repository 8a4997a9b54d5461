"""AmiTelephony outcomes against the capture scenarios (03 answered, 04 busy, 05/06 ...)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.ami.client import AmiClient
from adapters.ami.errors import AmiActionError
from adapters.ami.port import TelephonyPort
from adapters.ami.telephony import AmiTelephony

from .fake_server import FakeAmi
from .test_client import _config


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    server = FakeAmi(scenarios={"PJSIP/duty-1": "04", "PJSIP/duty-2": "03"})
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def port(fake: FakeAmi) -> AsyncIterator[AmiTelephony]:
    client = AmiClient(_config(fake.port))
    tel = AmiTelephony(client, hangup_grace_s=0.3)
    await client.start()
    await client.wait_connected(3)
    yield tel
    await client.close()


async def _dial(tel: TelephonyPort, endpoint: str, rid: str) -> object:
    return await asyncio.wait_for(
        tel.originate(
            request_id=rid, endpoint=endpoint, context="linkage-conf", exten="900123",
            caller_id='"110 Dispatch" <110>', timeout_s=8,
            variables={"INCIDENT_ID": "inc-1", "ORDER_ID": "ord-1"},
        ),
        5,
    )


@pytest.mark.parametrize(
    ("endpoint", "result", "cause"),
    [
        ("PJSIP/unit-answer", "answered", None),
        ("PJSIP/unit-busy", "busy", 17),            # Reason 0, Hangup before the response
        ("PJSIP/unit-noanswer", "no-answer", 19),   # Reason 3, response before the Hangup
        ("PJSIP/unit-offline", "no-answer", 19),    # never rang, still Reason 3 / cause 19
        ("PJSIP/unit-offline-sip", "unavailable", 18),
        ("PJSIP/nonexistent", "unavailable", None),  # Uniqueid <unknown>
    ],
)
async def test_outcome_follows_the_hangup_cause(
    fake: FakeAmi, port: AmiTelephony, endpoint: str, result: str, cause: int | None
) -> None:
    outcome = await _dial(port, endpoint, "req-1")
    assert outcome.result == result  # type: ignore[attr-defined]
    assert outcome.cause == cause  # type: ignore[attr-defined]
    sent = fake.actions("Originate")[0]
    assert sent["ActionID"] == sent["ChannelId"] == "req-1"
    assert sent["Async"] == "true" and sent["Timeout"] == "8000"
    assert sent.get_all("Variable") == ["LG_REQUEST_ID=req-1", "INCIDENT_ID=inc-1", "ORDER_ID=ord-1"]
    if result == "answered":
        assert outcome.channel.startswith("PJSIP/unit-answer-")  # type: ignore[attr-defined]
        assert outcome.uniqueid == "req-1"  # type: ignore[attr-defined]


async def test_busy_then_fallback_number_answers(fake: FakeAmi, port: AmiTelephony) -> None:
    first = await _dial(port, "PJSIP/duty-1", "req-2-1")
    second = await _dial(port, "PJSIP/duty-2", "req-2-2")
    assert (first.result, second.result) == ("busy", "answered")  # type: ignore[attr-defined]
    assert second.channel.startswith("PJSIP/duty-2-")  # type: ignore[attr-defined]


async def test_link_lost_while_ringing_is_unknown_and_never_redialled(fake: FakeAmi) -> None:
    fake.time_scale = 0.2  # 05 rings 8 s before giving up: 1.6 s here
    client = AmiClient(_config(fake.port))
    tel = AmiTelephony(client)
    await client.start()
    try:
        await client.wait_connected(3)
        task = asyncio.create_task(_dial(tel, "PJSIP/unit-noanswer", "req-3"))
        await fake.wait_for_action("Originate")
        await asyncio.sleep(0.1)
        await fake.drop()
        outcome = await asyncio.wait_for(task, 3)
        assert outcome.result == "unknown"  # type: ignore[attr-defined]
        await client.wait_connected(3)
        await client.action("Ping")
        assert len(fake.actions("Originate")) == 1
    finally:
        await client.close()


async def test_channels_redirect_and_hangup(fake: FakeAmi, port: AmiTelephony) -> None:
    await fake.inject("02", until=lambda f: f.name == "BridgeEnter" and "trunk" in f["Channel"])
    chans = {c.channel.split("-")[0]: c for c in await port.channels()}
    caller, operator = chans["PJSIP/trunk"], chans["PJSIP/operator"]
    assert caller.caller_number == "13800138000" and caller.exten == "110"
    assert caller.bridge_id and caller.bridge_id == operator.bridge_id
    assert caller.variables["INCIDENT_ID"].startswith("inc-")
    await port.redirect(channel=caller.channel, extra_channel=operator.channel,
                        context="linkage-conf", exten="900123")
    redirect = fake.actions("Redirect")[0]
    assert redirect["ExtraChannel"] == operator.channel and redirect["ExtraExten"] == "900123"
    await port.hangup(channel=caller.channel)
    with pytest.raises(AmiActionError, match="No such channel"):
        await port.hangup(channel=caller.channel)
    with pytest.raises(AmiActionError, match="does not exist"):
        await port.blind_transfer(channel="PJSIP/operator-deadbeef", context="hotline", exten="12345")
    await port.blind_transfer(channel=operator.channel, context="hotline", exten="12345")


async def test_redirect_joins_the_room_and_transfer_moves_the_caller(
    fake: FakeAmi, port: AmiTelephony
) -> None:
    events = port.events()
    await fake.inject("02", until=lambda f: f.name == "BridgeEnter" and "trunk" in f["Channel"])
    chans = {c.channel.split("-")[0]: c for c in await port.channels()}
    caller, operator = chans["PJSIP/trunk"], chans["PJSIP/operator"]
    await port.redirect(channel=caller.channel, extra_channel=operator.channel,
                        context="linkage-conf", exten="900124")
    after = {c.channel: c for c in await port.channels()}
    room = after[caller.channel].bridge_id
    assert room and room != caller.bridge_id and after[operator.channel].bridge_id == room
    assert after[caller.channel].exten == "900124"
    seen: list[str] = []
    async for ev in events:
        seen.append(ev["Event"])
        if seen.count("ConfbridgeJoin") == 2:
            break
    tail = [e for e in seen[seen.index("BridgeLeave") :] if e not in ("VarSet", "Newexten")]
    assert tail == [
        "BridgeLeave", "BridgeLeave", "BridgeDestroy", "BridgeCreate", "ConfbridgeStart",
        "BridgeEnter", "ConfbridgeJoin", "BridgeEnter", "ConfbridgeJoin",
    ]
    # a fresh call, transferred to 12345 by its operator
    await fake.inject("02", rename="t",
                      until=lambda f: f.name == "BridgeEnter" and "trunk" in f["Channel"])
    chans = {c.channel: c for c in await port.channels() if c.channel.endswith("-t")}
    op = next(c for c in chans.values() if c.channel.startswith("PJSIP/operator"))
    await port.blind_transfer(channel=op.channel, context="hotline", exten="12345")
    async for ev in events:
        if ev["Event"] == "BlindTransfer":
            assert ev["TransfererChannel"] == op.channel and ev["Extension"] == "12345"
            break
    left = {c.channel: c for c in await port.channels()}
    assert op.channel not in left
    caller_t = next(c for c in left.values() if c.channel.startswith("PJSIP/trunk") and
                    c.channel.endswith("-t"))
    assert (caller_t.context, caller_t.exten) == ("hotline", "12345")
