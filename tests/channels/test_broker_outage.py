"""A real broker outage for the running API: permissions revoked and connections closed
through the management API, webhooks answered meanwhile, everything published after."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import aio_pika
import httpx

from bus.topology import declare_exchanges
from gateway.settings import Settings
from tests.channels.conftest import FIXTURES, form_fixture, post_twilio, wechat_query
from tests.conftest import MGMT_URL

FULL = {"configure": ".*", "write": ".*", "read": ".*"}
PROBE_QUEUE = "test.outage.probe"


async def _declare_probe(s: Settings) -> None:
    connection = await aio_pika.connect(s.amqp_url)
    async with connection:
        channel = await connection.channel()
        events, _ = await declare_exchanges(channel, s)
        queue = await channel.declare_queue(PROBE_QUEUE, durable=True)
        await queue.bind(events, "alert.received.#")


async def _drain_probe(
    s: Settings, n: int, timeout: float
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    connection = await aio_pika.connect(s.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(PROBE_QUEUE, durable=True)
        async with asyncio.timeout(timeout):
            while len(got) < n:
                message = await queue.get(fail=False)
                if message is None:
                    await asyncio.sleep(0.1)
                    continue
                await message.ack()
                got.append(message)
        await asyncio.sleep(1.0)  # and nothing more (no double publish)
        assert await queue.get(fail=False) is None
    return got


async def test_webhooks_during_a_broker_outage_publish_everything_once_after(
    chan_settings: Settings, app_factory: Any
) -> None:
    s = chan_settings.model_copy(
        update={"amqp_url": chan_settings.amqp_url + "?reconnect_interval=0.3"}
    )
    vhost = unquote(urlsplit(chan_settings.amqp_url).path.lstrip("/"))
    await _declare_probe(s)
    app, client = await app_factory(s)
    assert app.state.publisher is not None and app.state.publisher.is_connected
    mgmt = httpx.AsyncClient(base_url=MGMT_URL, auth=("guest", "guest"), timeout=10)
    perms = f"/api/permissions/{quote(vhost, safe='')}/guest"
    try:
        (await mgmt.delete(perms)).raise_for_status()
        async with asyncio.timeout(15):  # the management API lists connections with a delay
            while app.state.publisher.is_connected:
                listed = (await mgmt.get(f"/api/vhosts/{quote(vhost, safe='')}/connections")).json()
                for conn in listed:
                    await mgmt.delete(f"/api/connections/{quote(conn['name'], safe='')}")
                await asyncio.sleep(0.2)
        form = form_fixture("sms_citizen_fire.form")
        r = await post_twilio(client, "/webhooks/twilio/sms", form)
        assert r.status_code == 200 and "已收到" in r.text
        wx = await client.post(
            "/webhooks/wechat",
            params=wechat_query(),
            content=(FIXTURES / "wechat_text.xml").read_bytes(),
        )
        assert wx.status_code == 200 and wx.text == "success"
        assert (await post_twilio(client, "/webhooks/twilio/sms", form)).text == r.text  # retry
        assert app.state.spool.depth() == 2
    finally:
        (await mgmt.put(perms, json=FULL)).raise_for_status()
        await mgmt.aclose()
    messages = await _drain_probe(s, 2, timeout=20)
    assert [m.message_id for m in messages] == [
        f"twilio-sms-{form['MessageSid']}",
        "wechat-msg:1234567890123456",
    ]
    for _ in range(20):
        if app.state.spool.depth() == 0:
            break
        await asyncio.sleep(0.1)
    assert app.state.spool.depth() == 0
