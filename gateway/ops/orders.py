"""Open orders with their next deadline, read from the orders store in Redis.

The orders capability owns the store (`gateway.orders.store`); this module only reads it,
and says so plainly (`OrdersUnavailable`) when it cannot, so an operator never mistakes
"cannot read" for "no open orders".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from gateway.settings import Settings

MILESTONES = ("acknowledge", "arrive", "report")


class OrdersUnavailable(RuntimeError):
    """The orders store cannot be read (not installed, or Redis down)."""


@dataclass
class OpenOrder:
    """One open order as the operator sees it."""

    order_id: str
    code: str
    unit_id: str
    incident_id: str
    tier: str
    state: str
    milestone: str | None
    due: datetime | None
    status: str = "actual"
    breached: tuple[str, ...] = ()

    def remaining_s(self, now: datetime) -> float | None:
        return (self.due - now).total_seconds() if self.due is not None else None

    def as_board_item(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "code": self.code,
            "unit_id": self.unit_id,
            "incident_id": self.incident_id,
            "tier": self.tier,
            "state": self.state,
            "milestone": self.milestone,
            "due": self.due.isoformat() if self.due else None,
            "deadlines": {},
            "breached": list(self.breached),
            "status": self.status,
        }


async def open_orders(redis: Redis, settings: Settings) -> list[OpenOrder]:
    """Every open order, soonest deadline first; raise OrdersUnavailable if unreadable.

    Open orders are those in the store's code index (`orders:codes`, open orders only),
    re-checked against their record so a closing race never shows a closed order.
    """
    try:
        from gateway.orders.store import OrderStore
    except ImportError as exc:
        raise OrdersUnavailable("orders store not installed (gateway.orders.store)") from exc
    store = OrderStore(redis, settings)
    try:
        ids = await redis.hvals(store.codes_key)
        raws = await redis.mget([store.doc_key(_text(i)) for i in ids]) if ids else []
    except Exception as exc:
        raise OrdersUnavailable(f"Redis: {exc!r}") from exc
    out: list[OpenOrder] = []
    for raw in raws:
        if not raw:
            continue
        try:
            out.append(_from_record(raw))
        except Exception as exc:
            raise OrdersUnavailable(f"unreadable order record: {exc!r}") from exc
    return sorted(out, key=_due_key)


def _from_record(raw: bytes | str) -> OpenOrder:
    from gateway.orders.record import OrderRecord

    record = OrderRecord.model_validate_json(raw)
    pending = record.pending_milestones()
    milestone = next((m for m in MILESTONES if m in pending), None)
    order = record.order
    return OpenOrder(
        order_id=order.order_id,
        code=order.code,
        unit_id=order.unit_id,
        incident_id=order.incident_id,
        tier=str(order.tier),
        state=record.state.value,
        milestone=milestone,
        due=record.deadline(milestone) if milestone else None,
        status=record.status.value,
        breached=tuple(f.split(":", 1)[0] for f in record.fired if f.endswith(":breached")),
    )


def _due_key(order: OpenOrder) -> float:
    return order.due.timestamp() if order.due is not None else float("inf")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
