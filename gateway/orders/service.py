"""Issuing orders and applying feedback, for the API and for the bus consumers alike."""

from __future__ import annotations

import contextlib
import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from bus.errors import PermanentError
from contracts.common import EventStatus, Identifier, new_id, utcnow
from contracts.envelope import CloudEvent
from contracts.order import Order, OrderChannel, OrderFeedback
from gateway.directory.schedule import accepts_orders_now
from gateway.directory.store import DirectoryStore
from gateway.orders import codes, metrics
from gateway.orders.deadlines import UnknownProfileError, compute_deadlines
from gateway.orders.machine import Decision
from gateway.orders.record import OrderRecord
from gateway.orders.store import OrderError, OrderStore
from gateway.settings import Settings

log = structlog.get_logger(__name__)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # a typo'd year must not overflow deadlines


def _sms() -> list[OrderChannel]:
    return ["sms"]


class IssueRequest(BaseModel):
    """`POST /v1/orders`: what the command centre says; the gateway adds code and deadlines."""

    model_config = {"extra": "forbid"}

    incident_id: Identifier
    unit_id: Identifier
    instructions: str = Field(min_length=1, max_length=1000)
    address: str | None = Field(None, max_length=500)
    emergency: bool = True
    on_site: bool = True
    via: list[OrderChannel] = Field(default_factory=_sms)
    issued_by: str = Field("command-centre", min_length=1, max_length=128)
    issued_at: datetime | None = Field(None, description="default: now (must be timezone-aware)")
    order_id: Identifier | None = Field(None, description="caller's id makes retries idempotent")
    status: EventStatus = EventStatus.ACTUAL


class Orders:
    """The order operations every entry point shares."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.store = OrderStore(redis, settings)
        self.directory = DirectoryStore(redis, settings)

    async def issue(self, req: IssueRequest) -> tuple[OrderRecord, bool, list[str]]:
        """Validate against the directory, compute deadlines, store (with `order.issued`)."""
        if req.issued_at is not None and req.issued_at.tzinfo is None:
            raise OrderError(422, "issued-at-needs-timezone")
        unit = await self.directory.get(req.unit_id)
        if unit is None:
            raise OrderError(422, "unknown-unit")
        issued_at = req.issued_at or utcnow()
        if not EARLIEST <= issued_at <= utcnow() + timedelta(days=1):
            raise OrderError(422, "issued-at-out-of-range")
        try:
            deadlines = compute_deadlines(self.settings, unit, issued_at, on_site=req.on_site)
        except UnknownProfileError as exc:
            raise OrderError(500, "deadline-profile-misconfigured") from exc
        order = Order(
            order_id=req.order_id or new_id(),
            code=codes.new_code(),
            incident_id=req.incident_id,
            unit_id=unit.id,
            tier=unit.tier,
            area=unit.area,
            jurisdiction=unit.jurisdiction,
            emergency=req.emergency,
            instructions=req.instructions,
            address=req.address,
            issued_at=issued_at,
            issued_by=req.issued_by,
            deadlines=deadlines,
            via=req.via,
            on_site=req.on_site,
        )
        note = None
        if not accepts_orders_now(unit, issued_at):
            # tier 3 takes orders in working hours only: issue anyway, say so in the history
            note = "outside-working-hours"
            log.warning("orders.outside_working_hours", unit_id=unit.id, order_id=order.order_id)
        return await self.store.issue(
            order, unit, req.status, publish=True, may_recode=True, note=note
        )

    async def feedback(
        self, fb: OrderFeedback, *, publish: bool
    ) -> tuple[Decision, OrderRecord, list[str]]:
        """Apply feedback; returns the decision, the record after it and outbox event ids."""
        decision, record, ids = await self.store.apply(fb, publish=publish)
        metrics.FEEDBACK.labels(fb.kind, decision.outcome).inc()
        if decision.outcome == "applied" and record.closed:
            await _unindex(self.redis, self.settings, record.order)
        return decision, record, ids

    # ---- bus handlers (run by `linkgate sla`)

    async def on_order_issued(self, event: CloudEvent, model: BaseModel) -> None:
        """An order issued on the bus (or our own `order.issued` coming back): track it."""
        assert isinstance(model, Order)
        if await self.store.get(model.order_id) is not None:
            return  # ours, or a re-dispatch of one we track
        unit = await self.directory.get(model.unit_id)
        if unit is None:
            raise PermanentError("unknown-unit", model.unit_id)
        order = model
        d = order.deadlines
        if d.acknowledge_by is None and d.arrive_by is None and d.report_by is None:
            try:
                deadlines = compute_deadlines(
                    self.settings, unit, order.issued_at, on_site=order.on_site
                )
            except OverflowError as exc:
                raise PermanentError("issued-at-out-of-range", model.order_id) from exc
            order = order.model_copy(update={"deadlines": deadlines})
        try:
            await self.store.issue(order, unit, event.status, publish=False, may_recode=False)
        except OrderError as exc:
            raise PermanentError(exc.reason, model.order_id) from exc

    async def on_feedback(self, event: CloudEvent, model: BaseModel) -> None:
        """Feedback from any channel on the bus; our own API feedback comes back as duplicate."""
        assert isinstance(model, OrderFeedback)
        try:
            decision, record, _ = await self.feedback(model, publish=False)
        except OrderError as exc:
            if exc.status == 404:  # the order may not be tracked yet: retry, then DLQ
                raise RuntimeError(f"order not found for feedback {model.feedback_id}") from exc
            raise PermanentError(exc.reason, model.feedback_id) from exc
        if decision.outcome == "refused":
            raise PermanentError(decision.reason, f"order {record.order.order_id}")


async def _unindex(redis: Redis, settings: Settings, order: Order) -> None:
    """Drop the SMS channel's code index of a closed order, if that module is installed."""
    try:
        module: Any = importlib.import_module("gateway.channels.order_index")
    except ImportError:
        return
    with contextlib.suppress(Exception):
        await module.unindex_order(redis, settings, order.order_id, order.code)
