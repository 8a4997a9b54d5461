"""`linkgate channels` as deployed: settings → Twilio client → queues → an SMS goes out."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import parse_qs

import httpx
import respx

from bus.errors import UnroutableError
from bus.publisher import Publisher
from contracts.envelope import make_event
from gateway.directory.store import DirectoryStore
from gateway.processes import channels
from gateway.settings import Settings
from tests.channels.conftest import LIAISON_A, TWILIO_MESSAGES, make_order, make_unit


@respx.mock(assert_all_called=False)
async def test_channels_process_sends_an_issued_order(
    respx_mock: respx.MockRouter, chan_settings: Settings, redis: Any, publisher: Publisher
) -> None:
    route = respx_mock.post(TWILIO_MESSAGES).mock(
        return_value=httpx.Response(201, json={"sid": "SM" + "a" * 32, "status": "queued"})
    )
    await DirectoryStore(redis, chan_settings).put_unit(make_unit(wecom=False), by="test")
    task = asyncio.create_task(channels.run(chan_settings))
    try:
        order = make_order()
        event = make_event(order, source="/orders", subject=order.incident_id)
        async with asyncio.timeout(10):
            while True:  # until the process has declared and bound its queue
                try:
                    await publisher.publish(event)
                    break
                except UnroutableError:
                    await asyncio.sleep(0.1)
            while not route.called:
                await asyncio.sleep(0.05)
        form = parse_qs(route.calls[0].request.content.decode())
        assert form["To"] == [LIAISON_A] and form["From"] == ["+8612110"]
        assert order.code in form["Body"][0]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@respx.mock(assert_all_called=False)
async def test_undelivered_receipt_moves_the_order_to_the_next_liaison(
    respx_mock: respx.MockRouter,
    chan_settings: Settings,
    redis: Any,
    publisher: Publisher,
    bus_probe: Any,
    app_factory: Any,
) -> None:
    """The whole loop: order → SMS to A → Twilio says undelivered → SMS to B → delivered."""
    from tests.channels.conftest import LIAISON_B, post_twilio

    sids = iter(f"SM{i:032x}" for i in range(1, 10))
    # respx mocks every httpx client (tests/conftest.py): our own calls into the app are real
    respx_mock.route(host="testserver").pass_through()
    route = respx_mock.post(TWILIO_MESSAGES).mock(
        side_effect=lambda _: httpx.Response(201, json={"sid": next(sids), "status": "queued"})
    )
    _, client = await app_factory(chan_settings)
    await DirectoryStore(redis, chan_settings).put_unit(make_unit(wecom=False), by="test")
    probe = await bus_probe("order.delivery.#", "order.feedback.#")
    task = asyncio.create_task(channels.run(chan_settings))
    try:
        order = make_order()
        async with asyncio.timeout(10):
            while True:
                try:
                    await publisher.publish(make_event(order, source="/orders"))
                    break
                except UnroutableError:
                    await asyncio.sleep(0.1)
            while not route.called:
                await asyncio.sleep(0.05)

        def callback_of(call: int) -> tuple[str, str]:
            form = parse_qs(route.calls[call].request.content.decode())
            return form["StatusCallback"][0].split("/webhooks/twilio/status?")[1], form["To"][0]

        query, to = callback_of(0)
        assert to == LIAISON_A
        receipt = {
            "MessageSid": "SM" + "0" * 31 + "1",
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
            "To": LIAISON_A,
        }
        r = await post_twilio(client, "/webhooks/twilio/status", receipt, query=query)
        assert r.status_code == 204
        got = dict(await probe.take_with_keys(2, timeout=10))
        assert got["order.delivery.undelivered"].data["to"] == LIAISON_A
        assert got["order.delivery.fallback"].data["next_to"] == LIAISON_B
        query_b, to_b = callback_of(1)
        assert to_b == LIAISON_B and len(route.calls) == 2
        receipt = {
            "MessageSid": "SM" + "0" * 31 + "2",
            "MessageStatus": "delivered",
            "To": LIAISON_B,
        }
        await post_twilio(client, "/webhooks/twilio/status", receipt, query=query_b)
        [(key, event)] = await probe.take_with_keys(1)
        assert key == "order.feedback.delivered" and event.data["by"] == "罗刚"
        assert event.data["order_id"] == order.order_id
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
