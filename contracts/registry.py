"""Which model travels under which CloudEvents type and AMQP routing key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from contracts.alert import Alert, RoutedAlert
from contracts.call import CallEvent, CallTransfer, ThreeWayCall
from contracts.dutycheck import DutyCheckResult
from contracts.envelope import CloudEvent
from contracts.order import Order, OrderDelivery, OrderFeedback, SlaEvent
from contracts.sea import SeaHandover
from contracts.ticket import TicketTransfer

SCHEMA_BASE = "urn:linkage-gateway:schema"


@dataclass(frozen=True)
class EventType:
    """One message kind: its model, CloudEvents type, schema version and routing key rule."""

    noun: str
    verb: str
    model: type[BaseModel]
    version: int
    detail: Callable[[dict[str, Any]], str | None]

    @property
    def type(self) -> str:
        return f"cn.linkage.{self.noun}.{self.verb}"

    @property
    def dataschema(self) -> str:
        return f"{SCHEMA_BASE}:{self.noun}.{self.verb}:v{self.version}"

    def routing_key(self, data: dict[str, Any]) -> str:
        detail = self.detail(data)
        base = f"{self.noun}.{self.verb}"
        return f"{base}.{detail}" if detail else base


def _field(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda data: str(data[name])


_TYPES = [
    EventType("alert", "received", Alert, 1, _field("channel")),
    EventType("alert", "routed", RoutedAlert, 1, lambda d: str(d["decision"]["destination"])),
    EventType("order", "issued", Order, 1, lambda d: None),
    EventType("order", "feedback", OrderFeedback, 1, _field("kind")),
    EventType("order", "sla", SlaEvent, 1, _field("kind")),
    EventType("order", "delivery", OrderDelivery, 1, _field("status")),
    EventType("call", "event", CallEvent, 1, _field("state")),
    EventType("call", "threeway", ThreeWayCall, 1, _field("state")),
    EventType("call", "transfer", CallTransfer, 1, _field("state")),
    EventType("ticket", "transfer", TicketTransfer, 1, _field("direction")),
    EventType("dutycheck", "result", DutyCheckResult, 1, _field("outcome")),
    EventType("sea", "handover", SeaHandover, 1, _field("status")),
]

EVENT_TYPES: dict[str, EventType] = {et.type: et for et in _TYPES}
_BY_MODEL: dict[type[BaseModel], EventType] = {et.model: et for et in _TYPES}


def event_type_for_model(model: type[BaseModel]) -> EventType:
    """The event type a model travels as; every contract model has exactly one."""
    try:
        return _BY_MODEL[model]
    except KeyError:
        raise TypeError(f"{model.__name__} is not a message contract") from None


def routing_key_for(event: CloudEvent) -> str:
    """The AMQP routing key of an event (`<noun>.<verb>.<detail>`, contract v1)."""
    return EVENT_TYPES[event.type].routing_key(event.data)
