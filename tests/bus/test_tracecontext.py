"""Trace context crosses the real broker without any handler doing anything for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel
from redis.asyncio import Redis

from bus.consumer import ConsumerRunner, ConsumerSpec
from bus.publisher import Publisher
from contracts import Alert, CloudEvent, RoutedAlert, RoutingDecision, make_event, utcnow
from gateway.observability.tracing import setup_tracing
from gateway.settings import Settings


async def test_trace_follows_an_alert_from_request_to_emitted_event(
    settings: Settings, redis: Redis, publisher: Publisher,
    bus_probe: Callable[..., Awaitable[Any]],
) -> None:
    exporter = InMemorySpanExporter()
    setup_tracing(exporter, batch=False)
    probe = await bus_probe("alert.routed.#")

    async def route(event: CloudEvent, model: BaseModel) -> None:
        assert isinstance(model, Alert)
        decision = RoutingDecision(destination="command-centre", category="emergency.fire",
                                   rule="t", emergency=True)
        # the handler publishes as any handler does: no trace code at all
        await publisher.publish(make_event(RoutedAlert(alert=model, decision=decision),
                                           source="/t", subject=model.incident_id))

    runner = ConsumerRunner(settings, redis, [ConsumerSpec("t.trace", ["alert.received.*"], route)])
    await runner.start()
    try:
        with trace.get_tracer("test").start_as_current_span("POST /webhooks/twilio/sms") as span:
            webhook_ctx = span.get_span_context()
            alert = Alert(channel="sms", received_at=utcnow(), text="着火了")
            await publisher.publish(make_event(alert, source="/t", subject=alert.incident_id))
        (routed,) = await probe.take(1)
    finally:
        await runner.stop()
    await asyncio.sleep(0.1)
    trace_id = f"{webhook_ctx.trace_id:032x}"
    assert routed.traceparent is not None and routed.traceparent.split("-")[1] == trace_id
    consume = next(s for s in exporter.get_finished_spans() if s.name == "consume cn.linkage.alert.received")
    assert consume.context is not None and consume.parent is not None
    assert consume.parent.span_id == webhook_ctx.span_id  # child of the webhook's span
    assert routed.traceparent.split("-")[2] == f"{consume.context.span_id:016x}"  # child of it
