"""Order dispatch by SMS/WeCom: respx stands in for Twilio and WeCom; bus and Redis are real."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from adapters.sms.errors import RetryableSendError
from adapters.sms.length import utf16_units
from adapters.sms.sender import TwilioSender
from adapters.wecom.robot import RetryableWeComError, WeComRobot
from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from contracts.envelope import make_event
from gateway.channels.compose import MAX_ORDER_UNITS
from gateway.channels.dispatch import OrderDispatcher
from gateway.channels.order_index import open_orders_for, order_by_code, unindex_order
from gateway.directory.store import DirectoryStore
from gateway.processes.channels import consumer_specs
from gateway.settings import Settings
from tests.channels.conftest import (
    DUTY_MOBILE,
    LIAISON_A,
    LIAISON_B,
    PUBLIC,
    ROBOT_KEY,
    TWILIO_MESSAGES,
    TWILIO_SID,
    TWILIO_TOKEN,
    WECOM_SEND,
    make_order,
    make_unit,
)


def twilio_ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"sid": "SM" + uuid.uuid4().hex, "status": "queued"})


def twilio_error(code: int, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": f"error {code}", "status": status})


def sent_to(route: respx.Route) -> list[str]:
    return [parse_qs(c.request.content.decode())["To"][0] for c in route.calls]


@pytest.fixture
async def dispatcher(
    chan_settings: Settings, redis: Any, publisher: Publisher
) -> AsyncIterator[OrderDispatcher]:
    directory = DirectoryStore(redis, chan_settings)
    await directory.put_unit(make_unit(), by="test")
    sms = TwilioSender(TWILIO_SID, TWILIO_TOKEN, "+8612110")
    wecom = WeComRobot("https://qyapi.weixin.qq.com")
    yield OrderDispatcher(chan_settings, redis, directory, sms, wecom, publisher.publish)
    await sms.close()
    await wecom.close()


@respx.mock(assert_all_called=False)
async def test_order_goes_to_the_on_duty_liaison_once(
    respx_mock: respx.MockRouter, dispatcher: OrderDispatcher, chan_settings: Settings, redis: Any
) -> None:
    route = respx_mock.post(TWILIO_MESSAGES).mock(side_effect=twilio_ok)
    order = make_order("K7QFA")
    event = make_event(order, source="/test", subject=order.incident_id)
    await dispatcher.on_order_issued(event, order)
    await dispatcher.on_order_issued(event, order)  # bus redelivery: no second SMS
    assert sent_to(route) == [LIAISON_A]
    form = parse_qs(route.calls[0].request.content.decode())
    body, callback = form["Body"][0], form["StatusCallback"][0]
    assert "K7QFA" in body and "沿江路88号" in body and "回复" in body
    assert utf16_units(body) <= MAX_ORDER_UNITS
    assert callback.startswith(f"{PUBLIC}/webhooks/twilio/status?mid=")
    mid = callback.split("mid=")[1]
    record = await dispatcher.deliveries.get(mid)
    assert record is not None and record.status == "queued" and record.get("to") == LIAISON_A
    assert await open_orders_for(redis, chan_settings, LIAISON_A) == [(order.order_id, "K7QFA")]
    assert await order_by_code(redis, chan_settings, "K7QFA") == order.order_id
    # a deliberate re-dispatch (attempt 2) to B, then to A again: sent, once each
    for to in (LIAISON_B, LIAISON_A):
        again = order.model_copy(
            update={"attempt": 2 if to == LIAISON_B else 3, "recipients": [to]}
        )
        for _ in range(2):
            await dispatcher.on_order_issued(make_event(again, source="/test"), again)
    assert sent_to(route) == [LIAISON_A, LIAISON_B, LIAISON_A]
    await unindex_order(redis, chan_settings, order.order_id, "K7QFA")
    assert await open_orders_for(redis, chan_settings, LIAISON_A) == []
    assert await open_orders_for(redis, chan_settings, LIAISON_B) == []
    assert await order_by_code(redis, chan_settings, "K7QFA") is None


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"code": 20500, "message": "internal"}),
        httpx.Response(429, json={"code": 20429, "message": "too many requests"}),
        httpx.Response(400, json={"code": 63018, "message": "rate limit exceeded"}),
        httpx.ConnectError("refused"),
    ],
    ids=["5xx", "429", "63018", "network"],
)
@respx.mock(assert_all_called=False)
async def test_retryable_errors_raise_and_a_retry_sends(
    respx_mock: respx.MockRouter, dispatcher: OrderDispatcher, bus_probe: Any, answer: Any
) -> None:
    probe = await bus_probe("order.delivery.#")
    route = respx_mock.post(TWILIO_MESSAGES)
    route.side_effect = [answer, twilio_ok]
    order = make_order()
    event = make_event(order, source="/test")
    with pytest.raises(RetryableSendError):
        await dispatcher.on_order_issued(event, order)
    await dispatcher.on_order_issued(event, order)
    assert sent_to(route) == [LIAISON_A, LIAISON_A]  # the second attempt went out
    await probe.assert_nothing(0.2)


@respx.mock(assert_all_called=False)
async def test_final_errors_fall_back_through_every_contact_then_exhausted(
    respx_mock: respx.MockRouter, dispatcher: OrderDispatcher, bus_probe: Any
) -> None:
    """A opted out (21610), B's number invalid (21211), the duty mobile undelivered."""
    probe = await bus_probe("order.delivery.#")
    answers = {LIAISON_A: twilio_error(21610), LIAISON_B: twilio_error(21211)}

    def twilio(request: httpx.Request) -> httpx.Response:
        to = parse_qs(request.content.decode())["To"][0]
        return answers.get(to) or twilio_ok(request)

    route = respx_mock.post(TWILIO_MESSAGES).mock(side_effect=twilio)
    group = respx_mock.post(WECOM_SEND).mock(return_value=httpx.Response(200, json={"errcode": 0}))
    order = make_order()
    await dispatcher.on_order_issued(make_event(order, source="/t"), order)
    [(key, ev)] = await probe.take_with_keys(1)
    assert key == "order.delivery.failed" and ev.data["to"] == LIAISON_A
    assert ev.data["error_code"] == "21610" and ev.data["order_id"] == order.order_id
    from contracts.order import OrderDelivery

    await dispatcher.on_delivery_failed(ev, OrderDelivery.model_validate(ev.data))
    got = dict(await probe.take_with_keys(2))
    assert got["order.delivery.failed"].data["to"] == LIAISON_B
    assert got["order.delivery.fallback"].data["next_to"] == LIAISON_B
    failed_b = got["order.delivery.failed"]
    await dispatcher.on_delivery_failed(failed_b, OrderDelivery.model_validate(failed_b.data))
    [(key, ev)] = await probe.take_with_keys(1)
    assert key == "order.delivery.fallback" and ev.data["next_to"] == DUTY_MOBILE
    assert sent_to(route) == [LIAISON_A, LIAISON_B, DUTY_MOBILE]  # never the landline
    # the duty mobile's SMS is reported undelivered later: nobody is left
    undelivered = OrderDelivery.model_validate(
        {**ev.data, "status": "undelivered", "to": DUTY_MOBILE}
    )
    await dispatcher.on_delivery_failed(ev, undelivered)
    [(key, ev)] = await probe.take_with_keys(1)
    assert key == "order.delivery.exhausted"
    # redelivery of the same failure sends nothing new
    await dispatcher.on_delivery_failed(ev, undelivered)
    assert len(route.calls) == 3
    notices = [httpx.Response(200, content=c.request.content).json() for c in group.calls]
    texts = [n["markdown"]["content"] for n in notices]
    assert (
        len(texts) == 3 and "罗刚" in texts[0] and "值班室" in texts[1] and "未能送达" in texts[2]
    )


@respx.mock(assert_all_called=False)
async def test_end_to_end_through_the_bus(
    respx_mock: respx.MockRouter,
    dispatcher: OrderDispatcher,
    chan_settings: Settings,
    redis: Any,
    publisher: Publisher,
    bus_probe: Any,
) -> None:
    """order.issued on the exchange → SMS; A refused → the failure consumer tries B."""
    probe = await bus_probe("order.delivery.#")

    def twilio(request: httpx.Request) -> httpx.Response:
        to = parse_qs(request.content.decode())["To"][0]
        return twilio_error(21610) if to == LIAISON_A else twilio_ok(request)

    route = respx_mock.post(TWILIO_MESSAGES).mock(side_effect=twilio)
    respx_mock.post(WECOM_SEND).mock(return_value=httpx.Response(200, json={"errcode": 0}))
    runner = ConsumerRunner(chan_settings, redis, consumer_specs(dispatcher))
    await runner.start()
    try:
        order = make_order()
        event = make_event(order, source="/orders", subject=order.incident_id)
        await publisher.publish(event)
        await publisher.publish(event)  # a duplicate publish changes nothing
        keys = [k for k, _ in await probe.take_with_keys(2, timeout=10)]
        assert sorted(keys) == ["order.delivery.failed", "order.delivery.fallback"]
        assert sent_to(route) == [LIAISON_A, LIAISON_B]
    finally:
        await runner.stop(grace_s=5)


@respx.mock(assert_all_called=False)
async def test_wecom_markdown_errcode_and_rate_limit(
    respx_mock: respx.MockRouter, dispatcher: OrderDispatcher, bus_probe: Any
) -> None:
    probe = await bus_probe("order.delivery.#")
    route = respx_mock.post(WECOM_SEND)
    route.side_effect = [
        httpx.Response(200, json={"errcode": 45009, "errmsg": "api freq out of limit"}),
        httpx.Response(200, json={"errcode": 0, "errmsg": "ok"}),
    ]
    order = make_order(via=["wecom"])
    event = make_event(order, source="/t")
    with pytest.raises(RetryableWeComError):
        await dispatcher.on_order_issued(event, order)
    await dispatcher.on_order_issued(event, order)
    await dispatcher.on_order_issued(event, order)  # already posted
    assert len(route.calls) == 2
    request = route.calls[1].request
    assert request.url.params["key"] == ROBOT_KEY
    payload = httpx.Response(200, content=request.content).json()
    assert payload["msgtype"] == "markdown" and "K7QFA" in payload["markdown"]["content"]
    # a refusal (bad key) is final and reported
    route.side_effect = None
    route.return_value = httpx.Response(
        200, json={"errcode": 93000, "errmsg": "invalid webhook url"}
    )
    other = make_order("M3PAC", via=["wecom"])
    await dispatcher.on_order_issued(make_event(other, source="/t"), other)
    [(key, ev)] = await probe.take_with_keys(1)
    assert key == "order.delivery.failed" and ev.data["channel"] == "wecom"
    assert ev.data["error_code"] == "93000"


async def test_token_bucket_keeps_a_reserve_for_emergencies(
    dispatcher: OrderDispatcher, redis: Any, chan_settings: Settings
) -> None:
    from gateway.ratelimit import TokenBucket

    bucket = TokenBucket(redis, chan_settings.key("test", "bucket"), capacity=20, period_s=60)
    routine = [await bucket.take("r1", emergency=False) for _ in range(16)]
    assert [t.ok for t in routine] == [True] * 15 + [False]
    assert routine[-1].wait_s > 0
    urgent = [await bucket.take("r1", emergency=True) for _ in range(6)]
    assert [t.ok for t in urgent] == [True] * 5 + [False]
    assert (await bucket.take("r2", emergency=False)).ok  # per robot
    # concurrent takers never overdraw
    results = await asyncio.gather(*(bucket.take("r3", emergency=True) for _ in range(40)))
    assert sum(t.ok for t in results) == 20


@respx.mock(assert_all_called=False)
async def test_sender_follows_the_configured_api_base(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post(
        f"http://twilio-proxy.test:8080/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    ).mock(side_effect=twilio_ok)
    sender = TwilioSender(
        TWILIO_SID, TWILIO_TOKEN, "+8612110", api_base="http://twilio-proxy.test:8080/"
    )
    try:
        sent = await sender.send(LIAISON_A, "测试🆘", status_callback=f"{PUBLIC}/x")
    finally:
        await sender.close()
    assert sent.sid.startswith("SM") and sent.status == "queued"
    request = route.calls[0].request
    assert request.headers["Authorization"].startswith("Basic ")
    assert parse_qs(request.content.decode())["Body"] == ["测试🆘"]


async def test_channels_process_refuses_to_start_without_twilio_settings(
    settings: Settings,
) -> None:
    from gateway.processes import channels

    with pytest.raises(RuntimeError, match="TWILIO"):
        await channels.run(settings)
