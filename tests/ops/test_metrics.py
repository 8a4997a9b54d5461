"""/metrics exposes the named metrics after real traffic; the per-process port serves too."""

from __future__ import annotations

import time
from datetime import timedelta

import aio_pika
import httpx
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from bus.publisher import Publisher, event_message
from bus.topology import declare_consumer_queue
from gateway.observability import metrics
from gateway.observability.ami_link import record_ami_link
from gateway.settings import Settings
from tests.ops.conftest import (
    alert_event,
    breach_event,
    free_port,
    order_event,
    routed_event,
    wait_feed_up,
    wait_for,
)


def _value(text: str, name: str, **labels: str) -> float | None:
    """The sample's value in a Prometheus exposition, or None if absent."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        sname, _, rest = series.partition("{")
        got = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
        if sname == name and got == want:
            return float(value)
    return None


async def test_metrics_after_traffic(
    consumer_queues: None,
    app_factory,
    settings: Settings,
    publisher: Publisher,
    redis: Redis,
    unique: str,
) -> None:
    app, client = await app_factory()
    await wait_feed_up(app)
    hub = app.state.board
    before = (
        REGISTRY.get_sample_value(
            "linkgate_sla_breaches_total", {"milestone": "arrive", "status": "actual"}
        )
        or 0.0
    )

    # traffic on the real bus: an alert received and routed, an order and its breach
    alert, received = alert_event("江边有人落水", channel="wechat")
    await publisher.publish(received)
    await publisher.publish(routed_event(alert, "command-centre"))
    order, issued = order_event("Q9W4", "fire-putuo", arrive_in=timedelta(minutes=-2))
    await publisher.publish(issued)
    await publisher.publish(breach_event(order))
    await wait_for(
        lambda: (
            len(hub.breaches) == 1
            and alert.alert_id in hub.alerts
            and "destination" in hub.alerts[alert.alert_id]
        )
    )

    # two dead letters in a consumer's DLQ
    queue = f"ops-{unique}"
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        await declare_consumer_queue(channel, settings, queue, ["nothing.#"])
    for _ in range(2):
        _, dead = alert_event("坏消息")
        await publisher.publish_message(event_message(dead), queue, dead_letter=True)

    # what adapters and the AMI process report through the helpers
    metrics.observe_received("sms", time.perf_counter() - 0.004)
    metrics.observe_delivered("command-centre-http", "command-centre", "ok", time.time() - 0.2)
    metrics.DELIVERY_RETRIES.labels("12345").inc()
    await record_ami_link(redis, settings, "connected", version="Asterisk Call Manager/7.0.3")

    await app.state.collector.refresh_once()
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text

    assert _value(text, "linkgate_dlq_depth", queue=f"{queue}.dlq") == 2.0
    assert _value(text, "linkgate_queue_depth", queue=queue) == 0.0
    assert _value(text, "linkgate_ops_source_up", source="rabbitmq-mgmt") == 1.0
    assert _value(text, "linkgate_ops_source_up", source="orders-store") == 1.0
    assert _value(text, "linkgate_open_orders") is not None
    assert _value(text, "linkgate_spool_depth") == 0.0
    assert (
        _value(text, "linkgate_sla_breaches_total", milestone="arrive", status="actual") or 0
    ) == before + 1
    assert (
        _value(
            text,
            "linkgate_bus_events_observed_total",
            family="alert.received",
            detail="wechat",
            status="actual",
        )
        or 0
    ) >= 1
    assert (
        _value(
            text,
            "linkgate_bus_events_observed_total",
            family="alert.routed",
            detail="command-centre",
            status="actual",
        )
        or 0
    ) >= 1
    assert (
        _value(text, "linkgate_received_to_routed_seconds_count", destination="command-centre") or 0
    ) >= 1
    assert (_value(text, "linkgate_messages_in_total", adapter="sms", status="actual") or 0) >= 1
    assert (_value(text, "linkgate_webhook_to_published_seconds_count", adapter="sms") or 0) >= 1
    assert (
        _value(
            text,
            "linkgate_messages_out_total",
            adapter="command-centre-http",
            destination="command-centre",
            outcome="ok",
        )
        or 0
    ) >= 1
    assert (
        _value(text, "linkgate_routed_to_delivered_seconds_count", destination="command-centre")
        or 0
    ) >= 1
    assert (_value(text, "linkgate_delivery_retries_total", destination="12345") or 0) >= 1
    assert _value(text, "linkgate_ami_link_up") == 1.0
    assert _value(text, "linkgate_ami_link_state", linkgate_ami_link_state="connected") == 1.0
    assert (
        _value(text, "linkgate_published_total", routing_key_prefix="alert.received", outcome="ok")
        or 0
    ) >= 0
    assert "linkgate_consumed_total" in text or "linkgate_published_total" in text


async def test_metrics_needs_scope(app_factory, settings: Settings) -> None:
    settings.api_keys["board-only"] = ["board:read"]
    _, client = await app_factory(api_key=None)
    assert (await client.get("/metrics")).status_code == 401
    r = await client.get("/metrics", headers={"X-API-Key": "board-only"})
    assert r.status_code == 403


async def test_metrics_port_for_other_processes(settings: Settings) -> None:
    port = free_port()
    served = metrics.start_metrics_server(settings.model_copy(update={"metrics_port": port}))
    assert served is not None  # once per process: a second call reuses the first port
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.get(f"http://127.0.0.1:{served}/metrics")
    assert r.status_code == 200 and "linkgate_dlq_depth" in r.text
    assert metrics.start_metrics_server(settings.model_copy(update={"metrics_port": 0})) is None
