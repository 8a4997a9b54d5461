"""Orders to linkage units, their feedback, and deadline (SLA) events."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from contracts.common import E164, Identifier, StrictModel, UtcTime
from contracts.directory import Area, Tier

FeedbackKind = Literal[
    "delivered",
    "acknowledged",
    "arrived",
    "completed",
    "report",
    "reinforcement",
    "handed_over",
    "refused",
    "escalated",
    "cancelled",
]
OrderChannel = Literal["sms", "wecom", "call"]


def _default_via() -> list[OrderChannel]:
    return ["sms"]


FeedbackVia = Literal["sms", "wecom", "api", "call", "system"]


class OrderState(StrEnum):
    """Where an order stands in its lifecycle."""

    ISSUED = "issued"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    REPORTED = "reported"
    HANDED_OVER = "handed_over"
    ESCALATED = "escalated"
    REFUSED = "refused"
    CANCELLED = "cancelled"


class Deadlines(StrictModel):
    """When the unit must have acknowledged, arrived and filed its written report."""

    acknowledge_by: UtcTime | None = None
    arrive_by: UtcTime | None = None
    report_by: UtcTime | None = None


class Order(StrictModel):
    """A dispatch order to a linkage unit for an incident."""

    order_id: Identifier
    code: str = Field(pattern=r"^[A-Z0-9]{4,8}$", description="short code a liaison can type")
    incident_id: Identifier
    unit_id: Identifier
    tier: Tier
    area: Area = "urban"
    jurisdiction: str | None = Field(None, max_length=64)
    emergency: bool = True
    instructions: str = Field(min_length=1, max_length=1000)
    address: str | None = Field(None, max_length=500)
    issued_at: UtcTime
    issued_by: str = Field(max_length=128)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    via: list[OrderChannel] = Field(default_factory=_default_via)
    on_site: bool = Field(True, description="on-site work needed (tier 3: arrival deadline)")
    attempt: int = Field(1, ge=1, le=20, description="1 = first dispatch; >1 = re-dispatch")
    recipients: list[E164] | None = Field(
        None, max_length=10, description="re-dispatch: send only to these (the next liaison)"
    )


class OrderFeedback(StrictModel):
    """A unit's answer to an order (or a centre's decision about it)."""

    feedback_id: Identifier
    order_id: Identifier | None = None
    order_code: str | None = Field(None, pattern=r"^[A-Z0-9]{4,8}$")
    kind: FeedbackKind
    by: str = Field(max_length=128, description="who: liaison name, unit id, operator")
    via: FeedbackVia
    at: UtcTime
    note: str | None = Field(None, max_length=2000)
    handed_to_unit: Identifier | None = None
    raw_text: str | None = Field(None, max_length=1600, description="the reply as typed")


class SlaEvent(StrictModel):
    """A deadline about to pass (warning) or passed without feedback (breached)."""

    order_id: Identifier
    unit_id: Identifier
    incident_id: Identifier
    milestone: Literal["acknowledge", "arrive", "report"]
    kind: Literal["warning", "breached"]
    deadline: UtcTime
    at: UtcTime
    order_code: str | None = Field(None, pattern=r"^[A-Z0-9]{4,8}$", description="for reminders")


DeliveryStatus = Literal["sent", "delivered", "undelivered", "failed", "fallback", "exhausted"]


class OrderDelivery(StrictModel):
    """What happened to one order message sent to one person (SMS or WeCom group).

    `undelivered`/`failed` tell the command centre an order did not reach someone;
    `fallback` says who was tried next; `exhausted` that nobody is left to try.
    """

    delivery_id: Identifier
    order_id: Identifier
    unit_id: Identifier
    incident_id: Identifier | None = None
    channel: OrderChannel
    status: DeliveryStatus
    to: str | None = Field(None, max_length=64, description="E.164 mobile or robot name")
    provider_ref: str | None = Field(None, max_length=128, description="Twilio MessageSid")
    error_code: str | None = Field(None, max_length=32)
    detail: str | None = Field(None, max_length=500)
    next_to: str | None = Field(None, max_length=64)
    at: UtcTime
