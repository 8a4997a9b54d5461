"""`linkgate router` as a process: routes, parks deliveries for unconfigured centres,
stops cleanly on cancellation (SIGTERM); the DLQ tools as the CLI runs them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import pytest

from bus.publisher import Publisher
from contracts import Alert, Channel, make_event, utcnow
from gateway.dlq import list_command, replay_command
from gateway.processes.router import run
from gateway.settings import Settings


async def test_router_process_routes_and_stops_cleanly(
    settings: Settings, publisher: Publisher, bus_probe: Callable[..., Awaitable[Any]]
) -> None:
    probe = await bus_probe("alert.routed.#")
    task = asyncio.create_task(run(settings))
    alert = Alert(channel=Channel.SMS, received_at=utcnow(), text="渔船进水了")
    event = make_event(alert, source="/test", subject=alert.incident_id)
    async with asyncio.timeout(10):
        while True:  # until the process has bound its queue
            try:
                await publisher.publish(event)
                break
            except Exception:
                await asyncio.sleep(0.1)
    (key, routed), = await probe.take_with_keys(1, timeout=10)
    assert key == "alert.routed.ocean-fishery" and routed.subject == alert.incident_id
    # no URL configured: the delivery waits, durable, in the command centre's queue
    # (the sea centre's hand-over is `linkgate sla`'s job, not the router's)
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    cc = await channel.declare_queue("deliver.command-centre", passive=True)
    assert cc.declaration_result.message_count == 1
    await connection.close()
    task.cancel()
    async with asyncio.timeout(15):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_dlq_cli_bodies(
    settings: Settings, publisher: Publisher, capsys: pytest.CaptureFixture[str]
) -> None:
    # a dead letter as the bus leaves it: in `<queue>.dlq` with its reason
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    from bus.topology import declare_consumer_queue

    await declare_consumer_queue(channel, settings, "deliver.12345", ["alert.routed.12345"])
    alert = Alert(channel=Channel.SMS, received_at=utcnow(), text="路灯坏了")
    event = make_event(alert, source="/test")
    await channel.default_exchange.publish(
        aio_pika.Message(
            body=event.to_json(), message_id=event.id,
            headers={"x-death-reason": "max-attempts", "x-death-detail": "http-503",
                     "x-original-queue": "deliver.12345", "x-attempts": 3},
        ),
        routing_key="deliver.12345.dlq",
    )
    assert await asyncio.to_thread(list_command, settings, "deliver.12345", 10) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["id"] == event.id and row["reason"] == "max-attempts" and row["attempts"] == 3

    assert await asyncio.to_thread(replay_command, settings, "deliver.12345", [], False) == 2
    assert await asyncio.to_thread(replay_command, settings, "deliver.12345", ["nope"], False) == 1
    capsys.readouterr()
    assert await asyncio.to_thread(replay_command, settings, "deliver.12345", [], True) == 0
    assert json.loads(capsys.readouterr().out)["replayed"] == event.id
    main = await channel.declare_queue("deliver.12345", passive=True)
    message = await main.get(timeout=5)
    assert message.message_id == event.id
    assert "x-death-reason" not in (message.headers or {}) and message.headers["x-replays"] == 1
    await connection.close()
