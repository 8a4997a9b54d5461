"""Fixtures of the operator's-view tests: a real uvicorn server, event factories."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
import uvicorn
from fastapi import FastAPI

from bus.topology import declare_consumer_queue
from contracts.alert import Alert, RoutedAlert, RoutingDecision
from contracts.envelope import CloudEvent, make_event
from contracts.order import Deadlines, Order, SlaEvent
from gateway.settings import Settings

BOARD_KEY = "board-key-read-only"


@dataclass
class LiveServer:
    app: FastAPI
    base_url: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def board_settings(settings: Settings) -> Settings:
    """The test settings plus a key that may only read the board."""
    keys = dict(settings.api_keys)
    keys[BOARD_KEY] = ["board:read"]
    return settings.model_copy(update={"api_keys": keys, "ops_refresh_s": 0.2})


# durable consumer queues as the router, delivery and order processes declare them
CONSUMER_QUEUES = {
    "router.classify": ["alert.received.*"],
    "deliver.all": ["alert.routed.*"],
    "orders.all": ["order.#"],
}


@pytest.fixture
async def consumer_queues(settings: Settings) -> None:
    """The deployment's durable queues: without them nothing is routable (and the board,
    which only taps keys that some durable queue takes, shows "waiting")."""
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        for name, bindings in CONSUMER_QUEUES.items():
            await declare_consumer_queue(channel, settings, name, bindings)


@pytest.fixture
async def live_server(consumer_queues: None, board_settings: Settings) -> AsyncIterator[LiveServer]:
    """The API app served by a real uvicorn on a free loopback port (lifespan running)."""
    from gateway.api.app import create_app

    app = create_app(board_settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.02)
    try:
        yield LiveServer(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        server.force_exit = True  # SSE streams would otherwise hold the shutdown
        async with asyncio.timeout(10):
            await task


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def wait_feed_up(app: FastAPI, timeout: float = 5.0) -> None:
    await wait_for(lambda: getattr(app.state, "board", None) is not None, timeout)
    await wait_for(lambda: app.state.board.feed["state"] == "up", timeout)


def alert_event(text: str, channel: str = "sms", **kw: Any) -> tuple[Alert, CloudEvent]:
    alert = Alert(channel=channel, received_at=datetime.now(UTC), text=text, **kw)  # type: ignore[arg-type]
    return alert, make_event(alert, source="/test/webhook", subject=alert.incident_id)


def routed_event(
    alert: Alert,
    destination: str = "command-centre",
    category: str = "fire",
    rule: str = "fire-smoke",
) -> CloudEvent:
    decision = RoutingDecision(
        destination=destination,  # type: ignore[arg-type]
        category=category,
        rule=rule,
        matched=["着火"],
        emergency=destination != "12345",
    )
    return make_event(
        RoutedAlert(alert=alert, decision=decision),
        source="/test/router",
        subject=alert.incident_id,
    )


def order_event(
    code: str, unit: str, arrive_in: timedelta, ack_in: timedelta | None = None
) -> tuple[Order, CloudEvent]:
    now = datetime.now(UTC)
    order = Order(
        order_id=f"ord-{code.lower()}",
        code=code,
        incident_id="inc-1",
        unit_id=unit,
        tier=1,
        instructions="立即到场处置",
        issued_at=now - timedelta(minutes=10),
        issued_by="operator-7",
        deadlines=Deadlines(
            acknowledge_by=now + ack_in if ack_in is not None else None,
            arrive_by=now + arrive_in,
            report_by=now + timedelta(hours=24),
        ),
    )
    return order, make_event(order, source="/test/orders", subject=order.incident_id)


def breach_event(order: Order, milestone: str = "arrive") -> CloudEvent:
    sla = SlaEvent(
        order_id=order.order_id,
        unit_id=order.unit_id,
        incident_id=order.incident_id,
        milestone=milestone,  # type: ignore[arg-type]
        kind="breached",
        deadline=datetime.now(UTC) - timedelta(seconds=30),
        at=datetime.now(UTC),
    )
    return make_event(sla, source="/test/sla", subject=order.incident_id)


Publish = Callable[[CloudEvent], Awaitable[None]]
