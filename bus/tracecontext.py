"""W3C trace context on the bus: events published inside a span carry its `traceparent`,
and every handler runs in a span whose parent is its event's `traceparent`.

Done here, once, so no handler or webhook has to remember it. Only the OpenTelemetry
API is used; a process that installs the SDK (`gateway.observability.tracing`) records
the spans, and without it the ids still propagate.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from contracts.envelope import CloudEvent

_PROPAGATOR = TraceContextTextMapPropagator()
# once: the SDK builds a new tracer on every get_tracer (2 % of the router's CPU when it
# was called per message); before the SDK is installed this is a proxy that binds to it
_TRACER = trace.get_tracer("linkgate.bus")


def current_traceparent() -> str | None:
    """The active span's `traceparent`, or None outside any valid span."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def stamp(event: CloudEvent) -> CloudEvent:
    """The event with the active span's `traceparent`, unless it already has one."""
    if event.traceparent is not None:
        return event
    traceparent = current_traceparent()
    return event if traceparent is None else event.model_copy(update={"traceparent": traceparent})


@contextmanager
def consume_span(event: CloudEvent, queue: str) -> Iterator[None]:
    """Run a handler as the child of the event's trace (or in a new trace)."""
    parent = (
        _PROPAGATOR.extract({"traceparent": event.traceparent}, context=otel_context.Context())
        if event.traceparent
        else otel_context.Context()
    )
    attributes = {
        "messaging.destination.name": queue,
        "cloudevents.event_id": event.id,
        "cloudevents.event_type": event.type,
        "linkage.status": event.status.value,
    }
    with _TRACER.start_as_current_span(
        f"consume {event.type}", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ):
        yield
