"""Trace context follows one alert: HTTP request → event → real broker → consumer → event."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aio_pika
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from pydantic import BaseModel
from redis.asyncio import Redis

from bus.consumer import ConsumerRunner, ConsumerSpec
from bus.publisher import Publisher
from bus.topology import declare_exchanges
from contracts.alert import RoutedAlert
from contracts.envelope import CloudEvent, make_event
from gateway.observability.tracing import (
    child_traceparent,
    current_traceparent,
    setup_tracing,
    start_span_from_headers,
    traced,
)
from gateway.settings import Settings
from tests.ops.conftest import alert_event, routed_event

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_PARENT = "b7ad6b7169203331"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    setup_tracing(exp, batch=False)
    yield exp


def _ids(traceparent: str) -> tuple[str, str]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return trace_id, span_id


async def test_request_span_continues_callers_traceparent(app_factory, exporter) -> None:
    _, client = await app_factory()
    r = await client.get(
        "/healthz", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_PARENT}-01"}
    )
    trace_id, span_id = _ids(r.headers["traceparent"])
    assert trace_id == CALLER_TRACE and span_id != CALLER_PARENT
    server = next(s for s in exporter.get_finished_spans() if s.context.span_id == int(span_id, 16))
    assert server.kind is SpanKind.SERVER and server.parent is not None
    assert server.parent.span_id == int(CALLER_PARENT, 16)
    r = await client.get("/healthz")  # no traceparent: a fresh trace, still propagated
    assert _ids(r.headers["traceparent"])[0] != CALLER_TRACE


async def test_trace_links_across_the_real_broker(
    settings: Settings, publisher: Publisher, redis: Redis, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    connection = await aio_pika.connect(settings.amqp_url)
    channel = await connection.channel()
    events, _ = await declare_exchanges(channel, settings)
    probe = await channel.declare_queue(exclusive=True, auto_delete=True)
    await probe.bind(events, routing_key="alert.routed.#")
    seen: asyncio.Queue[tuple[CloudEvent, dict]] = asyncio.Queue()

    async def on_probe(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await seen.put((CloudEvent.model_validate_json(message.body), dict(message.headers)))

    await probe.consume(on_probe, no_ack=True)

    async def route(event: CloudEvent, model: BaseModel) -> None:
        """A stand-in router: emits alert.routed with the trace continued."""
        routed = RoutedAlert.model_validate(routed_event(model).data)  # type: ignore[arg-type]
        out = make_event(
            routed,
            source="/test/router",
            subject=event.subject,
            traceparent=child_traceparent(event),
        )
        await publisher.publish(out)

    runner = ConsumerRunner(
        settings,
        redis,
        [ConsumerSpec("router-test", ["alert.received.#"], traced(route, "route alert"))],
    )
    await runner.start()
    try:
        headers = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_PARENT}-01"}
        with start_span_from_headers(headers, "POST /webhooks/sms") as webhook_span:
            alert, _ = alert_event("海边礁石上有人被困，潮水在涨")
            received = make_event(alert, source="/test/webhook", traceparent=current_traceparent())
            await publisher.publish(received)
        async with asyncio.timeout(5):
            routed, amqp_headers = await seen.get()
    finally:
        await runner.stop(grace_s=2)
        await connection.close()

    webhook_id = webhook_span.get_span_context().span_id
    assert received.traceparent is not None and _ids(received.traceparent) == (
        CALLER_TRACE,
        f"{webhook_id:016x}",
    )
    assert routed.traceparent is not None and amqp_headers["traceparent"] == routed.traceparent
    trace_id, routed_parent = _ids(routed.traceparent)
    assert trace_id == CALLER_TRACE  # the same trace, end to end

    spans = {s.context.span_id: s for s in exporter.get_finished_spans()}
    consumer = spans[int(routed_parent, 16)]  # the routed event's parent is the consumer span
    assert consumer.name == "route alert" and consumer.kind is SpanKind.CONSUMER
    assert consumer.parent is not None and consumer.parent.span_id == webhook_id
    assert (
        consumer.attributes is not None
        and consumer.attributes["cloudevents.event_id"] == received.id
    )
