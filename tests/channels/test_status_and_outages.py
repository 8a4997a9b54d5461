"""Delivery receipts (forward only, full history), broker down, Redis down, SMS length."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.sms.length import segments, truncate_units, utf16_units
from bus.publisher import Publisher
from contracts.common import new_id
from gateway.api.app import create_app
from gateway.channels.delivery import DeliveryStore
from gateway.settings import Settings
from tests.channels.conftest import LIAISON_A, form_fixture, post_twilio, sid, wechat_query

STATUS = "/webhooks/twilio/status"


async def _record(store: DeliveryStore) -> str:
    mid = new_id()
    await store.create(
        mid,
        order_id=new_id(),
        code="K7QFA",
        unit_id="t-fire",
        incident_id=new_id(),
        to=LIAISON_A,
        name="张伟",
        channel="sms",
    )
    await store.apply(mid, "queued", source="send")
    return mid


async def _status(client: Any, mid: str, msid: str, status: str, extra: str = "") -> httpx.Response:
    form = form_fixture("status_callback.form", SID=msid, STATUS=status, TO=LIAISON_A)
    form.pop("EXTRA", None)
    form = {k: v for k, v in form.items() if "{" not in k}
    if extra:
        form["ErrorCode"] = extra
    return await post_twilio(client, STATUS, form, query=f"mid={mid}")


@pytest.fixture
async def status_app(app_factory: Any, chan_settings: Settings) -> Any:
    app, client = await app_factory(chan_settings)
    return app, client, DeliveryStore(app.state.redis, chan_settings)


async def test_out_of_order_callbacks_never_move_back_and_history_is_kept(
    status_app: Any, bus_probe: Any
) -> None:
    _, client, store = status_app
    probe = await bus_probe("order.#")
    mid, msid = await _record(store), sid()
    for status in ("delivered", "sent", "queued", "delivered", "undelivered"):
        r = await _status(client, mid, msid, status)
        assert r.status_code == 204
    record = await store.get(mid)
    assert record is not None and record.status == "delivered"
    history = await store.history(mid)
    seen = [(h["status"], h["applied"]) for h in history]
    # the repeated "delivered" is a duplicate callback: claimed, not recorded twice
    assert seen == [
        ("queued", True),
        ("delivered", True),
        ("sent", False),
        ("queued", False),
        ("undelivered", False),
    ]
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "order.feedback.delivered" and event.data["by"] == "张伟"
    assert event.data["order_code"] == "K7QFA"
    await probe.assert_nothing(0.3)


async def test_undelivered_tells_the_centre_once(status_app: Any, bus_probe: Any) -> None:
    _, client, store = status_app
    probe = await bus_probe("order.#")
    mid, msid = await _record(store), sid()
    assert (await _status(client, mid, msid, "sent")).status_code == 204
    answers = await asyncio.gather(
        *(_status(client, mid, msid, "undelivered", "30003") for _ in range(3))
    )
    assert {a.status_code for a in answers} == {204}
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "order.delivery.undelivered" and event.data["error_code"] == "30003"
    assert event.data["to"] == LIAISON_A and event.data["delivery_id"] == mid
    await probe.assert_nothing(0.3)


async def test_status_callback_needs_its_signature_and_a_known_message(
    status_app: Any, bus_probe: Any
) -> None:
    _, client, store = status_app
    probe = await bus_probe("#")
    mid, msid = await _record(store), sid()
    form = {"MessageSid": msid, "MessageStatus": "delivered"}
    # signed for another mid: the query string is part of the signed URL
    r = await post_twilio(
        client,
        STATUS,
        form,
        query=f"mid={mid}",
        sign_url=f"https://gw.example.cn{STATUS}?mid={new_id()}",
    )
    assert r.status_code == 403
    r = await post_twilio(client, STATUS, form, query="mid=not-ours")
    assert r.status_code == 400 and r.json()["detail"] == "bad-message-id"
    r = await post_twilio(
        client, STATUS, form, query=f"mid={new_id()}"
    )  # unknown: accepted, ignored
    assert r.status_code == 204
    await probe.assert_nothing(0.3)
    assert (await store.get(mid)).status == "queued"  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def running_app(s: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(s)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


async def test_broker_down_the_message_is_spooled_and_published_later(
    chan_settings: Settings, bus_probe: Any
) -> None:
    probe = await bus_probe("alert.received.#")
    down = chan_settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/"})
    async with running_app(down) as (app, client):
        form = form_fixture("sms_citizen_fire.form")
        r = await post_twilio(client, "/webhooks/twilio/sms", form)
        assert r.status_code == 200 and "已收到" in r.text  # Twilio gets its normal answer
        wx = await client.post(
            "/webhooks/wechat",
            params=wechat_query(),
            content=(form_fixture.__globals__["FIXTURES"] / "wechat_text.xml").read_bytes(),
        )
        assert wx.text == "success"
        assert app.state.spool.depth() == 2
        await probe.assert_nothing(0.3)
        # a retry from the peer while the broker is still down publishes nothing more
        again = await post_twilio(client, "/webhooks/twilio/sms", form)
        assert again.text == r.text and app.state.spool.depth() == 2
        # the broker is back: the drainer publishes what was spooled, in order, once
        publisher = await Publisher.connect(chan_settings)
        try:
            app.state.spool.set_publisher(publisher)
            events = await probe.take_with_keys(2, timeout=5)
            assert [k for k, _ in events] == ["alert.received.sms", "alert.received.wechat"]
            assert events[0][1].data["source_ref"] == form["MessageSid"]
            for _ in range(50):  # the row goes after the broker's confirm
                if app.state.spool.depth() == 0:
                    break
                await asyncio.sleep(0.05)
            assert app.state.spool.depth() == 0
            await probe.assert_nothing(1.2)
        finally:
            app.state.spool.set_publisher(None)
            await publisher.close()


async def test_redis_down_answers_503_and_publishes_nothing(
    chan_settings: Settings, bus_probe: Any
) -> None:
    probe = await bus_probe("#")
    down = chan_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with running_app(down) as (app, client):
        for _ in range(100):
            if app.state.publisher is not None:
                break
            await asyncio.sleep(0.05)
        r = await post_twilio(client, "/webhooks/twilio/sms", form_fixture("sms_citizen_fire.form"))
        assert r.status_code == 503 and r.json()["detail"] == "redis-unavailable"
        wx = await client.post(
            "/webhooks/wechat",
            params=wechat_query(),
            content=b"<xml><MsgType>text</MsgType><Content>x</Content><MsgId>7</MsgId></xml>",
        )
        assert wx.status_code == 503
        assert app.state.spool.depth() == 0
    await probe.assert_nothing(0.3)


@pytest.mark.parametrize(
    ("text", "units", "parts"),
    [
        ("", 0, 0),
        ("收到", 2, 1),
        ("中" * 70, 70, 1),
        ("中" * 71, 71, 2),
        ("中" * 134, 134, 2),
        ("中" * 135, 135, 3),
        ("🆘", 2, 1),  # outside the BMP: a surrogate pair
        ("中" * 69 + "🆘", 71, 2),
        ("火警🔥" * 10, 40, 1),
    ],
)
def test_sms_length_in_utf16_units(text: str, units: int, parts: int) -> None:
    assert utf16_units(text) == units and segments(text) == parts


def test_truncation_never_splits_a_surrogate_pair() -> None:
    text = "中" * 5 + "🆘" * 5
    cut = truncate_units(text, 8)
    assert utf16_units(cut) <= 8 and cut.endswith("…") and "\ud83c" not in cut
    assert cut == "中" * 5 + "🆘" + "…"
