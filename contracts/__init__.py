"""Versioned message contracts of the linkage gateway (pure models, no I/O).

Every message the gateway carries is one of these models inside a CloudEvents 1.0
structured-JSON envelope (:mod:`contracts.envelope`).
"""

from contracts.alert import Alert, Location, Media, RoutedAlert, RoutingDecision
from contracts.call import CallEvent, ThreeWayCall
from contracts.common import (
    Channel,
    Destination,
    EventStatus,
    Script,
    new_id,
    normalise_e164,
    utcnow,
)
from contracts.directory import Liaison, Unit, UnitDirectory
from contracts.dutycheck import DutyCheckResult
from contracts.envelope import CloudEvent, make_event, parse_event
from contracts.order import Order, OrderFeedback, OrderState, SlaEvent
from contracts.registry import EVENT_TYPES, EventType, routing_key_for
from contracts.sea import SeaHandover
from contracts.ticket import TicketTransfer

__all__ = [
    "EVENT_TYPES",
    "Alert",
    "CallEvent",
    "Channel",
    "CloudEvent",
    "Destination",
    "DutyCheckResult",
    "EventStatus",
    "EventType",
    "Liaison",
    "Location",
    "Media",
    "Order",
    "OrderFeedback",
    "OrderState",
    "RoutedAlert",
    "RoutingDecision",
    "Script",
    "SeaHandover",
    "SlaEvent",
    "ThreeWayCall",
    "TicketTransfer",
    "Unit",
    "UnitDirectory",
    "make_event",
    "new_id",
    "normalise_e164",
    "parse_event",
    "routing_key_for",
    "utcnow",
]
