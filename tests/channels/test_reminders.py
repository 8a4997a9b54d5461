"""Deadline reminders: `order.sla.warning` on the real bus → one SMS to each person the
order reached (respx stands in for Twilio), never twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import respx

from adapters.sms.length import utf16_units
from adapters.sms.sender import TwilioSender
from adapters.wecom.robot import WeComRobot
from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from contracts import SlaEvent, make_event, utcnow
from gateway.channels.dispatch import OrderDispatcher
from gateway.channels.reminders import Reminders
from gateway.directory.store import DirectoryStore
from gateway.processes.channels import consumer_specs
from gateway.settings import Settings
from tests.channels.conftest import (
    LIAISON_A,
    TWILIO_MESSAGES,
    TWILIO_SID,
    TWILIO_TOKEN,
    make_order,
    make_unit,
)
from tests.channels.test_dispatch import sent_to, twilio_ok


@respx.mock(assert_all_called=False)
async def test_liaisons_are_reminded_once_before_the_deadline(
    respx_mock: respx.MockRouter, chan_settings: Settings, redis: Any, publisher: Publisher
) -> None:
    respx_mock.route(host="127.0.0.1").pass_through()
    route = respx_mock.post(TWILIO_MESSAGES).mock(side_effect=twilio_ok)
    directory = DirectoryStore(redis, chan_settings)
    await directory.put_unit(make_unit(wecom=False), by="test")
    sms = TwilioSender(TWILIO_SID, TWILIO_TOKEN, "+8612110")
    wecom = WeComRobot("https://qyapi.weixin.qq.com")
    dispatcher = OrderDispatcher(chan_settings, redis, directory, sms, wecom, publisher.publish)
    runner = ConsumerRunner(
        chan_settings, redis, consumer_specs(dispatcher, Reminders(chan_settings, redis, sms))
    )
    await runner.start()
    try:
        order = make_order("K7QFA")
        await publisher.publish(make_event(order, source="/test", subject=order.incident_id))
        async with asyncio.timeout(8):
            while len(route.calls) < 1:
                await asyncio.sleep(0.02)
        warning = SlaEvent(
            order_id=order.order_id, unit_id=order.unit_id, incident_id=order.incident_id,
            milestone="arrive", kind="warning", deadline=utcnow() + timedelta(minutes=5),
            at=utcnow(),
        )
        event = make_event(warning, source="/sla", subject=order.incident_id)
        await publisher.publish(event)
        await publisher.publish(make_event(warning, source="/sla", subject=order.incident_id))
        async with asyncio.timeout(8):
            while len(route.calls) < 2:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.5)
    finally:
        await runner.stop()
        await sms.close()
        await wecom.close()
    assert sent_to(route) == [LIAISON_A, LIAISON_A]  # the order, then one reminder
    body = parse_qs(route.calls[1].request.content.decode())["Body"][0]
    assert body.startswith("【应急联动·提醒】指令K7QFA") and "到达现场" in body
    assert utf16_units(body) <= 134  # two segments at most
