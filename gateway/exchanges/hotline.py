"""12345 both ways (国办发〔2022〕12号: tickets flow both ways, feedback closes the loop).

Outbound: a non-emergency routed to `12345` becomes a ticket transfer (工单转办): POST
`{hotline_url}/tickets` with `Idempotency-Key` = alert id; the platform answers its
ticket number; we publish `ticket.transfer.outbound` (status created). Its status updates
come back on `POST /v1/tickets/{id}/status` → `ticket.transfer.outbound` again.
Inbound: the platform transfers an emergency to 110 on `POST /v1/tickets` → an `Alert`
(`alert.received.api`, category hint) for the command centre + `ticket.transfer.inbound`.
Both directions are idempotent by the platform's ticket number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from bus.errors import PermanentError
from bus.publisher import Publisher
from contracts.alert import Alert, Location, RoutedAlert
from contracts.common import E164, Channel, EventStatus, Identifier, new_id, utcnow
from contracts.envelope import CloudEvent, make_event
from contracts.ticket import TicketStatus, TicketTransfer
from gateway.exchanges.platform import Platforms
from gateway.exchanges.store import Doc, ExchangeStore
from gateway.settings import Settings

log = structlog.get_logger(__name__)

SOURCE = "/linkgate/exchanges/12345"
PLATFORM = "12345"
# 12345 transfers to 110 only what it judged an emergency: the category starts with
# "emergency" so that routing's `category.emergency` rule sends it to the command centre
# whatever the text says (the platform's own category is kept after it)
INBOUND_CATEGORY = "emergency.from-12345"
STATUS_RANK: dict[str, int] = {
    "created": 0, "accepted": 1, "in_progress": 2, "closed": 3, "rejected": 3, "returned": 3,
}


class TicketStatusUpdate(BaseModel):
    """`POST /v1/tickets/{id}/status` from the 12345 platform."""

    model_config = {"extra": "forbid"}

    status: TicketStatus
    result: str | None = Field(None, max_length=4000, description="required when closed")
    updated_at: datetime | None = None
    handler: str | None = Field(None, max_length=128)


class InboundTicket(BaseModel):
    """`POST /v1/tickets`: the 12345 platform transfers an emergency to 110."""

    model_config = {"extra": "forbid"}

    ticket_id: Identifier
    text: str = Field(min_length=1, max_length=4000)
    caller: E164 | None = None
    callback_number: E164 | None = None
    address: str | None = Field(None, max_length=500)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    category: str | None = Field(None, max_length=64)
    received_at: datetime | None = None
    exercise: bool = False


class ExchangeError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Hotline:
    """The 12345 exchange, shared by its consumer (sla process) and its API routes."""

    def __init__(
        self,
        redis: Redis,
        settings: Settings,
        publisher_of: Callable[[], Publisher | None],
        platforms: Platforms | None = None,
    ) -> None:
        self._settings = settings
        self.store = ExchangeStore(redis, settings)
        self._publisher_of = publisher_of
        self.platforms = platforms or Platforms(settings)

    # ---- outbound: routed alert → ticket transfer

    async def on_routed(self, event: CloudEvent, model: BaseModel) -> None:
        assert isinstance(model, RoutedAlert)
        alert = model.alert
        if await self.store.id_for_alert("inbound", alert.alert_id):
            # 12345 sent this to 110 as an emergency: never bounce it back; a human decides
            raise PermanentError("ticket-bounce", f"alert {alert.alert_id} came from 12345")
        if await self.store.id_for_alert("ticket", alert.alert_id):
            return
        body = _ticket_request(self._settings, event, model)
        response = await self.platforms.post(PLATFORM, "tickets", body, alert.alert_id)
        try:
            ticket_id = str(response.json()["ticket_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError("12345-bad-response", response.text[:300]) from exc
        transfer = TicketTransfer(
            ticket_id=ticket_id,
            direction="outbound",
            incident_id=alert.incident_id,
            status="created",
            alert=alert,
            category=model.decision.category,
            callback_number=alert.caller,
            updated_at=utcnow(),
        )
        out = make_event(transfer, source=SOURCE, subject=alert.incident_id, status=event.status)
        doc = _doc(transfer, event.status)
        _, _, ids = await self.store.create(
            "ticket", ticket_id, doc, [out], alert_id=alert.alert_id
        )
        await self.store.flush(self._publisher_of(), ids)

    # ---- status updates from the platform

    async def update_status(self, ticket_id: str, upd: TicketStatusUpdate) -> tuple[Doc, bool]:
        if upd.status == "closed" and not upd.result:
            raise ExchangeError(422, "result-required")
        if upd.updated_at is not None and upd.updated_at.tzinfo is None:
            raise ExchangeError(422, "updated-at-needs-timezone")
        conflict: list[str] = []

        def change(doc: Doc) -> tuple[Doc, list[CloudEvent]] | None:
            current = doc["transfer"]["status"]
            if current == upd.status:
                return None
            if STATUS_RANK[upd.status] <= STATUS_RANK[current]:
                conflict.append(f"ticket-already-{current}")
                return None
            transfer = TicketTransfer.model_validate(doc["transfer"]).model_copy(
                update={
                    "status": upd.status,
                    "result": upd.result,
                    "updated_at": upd.updated_at or utcnow(),
                }
            )
            status = EventStatus(doc["status"])
            e = make_event(transfer, source=SOURCE, subject=transfer.incident_id, status=status)
            new = _doc(transfer, status)
            new["history"] = [*doc.get("history", []), _hist(upd.status, upd.handler)]
            return new, [e]

        doc, changed, ids = await self.store.update("ticket", ticket_id, change)
        if doc is None:
            raise ExchangeError(404, "ticket-not-found")
        if conflict:
            raise ExchangeError(409, conflict[0])
        await self.store.flush(self._publisher_of(), ids)
        return doc, changed

    # ---- inbound: 12345 transfers an emergency to 110

    async def receive(self, req: InboundTicket) -> tuple[Doc, bool]:
        if (req.lat is None) != (req.lon is None):
            raise ExchangeError(422, "lat-lon-together")
        received = req.received_at or utcnow()
        if received.tzinfo is None:
            raise ExchangeError(422, "received-at-needs-timezone")
        existing = await self.store.get("inbound", req.ticket_id)
        if existing is not None:
            return existing, False
        status = EventStatus.EXERCISE if req.exercise else EventStatus.ACTUAL
        location = (
            Location(address=req.address, lat=req.lat, lon=req.lon)
            if req.address or req.lat is not None
            else None
        )
        alert = Alert(
            alert_id=new_id(),
            incident_id=new_id(),
            channel=Channel.API,
            received_at=received,
            caller=req.caller,
            called="12345",
            text=req.text,
            location=location,
            category=_inbound_category(req.category),
            source_ref=req.ticket_id,
            reporter="12345",
        )
        transfer = TicketTransfer(
            ticket_id=req.ticket_id,
            direction="inbound",
            incident_id=alert.incident_id,
            status="accepted",
            alert=alert,
            category=alert.category,
            callback_number=req.callback_number or req.caller,
            updated_at=utcnow(),
        )
        events = [
            make_event(alert, source=SOURCE, subject=alert.incident_id, status=status),
            make_event(transfer, source=SOURCE, subject=alert.incident_id, status=status),
        ]
        doc, created, ids = await self.store.create(
            "inbound", req.ticket_id, _doc(transfer, status), events, alert_id=alert.alert_id
        )
        await self.store.flush(self._publisher_of(), ids)
        return doc, created


def _inbound_category(given: str | None) -> str:
    return (f"{INBOUND_CATEGORY}.{given}" if given else INBOUND_CATEGORY)[:64]


def _doc(transfer: TicketTransfer, status: EventStatus) -> Doc:
    return {"transfer": transfer.model_dump(mode="json", exclude_none=True), "status": status}


def _hist(status: str, by: str | None) -> dict[str, Any]:
    return {"status": status, "by": by, "at": utcnow().isoformat()}


def _ticket_request(settings: Settings, event: CloudEvent, routed: RoutedAlert) -> dict[str, Any]:
    """What the 12345 platform gets for a ticket transfer (工单转办)."""
    a = routed.alert
    base = str(settings.public_base_url).rstrip("/")
    return {
        "source": "110-linkage",
        "incident_id": a.incident_id,
        "alert_id": a.alert_id,
        "category": routed.decision.category,
        "rule": routed.decision.rule,
        "text": a.text,
        "caller": a.caller,
        "callback_number": a.caller,
        "location": a.location.model_dump(mode="json", exclude_none=True) if a.location else None,
        "received_at": a.received_at.isoformat(),
        "status_url": f"{base}/v1/tickets/{{ticket_id}}/status",
        "drill": event.status != EventStatus.ACTUAL,
    }
