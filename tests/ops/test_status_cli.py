"""`linkgate status` and `linkgate orders watch` against the real RabbitMQ and Redis."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import aio_pika
from redis.asyncio import Redis
from rich.console import Console
from typer.testing import CliRunner

from bus.publisher import Publisher, event_message
from bus.topology import declare_consumer_queue
from contracts.common import EventStatus
from gateway.observability.ami_link import record_ami_link
from gateway.ops.status import gather_status, status_command
from gateway.ops.watch import countdown, orders_table, watch_orders
from gateway.orders.record import OrderRecord
from gateway.orders.store import OrderStore
from gateway.settings import Settings
from tests.ops.conftest import alert_event, order_event


def _console() -> Console:
    return Console(file=io.StringIO(), width=160, record=True, color_system=None)


async def test_status_renders_real_services(
    settings: Settings, publisher: Publisher, redis: Redis, unique: str
) -> None:
    queue = f"router-{unique}"
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await declare_consumer_queue(channel, settings, queue, ["alert.received.#"])
    _, event = alert_event("有人落水")
    await publisher.publish(event)  # one waiting in the work queue
    await publisher.publish_message(event_message(event), queue, dead_letter=True)

    console = _console()
    code = await status_command(settings, console)
    out = console.export_text()
    assert code == 1  # no AMI report and a dead letter: attention needed
    assert "broker (RabbitMQ)" in out and "reachable RabbitMQ" in out
    assert f"lgt-{unique}" in out  # the vhost
    assert "Redis" in out and "memory" in out
    assert "unknown" in out and "no report from the AMI process" in out
    assert queue in out and f"{queue}.dlq" in out and "DLQ" in out
    assert "dead letters: 1" in out and "attention needed" in out

    await record_ami_link(redis, settings, "connected", version="Asterisk Call Manager/7.0.3")
    report = await gather_status(settings)
    assert report.ami.state == "connected" and report.ami_ok
    depths = {q.name: q for q in report.queues}
    assert depths[queue].ready == 1 and depths[queue].exact
    assert depths[f"{queue}.dlq"].ready == 1 and report.dead_letters == 1
    assert report.spool_depth == 0 and report.broker.ok and report.redis.ok


async def test_status_says_when_broker_is_unreachable(settings: Settings) -> None:
    bad = settings.model_copy(
        update={
            "amqp_url": "amqp://guest:guest@127.0.0.1:1/",
            "rabbitmq_mgmt_url": "http://127.0.0.1:1",
        }
    )
    console = _console()
    assert await status_command(bad, console) == 1
    out = console.export_text()
    assert "DOWN" in out and "unreachable" in out and "unknown: management API" in out


async def test_cli_status_command(settings: Settings, monkeypatch) -> None:
    from gateway.cli import app

    monkeypatch.setenv("LINKGATE_AMQP_URL", settings.amqp_url)
    monkeypatch.setenv("LINKGATE_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("LINKGATE_SPOOL_DIR", str(settings.spool_dir))
    result = await asyncio.to_thread(CliRunner().invoke, app, ["status"])  # it runs its own loop
    assert result.exit_code == 1, result.output  # the AMI process is not running here
    assert "Linkage Gateway" in result.output and "AMI link" in result.output


async def test_orders_watch_reads_the_store(settings: Settings, redis: Redis) -> None:
    store = OrderStore(redis, settings)
    rows = [
        ("A3F9", timedelta(minutes=3), EventStatus.ACTUAL),
        ("B7K2", timedelta(minutes=-1), EventStatus.ACTUAL),
        ("C5M8", timedelta(minutes=40), EventStatus.EXERCISE),
    ]
    for code, arrive_in, status in rows:
        order, _ = order_event(code, f"unit-{code.lower()}", arrive_in=arrive_in)
        record = OrderRecord(order=order, status=status, state="acknowledged")  # type: ignore[arg-type]
        await redis.set(store.doc_key(order.order_id), record.model_dump_json())
        await redis.hset(store.codes_key, code, order.order_id)

    console = _console()
    await watch_orders(settings, console, once=True)
    out = console.export_text()
    assert "3 open" in out
    assert out.index("B7K2") < out.index("A3F9") < out.index("C5M8")  # soonest deadline first
    assert "overdue" in out and "演练 DRILL" in out and "arrive" in out


def test_orders_table_colours_and_countdowns() -> None:
    from gateway.ops.orders import OpenOrder

    now = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def order(code: str, minutes: float) -> OpenOrder:
        return OpenOrder(
            code, code, "u", "i", "1", "issued", "arrive", now + timedelta(minutes=minutes)
        )

    table = orders_table([order("RED1", -2), order("AMB1", 4), order("OK11", 30)], now)
    styles = [str(row.style) for row in table.rows]
    assert styles == ["bold red", "bold yellow", ""]
    assert countdown(65) == "1:05" and countdown(-3725) == "+1:02:05 overdue 超时"
    broken = orders_table([], now, error="Redis: ConnectionError")
    console = _console()
    console.print(broken)
    assert "cannot read orders" in console.export_text()


async def test_ami_link_reporter_task(settings: Settings, redis: Redis) -> None:
    """The reporter the AMI process runs: state changes reach Redis and the gauge at once."""
    from types import SimpleNamespace

    from prometheus_client import REGISTRY

    from gateway.observability.ami_link import read_ami_link, report_ami_link

    client = SimpleNamespace(state="connecting", version=None)
    ctx = SimpleNamespace(settings=settings, redis=redis, client=client)
    task = asyncio.create_task(report_ami_link(ctx, poll_s=0.02))  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(5):
            while (await read_ami_link(redis, settings)).state != "connecting":
                await asyncio.sleep(0.02)
            client.state, client.version = "connected", "Asterisk Call Manager/7.0.3"
            while (await read_ami_link(redis, settings)).state != "connected":
                await asyncio.sleep(0.02)
    finally:
        task.cancel()
    link = await read_ami_link(redis, settings)
    assert link.version == "Asterisk Call Manager/7.0.3" and link.since and link.updated
    assert 0 < await redis.ttl(settings.key("ami", "link")) <= 60
    assert REGISTRY.get_sample_value("linkgate_ami_link_up") == 1.0
