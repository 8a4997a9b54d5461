"""Hand-over of sea incidents to the maritime SAR / ocean & fishery centre (Zhoushan §2.3).

The centre then commands and keeps the linkage centre informed: its status comes back
on `POST /v1/sea/handovers/{id}/status` → `sea.handover.<status>`; a report it received
directly is posted to `POST /v1/sea/reports` → `sea.handover.reported_direct` plus an
`Alert` so the command centre's picture is complete. That alert is marked so that, when
routing sends it to the same sea centre, it is not handed back to where it came from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from redis.asyncio import Redis

from bus.publisher import Publisher
from contracts.alert import Alert, Location, RoutedAlert
from contracts.common import E164, Channel, EventStatus, Identifier, new_id, utcnow
from contracts.envelope import CloudEvent, make_event
from contracts.sea import SeaCentre, SeaHandover, VesselKind
from gateway.exchanges.hotline import ExchangeError
from gateway.exchanges.platform import Platforms
from gateway.exchanges.store import Doc, ExchangeStore
from gateway.settings import Settings

SOURCE = "/linkgate/exchanges/sea"
STATUS_RANK = {"handed_over": 0, "accepted": 1, "responding": 2, "resolved": 3}

_VESSELS: list[tuple[VesselKind, tuple[str, ...]]] = [
    ("fish-farm", ("养殖", "网箱", "渔排")),
    ("fishing", ("渔船", "渔民", "捕捞")),
    ("passenger", ("客船", "客轮", "渡船", "轮渡", "客渡")),
    ("leisure", ("游艇", "帆船", "皮划艇", "摩托艇")),
    ("merchant", ("货船", "货轮", "商船", "油轮", "集装箱船", "散货船")),
]
_CN_DIGITS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10}
_IN_WATER = re.compile(r"(\d+|[一两二三四五六七八九十])\s*(?:个)?(?:人|名\S{0,2})\s*落水")


def vessel_kind(text: str) -> VesselKind:
    """The kind of vessel a report speaks of, by keywords (unknown if none)."""
    for kind, words in _VESSELS:
        if any(w in text for w in words):
            return kind
    return "unknown"


def persons_in_water(text: str) -> int | None:
    """"3人落水" / "两名船员落水" → a count; "有人落水" → None (unknown how many)."""
    m = _IN_WATER.search(text)
    if not m:
        return None
    raw = m.group(1)
    return int(raw) if raw.isdigit() else _CN_DIGITS.get(raw)


class HandoverStatusUpdate(BaseModel):
    """`POST /v1/sea/handovers/{id}/status` from the sea centre."""

    model_config = {"extra": "forbid"}

    status: str = Field(pattern=r"^(accepted|responding|resolved)$")
    note: str | None = Field(None, max_length=4000)
    reported_by: str | None = Field(None, max_length=128)
    persons_in_water: int | None = Field(None, ge=0)
    updated_at: datetime | None = None


class DirectReport(BaseModel):
    """`POST /v1/sea/reports`: a report the sea centre received directly."""

    model_config = {"extra": "forbid"}

    report_id: Identifier
    text: str = Field(min_length=1, max_length=4000)
    caller: E164 | None = None
    address: str | None = Field(None, max_length=500)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    vessel_name: str | None = Field(None, max_length=128)
    vessel_kind: VesselKind | None = None
    persons_in_water: int | None = Field(None, ge=0)
    received_at: datetime | None = None
    reported_by: str | None = Field(None, max_length=128)
    note: str | None = Field(None, max_length=4000)
    exercise: bool = False


def handover_id(alert_id: str, centre: str) -> str:
    """Deterministic: a redelivered routed alert gets the same id (and Idempotency-Key)."""
    return "ho-" + hashlib.sha256(f"{alert_id}|{centre}".encode()).hexdigest()[:32]


class SeaExchange:
    """Sea-centre hand-overs, shared by the consumer (sla process) and the API routes."""

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

    async def on_routed(self, event: CloudEvent, model: BaseModel) -> None:
        assert isinstance(model, RoutedAlert)
        alert = model.alert
        centre: SeaCentre = model.decision.destination.value  # type: ignore[assignment]
        if await self.store.id_for_alert("seareport", alert.alert_id):
            return  # the centre reported it to us: it already has it
        hid = handover_id(alert.alert_id, centre)
        if await self.store.get("handover", hid) is not None:
            return
        handover = SeaHandover(
            handover_id=hid,
            incident_id=alert.incident_id,
            centre=centre,
            status="handed_over",
            alert=alert,
            vessel_kind=vessel_kind(alert.text),
            persons_in_water=persons_in_water(alert.text),
            callback_number=alert.caller,
            note=f"category={model.decision.category} rule={model.decision.rule}",
            updated_at=utcnow(),
        )
        body: dict[str, Any] = handover.model_dump(mode="json", exclude_none=True)
        base = str(self._settings.public_base_url).rstrip("/")
        body["status_url"] = f"{base}/v1/sea/handovers/{hid}/status"
        body["drill"] = event.status != EventStatus.ACTUAL
        await self.platforms.post(centre, "handovers", body, hid)
        out = make_event(handover, source=SOURCE, subject=alert.incident_id, status=event.status)
        _, _, ids = await self.store.create(
            "handover", hid, _doc(handover, event.status), [out], alert_id=alert.alert_id
        )
        await self.store.flush(self._publisher_of(), ids)

    async def update_status(
        self, hid: str, platform: str, upd: HandoverStatusUpdate
    ) -> tuple[Doc, bool]:
        if upd.updated_at is not None and upd.updated_at.tzinfo is None:
            raise ExchangeError(422, "updated-at-needs-timezone")
        current_doc = await self.store.get("handover", hid)
        if current_doc is None:
            raise ExchangeError(404, "handover-not-found")
        if current_doc["handover"]["centre"] != platform:
            raise ExchangeError(403, "not-your-handover")
        conflict: list[str] = []

        def change(doc: Doc) -> tuple[Doc, list[CloudEvent]] | None:
            current = doc["handover"]["status"]
            if current == upd.status:
                return None
            if STATUS_RANK[upd.status] <= STATUS_RANK.get(current, 0):
                conflict.append(f"handover-already-{current}")
                return None
            ho = SeaHandover.model_validate(doc["handover"])
            update: dict[str, Any] = {
                "status": upd.status,
                "updated_at": upd.updated_at or utcnow(),
            }
            if upd.note:
                update["note"] = upd.note
            if upd.reported_by:
                update["reported_by"] = upd.reported_by
            if upd.persons_in_water is not None:
                update["persons_in_water"] = upd.persons_in_water
            ho = ho.model_copy(update=update)
            status = EventStatus(doc["status"])
            e = make_event(ho, source=SOURCE, subject=ho.incident_id, status=status)
            return _doc(ho, status), [e]

        doc, changed, ids = await self.store.update("handover", hid, change)
        if conflict:
            raise ExchangeError(409, conflict[0])
        assert doc is not None
        await self.store.flush(self._publisher_of(), ids)
        return doc, changed

    async def direct_report(self, centre: str, req: DirectReport) -> tuple[Doc, bool]:
        if (req.lat is None) != (req.lon is None):
            raise ExchangeError(422, "lat-lon-together")
        received = req.received_at or utcnow()
        if received.tzinfo is None:
            raise ExchangeError(422, "received-at-needs-timezone")
        ident = f"{centre}:{req.report_id}"
        existing = await self.store.get("seareport", ident)
        if existing is not None:
            return existing, False
        status = EventStatus.EXERCISE if req.exercise else EventStatus.ACTUAL
        alert = Alert(
            alert_id=new_id(),
            incident_id=new_id(),
            channel=Channel.API,
            received_at=received,
            caller=req.caller,
            text=req.text,
            location=Location(address=req.address, lat=req.lat, lon=req.lon, at_sea=True),
            source_ref=req.report_id,
            reporter=centre,
        )
        handover = SeaHandover(
            handover_id="dr-" + hashlib.sha256(ident.encode()).hexdigest()[:32],
            incident_id=alert.incident_id,
            centre=centre,
            status="reported_direct",
            alert=alert,
            vessel_name=req.vessel_name,
            vessel_kind=req.vessel_kind or vessel_kind(req.text),
            persons_in_water=(
                req.persons_in_water
                if req.persons_in_water is not None
                else persons_in_water(req.text)
            ),
            note=req.note,
            callback_number=req.caller,
            reported_by=req.reported_by,
            updated_at=utcnow(),
        )
        events = [
            make_event(handover, source=SOURCE, subject=alert.incident_id, status=status),
            make_event(alert, source=SOURCE, subject=alert.incident_id, status=status),
        ]
        doc, created, ids = await self.store.create(
            "seareport", ident, _doc(handover, status), events, alert_id=alert.alert_id
        )
        await self.store.flush(self._publisher_of(), ids)
        return doc, created


def _doc(handover: SeaHandover, status: EventStatus) -> Doc:
    return {"handover": handover.model_dump(mode="json", exclude_none=True), "status": status}
