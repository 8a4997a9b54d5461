"""The board's state machine: drills marked, feedback moves or closes orders, feed state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from contracts.common import EventStatus
from contracts.envelope import make_event, parse_event
from contracts.order import OrderFeedback
from gateway.board.hub import BoardHub
from gateway.settings import Settings
from tests.conftest import TEST_API_KEY
from tests.ops.conftest import alert_event, order_event, routed_event


def _apply(hub: BoardHub, key: str, event) -> dict | None:
    parsed, model = parse_event(event.to_json())
    return hub.apply(key, parsed, model)


def _feedback(code: str, kind: str) -> object:
    fb = OrderFeedback(
        feedback_id=f"fb-{code}-{kind}",
        order_code=code,
        kind=kind,
        by="liaison",
        via="sms",  # type: ignore[arg-type]
        at=datetime.now(UTC),
    )
    return make_event(fb, source="/test/sms")


def test_orders_follow_feedback_and_close() -> None:
    hub = BoardHub()
    queue = hub.subscribe()
    order, issued = order_event(
        "H4X7", "fire-1", arrive_in=timedelta(minutes=20), ack_in=timedelta(minutes=2)
    )
    _apply(hub, "order.issued", issued)
    assert hub.orders[order.order_id]["milestone"] == "acknowledge"
    _apply(hub, "order.feedback.acknowledged", _feedback("H4X7", "acknowledged"))
    assert hub.orders[order.order_id]["milestone"] == "arrive"
    _apply(hub, "order.feedback.arrived", _feedback("H4X7", "arrived"))
    assert hub.orders[order.order_id]["milestone"] == "report"
    update = _apply(hub, "order.feedback.report", _feedback("H4X7", "report"))
    assert update is not None and update["kind"] == "order_closed"
    assert order.order_id not in hub.orders
    kinds = []
    while not queue.empty():
        item = queue.get_nowait()
        assert item is not None
        kinds.append(item["kind"])
    assert kinds == ["order", "order", "order", "order_closed"]


def test_drills_are_marked_and_alerts_bounded() -> None:
    hub = BoardHub(max_alerts=3)
    alert, _ = alert_event("演练：化工厂泄漏")
    drill = make_event(alert, source="/test", status=EventStatus.EXERCISE)
    _apply(hub, "alert.received.sms", drill)
    assert hub.alerts[alert.alert_id]["status"] == "exercise"
    for i in range(4):
        a, e = alert_event(f"警情 {i}")
        _apply(hub, "alert.received.sms", e)
        _apply(hub, "alert.routed.12345", routed_event(a, "12345"))
    assert len(hub.alerts) == 3 and alert.alert_id not in hub.alerts
    assert all(a["destination"] == "12345" for a in hub.snapshot()["alerts"])


def test_slow_subscriber_is_dropped_not_blocking() -> None:
    hub = BoardHub(queue_size=2)
    slow = hub.subscribe()
    for i in range(3):
        _, e = alert_event(f"警情 {i}")
        _apply(hub, "alert.received.call", e)
    assert hub.subscriber_count == 0 and slow.get_nowait() is None


async def test_snapshot_shows_feed_down_when_broker_unreachable(settings: Settings) -> None:
    from gateway.api.app import create_app

    bad = settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/"})
    app = create_app(bad)
    async with app.router.lifespan_context(app):
        hub = app.state.board
        async with asyncio.timeout(5):
            while hub.feed["state"] != "down":
                await asyncio.sleep(0.02)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/board/snapshot", headers={"X-API-Key": TEST_API_KEY})
    body = r.json()
    assert body["feed"]["state"] == "down" and body["feed"]["detail"]
