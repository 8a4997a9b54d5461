"""The board's SSE stream delivers what is published on the real bus; auth is enforced."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import aio_pika
import httpx
import pytest

from bus.errors import UnroutableError
from bus.publisher import Publisher
from bus.topology import declare_consumer_queue
from gateway.board.feed import board_keys, topic_matches
from gateway.settings import Settings
from tests.conftest import TEST_API_KEY
from tests.ops.conftest import (
    BOARD_KEY,
    LiveServer,
    alert_event,
    breach_event,
    order_event,
    routed_event,
    wait_feed_up,
    wait_for,
)


async def _events(response: httpx.Response) -> asyncio.Queue[tuple[str, dict]]:
    queue: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()

    async def read() -> None:
        kind, data = "", ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and kind:
                await queue.put((kind, json.loads(data)))
                kind, data = "", ""

    asyncio.get_running_loop().create_task(read())
    return queue


async def _next(queue: asyncio.Queue[tuple[str, dict]], kind: str, pred=lambda d: True) -> dict:
    async with asyncio.timeout(5):
        while True:
            got_kind, data = await queue.get()
            if got_kind == kind and pred(data):
                return data


async def test_sse_streams_bus_events(live_server: LiveServer, publisher: Publisher) -> None:
    await wait_feed_up(live_server.app)
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=10) as client:
        async with client.stream("GET", "/board/events", params={"key": BOARD_KEY}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = await _events(response)
            snapshot = await _next(events, "snapshot")
            assert snapshot["feed"]["state"] == "up"

            alert, received = alert_event("东港路口有车辆着火，联系人13800138000", channel="sms")
            await publisher.publish(received)
            seen = await _next(events, "alert", lambda d: d["alert_id"] == alert.alert_id)
            assert seen["channel"] == "sms" and "着火" in seen["text"]
            assert "13800138000" not in seen["text"]  # phone numbers are masked on the board
            assert "destination" not in seen

            await publisher.publish(routed_event(alert, "command-centre"))
            seen = await _next(
                events, "alert", lambda d: d["alert_id"] == alert.alert_id and "destination" in d
            )
            assert seen["destination"] == "command-centre" and seen["rule"] == "fire-smoke"

            order, issued = order_event("K7Q2", "fire-dinghai", arrive_in=timedelta(minutes=3))
            await publisher.publish(issued)
            seen = await _next(events, "order", lambda d: d["order_id"] == order.order_id)
            assert seen["milestone"] == "arrive"

            await publisher.publish(breach_event(order))
            breach = await _next(events, "breach")
            assert breach["order_id"] == order.order_id and breach["code"] == "K7Q2"

        # a closed page is unsubscribed (no leak of queues on a wall screen's reloads)
        await wait_for(lambda: live_server.app.state.board.subscriber_count == 0)

        # and a page loaded now gets it all in its snapshot
        r = await client.get("/board/snapshot", headers={"X-API-Key": BOARD_KEY})
        assert r.status_code == 200
        body = r.json()
        assert body["alerts"][0]["alert_id"] == alert.alert_id
        assert [o["code"] for o in body["orders"]] == ["K7Q2"]
        assert body["breaches"][0]["milestone"] == "arrive"


async def test_board_requires_board_read_scope(live_server: LiveServer, board_settings) -> None:
    limited = "metrics-only-key"
    live_server.app.state.settings.api_keys[limited] = ["metrics:read"]
    async with httpx.AsyncClient(base_url=live_server.base_url, timeout=5) as client:
        assert (await client.get("/board")).status_code == 401
        assert (await client.get("/board/snapshot", params={"key": "nope"})).status_code == 401
        r = await client.get("/board/events", params={"key": limited})
        assert r.status_code == 403 and r.json()["detail"] == "scope-required:board:read"
        r = await client.get("/board", params={"key": BOARD_KEY})
        assert r.status_code == 200 and "实时态势" in r.text
        r = await client.get("/board", headers={"Authorization": f"Bearer {TEST_API_KEY}"})
        assert r.status_code == 200
        assert (await client.get("/board/static/board.js")).status_code == 200
        assert (await client.get("/board/static/..%2Fhub.py")).status_code == 404


def test_topic_matching() -> None:
    assert topic_matches("alert.received.*", "alert.received.sms")
    assert topic_matches("order.#", "order.sla.breached") and topic_matches("#", "order.issued")
    assert topic_matches("order.#", "order") and not topic_matches("order.*", "order")
    assert not topic_matches("alert.received.*", "alert.routed.12345")
    assert "alert.received.sms" in board_keys() and "order.sla.breached" in board_keys()


async def test_board_never_makes_an_unroutable_key_routable(
    app_factory, board_settings: Settings, publisher: Publisher
) -> None:
    """Without a durable consumer queue a publish must still be refused (the webhook then
    answers 503); the board taps a key only while a consumer's queue takes it."""
    app, _ = await app_factory(board_settings)
    hub = app.state.board
    # the API declared every work queue at start (gateway.topology): the board taps them
    await wait_for(lambda: hub.feed["state"] == "up")
    assert {f"alert.received.{c}" for c in ("api", "call", "sms", "wechat")} <= set(hub.tapped)
    alert, received = alert_event("有了消费者之后的警情")
    await publisher.publish(received)
    await wait_for(lambda: alert.alert_id in hub.alerts)

    # an operator deletes the router's queue: the board must let go of those keys
    connection = await aio_pika.connect(board_settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete("router.classify")
    await wait_for(lambda: "alert.received.sms" not in hub.tapped)
    _, orphan = alert_event("无人消费时的警情")
    with pytest.raises(UnroutableError):
        await publisher.publish(orphan)

    connection = await aio_pika.connect(board_settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await declare_consumer_queue(
            channel, board_settings, "router.classify", ["alert.received.*"]
        )
    await wait_for(lambda: "alert.received.sms" in hub.tapped)
    again, received = alert_event("消费者回来之后的警情")
    await publisher.publish(received)
    await wait_for(lambda: again.alert_id in hub.alerts)
