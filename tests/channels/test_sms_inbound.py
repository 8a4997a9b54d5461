"""Inbound SMS through the real app: signatures, citizens, liaison replies, duplicates."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from prometheus_client import REGISTRY

from contracts.directory import Unit
from contracts.envelope import parse_event
from gateway.channels.order_index import index_order, open_orders_for
from gateway.settings import Settings
from tests.channels.conftest import (
    LIAISON_A,
    PUBLIC,
    form_fixture,
    make_order,
    make_unit,
    post_twilio,
    sid,
    twilio_signature,
)

SMS = "/webhooks/twilio/sms"


@pytest.fixture
async def sms_app(app_factory: Any, chan_settings: Settings) -> Any:
    app, client = await app_factory(chan_settings)
    await app.state.directory.put_unit(make_unit(), by="test")
    return app, client


@pytest.mark.parametrize(
    ("fixture", "caller", "media"),
    [("sms_citizen_fire.form", "+8613800138000", 0), ("sms_citizen_mms.form", "+8613800138001", 1)],
)
async def test_citizen_sms_becomes_an_alert(
    sms_app: Any, bus_probe: Any, fixture: str, caller: str, media: int
) -> None:
    _, client = sms_app
    probe = await bus_probe("alert.received.#", "order.feedback.#")
    form = form_fixture(fixture)
    r = await post_twilio(client, SMS, form)
    assert r.status_code == 200 and "<Message>" in r.text and "已收到" in r.text
    [(key, event)] = await probe.take_with_keys(1)
    _, alert = parse_event(event.to_json())
    assert key == "alert.received.sms"
    assert alert.caller == caller and alert.text == form["Body"]  # type: ignore[attr-defined]
    assert alert.source_ref == form["MessageSid"] and len(alert.media) == media  # type: ignore[attr-defined]
    assert event.subject == alert.incident_id  # type: ignore[attr-defined]
    await probe.assert_nothing(0.2)


BAD_SIGNATURES = [
    "unsigned",
    "wrong-token",
    "tampered-body",
    "replayed-with-other-params",
    "signed-for-internal-url",
]


async def test_bad_signatures_are_refused_and_publish_nothing(sms_app: Any, bus_probe: Any) -> None:
    _, client = sms_app
    probe = await bus_probe("#")
    form = form_fixture("sms_citizen_fire.form")
    good = twilio_signature(PUBLIC + SMS, form)
    for case in BAD_SIGNATURES:
        if case == "unsigned":
            r = await post_twilio(client, SMS, form, signature="")
        elif case == "wrong-token":
            wrong = twilio_signature(PUBLIC + SMS, form, "x" * 32)
            r = await post_twilio(client, SMS, form, signature=wrong)
        elif case == "tampered-body":
            r = await post_twilio(client, SMS, {**form, "Body": "假警报"}, signature=good)
        elif case == "replayed-with-other-params":
            r = await post_twilio(client, SMS, {**form, "From": "+8613800138999"}, signature=good)
        else:
            r = await post_twilio(client, SMS, form, sign_url="http://testserver" + SMS)
        assert r.status_code == 403 and r.json()["detail"] == "bad-signature", case
    await probe.assert_nothing(0.3)


async def test_duplicate_gets_same_answer_and_publishes_once(sms_app: Any, bus_probe: Any) -> None:
    _, client = sms_app
    probe = await bus_probe("alert.received.#")
    form = form_fixture("sms_citizen_fire.form")
    labels = {"channel": "sms", "outcome": "duplicate"}
    before = REGISTRY.get_sample_value("linkgate_channel_inbound_total", labels) or 0.0
    first = await post_twilio(client, SMS, form)
    again = await post_twilio(client, SMS, form)
    assert first.status_code == again.status_code == 200 and first.text == again.text
    assert REGISTRY.get_sample_value("linkgate_channel_inbound_total", labels) == before + 1
    await probe.take(1)
    await probe.assert_nothing(0.3)


async def test_overlapping_duplicates_publish_once(sms_app: Any, bus_probe: Any) -> None:
    _, client = sms_app
    probe = await bus_probe("alert.received.#")
    form = form_fixture("sms_citizen_fire.form")
    answers = await asyncio.gather(*(post_twilio(client, SMS, form) for _ in range(5)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    await probe.take(1)
    await probe.assert_nothing(0.3)


REPLIES = [
    ("1", "acknowledged"),
    ("收到", "acknowledged"),
    ("2", "arrived"),
    ("已到", "arrived"),
    ("到达现场", "arrived"),
    ("3", "completed"),
    ("完成", "completed"),
    ("处置完毕", "completed"),
    ("4", "reinforcement"),
    ("请求增援", "reinforcement"),
    ("２", "arrived"),  # full-width digit
    ("移交 市公安局", "handed_over"),
]


async def test_liaison_replies_of_every_kind_with_one_open_order(
    sms_app: Any, bus_probe: Any, chan_settings: Settings
) -> None:
    app, client = sms_app
    police = Unit(
        id="ls-police",
        name="市公安局",
        tier=1,
        jurisdiction="lishui",
        duty_phones=["+865782000037"],
    )
    await app.state.directory.put_unit(police, by="test")
    order = make_order("K7QFA")
    await index_order(app.state.redis, chan_settings, order, [LIAISON_A])
    probe = await bus_probe("alert.received.#", "order.feedback.#")
    for body, kind in REPLIES:
        form = form_fixture("sms_liaison_reply.form", SID=sid(), FROM=LIAISON_A, BODY=body)
        r = await post_twilio(client, SMS, form)
        assert r.status_code == 200 and "K7QFA" in r.text, body
        [(key, event)] = await probe.take_with_keys(1)
        assert key == f"order.feedback.{kind}", body
        data = event.data
        assert data["order_id"] == order.order_id and data["order_code"] == "K7QFA"
        assert data["by"] == "张伟" and data["via"] == "sms" and data["raw_text"] == body
        if kind == "handed_over":
            assert data["handed_to_unit"] == "ls-police"


async def test_several_open_orders_need_the_code(
    sms_app: Any, bus_probe: Any, chan_settings: Settings
) -> None:
    app, client = sms_app
    first, second = make_order("K7QFA"), make_order("M3PAC")
    for order in (first, second):
        await index_order(app.state.redis, chan_settings, order, [LIAISON_A])
    probe = await bus_probe("order.feedback.#", "alert.received.#")
    ask = form_fixture("sms_liaison_reply.form", SID=sid(), FROM=LIAISON_A, BODY="2")
    r = await post_twilio(client, SMS, ask)
    assert "K7QFA" in r.text and "M3PAC" in r.text  # asked which one
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "alert.received.sms" and event.data["reporter"] == "liaison:t-fire"
    kept = await app.state.redis.lrange(chan_settings.key("chan", "sms", "unparsed"), 0, -1)
    assert json.loads(kept[0])["text"] == "2"
    # the same reply with a code, even glued to the digit, resolves
    for body, code, order in (("2 M3PAC", "M3PAC", second), ("2k7qfa", "K7QFA", first)):
        form = form_fixture("sms_liaison_reply.form", SID=sid(), FROM=LIAISON_A, BODY=body)
        r = await post_twilio(client, SMS, form)
        assert f"指令{code}" in r.text
        [(key, event)] = await probe.take_with_keys(1)
        assert key == "order.feedback.arrived" and event.data["order_id"] == order.order_id


async def test_unparseable_replies_are_kept_asked_again_and_reach_the_centre(
    sms_app: Any, bus_probe: Any, chan_settings: Settings
) -> None:
    app, client = sms_app
    await index_order(app.state.redis, chan_settings, make_order("K7QFA"), [LIAISON_A])
    probe = await bus_probe("order.feedback.#", "alert.received.#")
    bodies = ["好的马上", "未到达", "移交", "移交 不存在的单位"]
    for body in bodies:
        form = form_fixture("sms_liaison_reply.form", SID=sid(), FROM=LIAISON_A, BODY=body)
        r = await post_twilio(client, SMS, form)
        assert r.status_code == 200 and "<Message>" in r.text and "回复" in r.text, body
        [(key, event)] = await probe.take_with_keys(1)
        assert key == "alert.received.sms" and event.data["text"] == body
        assert event.data["reporter"] == "liaison:t-fire"
    kept = await app.state.redis.lrange(chan_settings.key("chan", "sms", "unparsed"), 0, -1)
    assert [json.loads(k)["text"] for k in reversed(kept)] == bodies


async def test_unknown_sender_with_an_open_code_is_feedback(
    sms_app: Any, bus_probe: Any, chan_settings: Settings
) -> None:
    """A liaison texting from another phone: the order code identifies the order."""
    app, client = sms_app
    order = make_order("K7QFA")
    await index_order(app.state.redis, chan_settings, order, [LIAISON_A])
    probe = await bus_probe("order.feedback.#", "alert.received.#")
    form = form_fixture(
        "sms_liaison_reply.form", SID=sid(), FROM="+8613700000001", BODY="K7QFA 已到"
    )
    await post_twilio(client, SMS, form)
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "order.feedback.arrived" and event.data["order_id"] == order.order_id
    # the same stranger without a reply word is a citizen
    form = form_fixture(
        "sms_liaison_reply.form", SID=sid(), FROM="+8613700000001", BODY="K7QFA 着火"
    )
    await post_twilio(client, SMS, form)
    [(key, _)] = await probe.take_with_keys(1)
    assert key == "alert.received.sms"
    assert await open_orders_for(app.state.redis, chan_settings, "+8613700000001") == []


async def test_liaison_without_open_orders_reporting_something_is_an_alarm(
    sms_app: Any, bus_probe: Any
) -> None:
    _, client = sms_app
    probe = await bus_probe("order.feedback.#", "alert.received.#")
    body = "丽青路隧道口两车相撞，有人受伤"
    form = form_fixture("sms_liaison_reply.form", SID=sid(), FROM=LIAISON_A, BODY=body)
    r = await post_twilio(client, SMS, form)
    assert "报警已收到" in r.text
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "alert.received.sms" and event.data["reporter"] == "liaison:t-fire"
    # a reply word without any open order: asked for the code, still kept
    form = form_fixture("sms_liaison_reply.form", SID=sid(), FROM=LIAISON_A, BODY="已到")
    r = await post_twilio(client, SMS, form)
    assert "未找到" in r.text
    [(key, _)] = await probe.take_with_keys(1)
    assert key == "alert.received.sms"


async def test_a_surge_beyond_the_redis_pool_is_accepted_in_full(
    app_factory: Any, chan_settings: Settings, bus_probe: Any
) -> None:
    """250 texts at once against a pool of 8 Redis connections: each webhook waits its turn
    for a connection and answers 200 (redis-py's stock pool answered 503 past its size, and
    Twilio does not resend an inbound SMS); every text is on the bus once."""
    small = chan_settings.model_copy(update={"redis_max_connections": 8})
    _, client = await app_factory(small)
    probe = await bus_probe("alert.received.#")
    forms = []
    for i in range(250):
        form = form_fixture("sms_citizen_fire.form")
        form["MessageSid"] = "SM" + f"{i:032x}"
        form["From"] = f"+861380013{i:04d}"
        forms.append(form)
    answers = await asyncio.gather(*(post_twilio(client, SMS, f) for f in forms))
    assert [r.status_code for r in answers] == [200] * 250
    got = await probe.take(250, timeout=30)
    assert sorted(e.data["source_ref"] for e in got) == sorted(f["MessageSid"] for f in forms)
    await probe.assert_nothing(0.3)
