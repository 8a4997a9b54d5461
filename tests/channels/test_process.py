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
