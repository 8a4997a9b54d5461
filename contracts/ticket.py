"""Ticket transfers (工单转办) between the linkage centre and the 12345 platform."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.alert import Alert
from contracts.common import Identifier, StrictModel, UtcTime

TicketStatus = Literal["created", "accepted", "in_progress", "closed", "rejected", "returned"]


class TicketTransfer(StrictModel):
    """A ticket crossing between 110 and 12345, in either direction."""

    ticket_id: Identifier = Field(description="the 12345 platform's ticket number")
    direction: Literal["outbound", "inbound"]
    incident_id: Identifier
    status: TicketStatus
    alert: Alert | None = None
    category: str | None = Field(None, max_length=64)
    result: str | None = Field(None, max_length=4000)
    callback_number: str | None = Field(None, max_length=32)
    updated_at: UtcTime
