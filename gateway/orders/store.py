"""Orders in Redis: every change is one WATCH/MULTI transaction (state, timers, evidence,
outbox events together), so a reader never sees half a change and nothing is done twice.

Keys (namespaced by `settings.key`):
- `orders:doc:<id>`        the OrderRecord JSON
- `orders:codes`           hash short code → order id (open orders only)
- `orders:issued`          zset order id by issue time (reports)
- `orders:timers`          zset "<id>|<milestone>|<warning|breached>" by due time (epoch s)
- `orders:timers:claimed`  zset of claimed firings by lease expiry (see gateway/orders/timers.py)
- `orders:outbox`          events committed with their change, published after it
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from contracts.common import EventStatus, utcnow
from contracts.directory import Unit
from contracts.envelope import CloudEvent, make_event
from contracts.order import Order, OrderFeedback, OrderState, SlaEvent
from gateway.directory.schedule import on_duty_liaisons
from gateway.orders import codes
from gateway.orders.machine import Decision, decide
from gateway.orders.outbox import Outbox
from gateway.orders.record import PROGRESS_RANK, HistoryEntry, OrderRecord
from gateway.settings import Settings
from gateway.supervision import evidence as ev

T = TypeVar("T")
Writes = Callable[[Pipeline], object]
SOURCE = "/linkgate/orders"
MILESTONES = ("acknowledge", "arrive", "report")
BREACH_EVIDENCE = {
    "acknowledge": "missing_feedback",
    "arrive": "late_arrival",
    "report": "missing_report",
}


class OrderError(Exception):
    """A request about an order that cannot be done; nothing was changed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def epoch(at: datetime) -> float:
    return at.timestamp()


class OrderStore:
    """Reads and changes orders; shared by the API and the sla process."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self.outbox = Outbox(redis, settings)
        self.codes_key = settings.key("orders", "codes")
        self.issued_key = settings.key("orders", "issued")
        self.timers_key = settings.key("orders", "timers")
        self.claimed_key = settings.key("orders", "timers", "claimed")

    def doc_key(self, order_id: str) -> str:
        return self._settings.key("orders", "doc", order_id)

    # ---- reads

    async def get(self, order_id: str) -> OrderRecord | None:
        raw = await self._redis.get(self.doc_key(order_id))
        return OrderRecord.model_validate_json(raw) if raw else None

    async def id_by_code(self, code: str) -> str | None:
        raw = await self._redis.hget(self.codes_key, code.upper())
        return raw.decode() if isinstance(raw, bytes) else raw

    async def issued_between(self, start: datetime, end: datetime) -> list[OrderRecord]:
        ids = await self._redis.zrangebyscore(self.issued_key, epoch(start), f"({epoch(end)}")
        if not ids:
            return []
        raws = await self._redis.mget([self.doc_key(_s(i)) for i in cast(list[bytes], ids)])
        return [OrderRecord.model_validate_json(r) for r in raws if r]

    async def timers(self, order_id: str) -> dict[str, float]:
        """Armed timers of one order (member → due epoch): for tests and operators."""
        rows = cast(
            list[tuple[bytes, float]],
            await self._redis.zrange(self.timers_key, 0, -1, withscores=True),
        )
        return {_s(m): s for m, s in rows if _s(m).startswith(order_id + "|")}

    # ---- transactions

    async def _txn(
        self, keys: Sequence[str], body: Callable[[Pipeline], Awaitable[tuple[T, Writes | None]]]
    ) -> T:
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(*keys)
                    result, writes = await body(pipe)
                    if writes is None:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return result
                    pipe.multi()  # type: ignore[no-untyped-call]
                    writes(pipe)
                    await pipe.execute()
                    return result
                except WatchError:
                    await pipe.reset()  # type: ignore[no-untyped-call]
                    continue

    def _event(self, model: BaseModel, record: OrderRecord) -> CloudEvent:
        return make_event(
            model, source=SOURCE, subject=record.order.incident_id, status=record.status
        )

    # ---- issue

    async def issue(
        self,
        order: Order,
        unit: Unit,
        status: EventStatus,
        *,
        publish: bool,
        may_recode: bool,
        note: str | None = None,
    ) -> tuple[OrderRecord, bool, list[str]]:
        """Store a new order and arm its timers; an existing id is returned unchanged.

        Returns (record, created, outbox event ids). `publish`: put `order.issued` in the
        outbox (False when the order came from the bus, where it already is).
        `may_recode`: pick a fresh code when the given one is taken by an open order.
        """
        key = self.doc_key(order.order_id)

        async def body(pipe: Pipeline) -> tuple[tuple[OrderRecord, bool, list[str]], Writes | None]:
            existing = await pipe.get(key)
            if existing:
                found = OrderRecord.model_validate_json(existing)
                same = (found.order.incident_id, found.order.unit_id)
                if same != (order.incident_id, order.unit_id):
                    raise OrderError(409, "order-id-in-use")
                return (found, False, []), None
            current = order
            for _ in range(20):
                holder = await pipe.hget(self.codes_key, current.code)
                if holder is None or _s(holder) == order.order_id:
                    break
                if not may_recode:
                    raise OrderError(409, "order-code-in-use")
                current = current.model_copy(update={"code": codes.new_code()})
            else:
                raise OrderError(503, "no-free-order-code")
            now = utcnow()
            tried = [li.mobile for li in on_duty_liaisons(unit, current.issued_at)]
            record = OrderRecord(
                order=current,
                status=status,
                tried=tried,
                history=[
                    HistoryEntry(
                        kind="issued",
                        at=current.issued_at,
                        recorded_at=now,
                        by=current.issued_by,
                        via="api" if publish else "bus",
                        state=OrderState.ISSUED,
                        note=note,
                    )
                ],
            )
            events = [self._event(current, record)] if publish else []

            def writes(p: Pipeline) -> None:
                p.set(key, record.model_dump_json())
                p.hset(self.codes_key, current.code, current.order_id)
                p.zadd(self.issued_key, {current.order_id: epoch(current.issued_at)})
                p.zadd(self.timers_key, self._timer_scores(record))
                for e in events:
                    self.outbox.add(p, e)

            return (record, True, [e.id for e in events]), writes

        return await self._txn([key, self.codes_key], body)

    def _timer_scores(self, record: OrderRecord) -> dict[str, float]:
        out: dict[str, float] = {}
        issued = epoch(record.order.issued_at)
        frac = self._settings.sla_warning_fraction
        for m in record.pending_milestones():
            deadline = record.deadline(m)
            if deadline is None:
                continue
            due = epoch(deadline)
            out[f"{record.order.order_id}|{m}|warning"] = issued + frac * (due - issued)
            out[f"{record.order.order_id}|{m}|breached"] = due
        return out

    def _drop_timers(self, p: Pipeline, record: OrderRecord) -> None:
        pending = record.pending_milestones()
        gone = [
            f"{record.order.order_id}|{m}|{k}"
            for m in MILESTONES
            if m not in pending
            for k in ("warning", "breached")
        ]
        if gone:
            p.zrem(self.timers_key, *gone)
        if record.closed:
            p.hdel(self.codes_key, record.order.code)

    # ---- feedback

    async def resolve(self, fb: OrderFeedback) -> str:
        if fb.order_id:
            return fb.order_id
        if fb.order_code:
            found = await self.id_by_code(fb.order_code)
            if found:
                return found
        raise OrderError(404, "order-not-found")

    async def apply(
        self, fb: OrderFeedback, *, publish: bool
    ) -> tuple[Decision, OrderRecord, list[str]]:
        """Apply one feedback. `publish`: put the feedback event in the outbox (API origin)."""
        order_id = await self.resolve(fb)
        key = self.doc_key(order_id)

        async def body(
            pipe: Pipeline,
        ) -> tuple[tuple[Decision, OrderRecord, list[str]], Writes | None]:
            raw = await pipe.get(key)
            if not raw:
                raise OrderError(404, "order-not-found")
            record = OrderRecord.model_validate_json(raw)
            decision = decide(record, fb)
            if decision.outcome != "applied":
                return (decision, record, []), None
            updated = _applied(record, fb, decision)
            fb_full = fb.model_copy(update={"order_id": order_id, "order_code": record.order.code})
            events = [self._event(fb_full, updated)] if publish else []
            refused = None
            if fb.kind == "refused":
                refused = ev.Evidence(
                    kind="refused_order",
                    unit_id=record.order.unit_id,
                    at=fb.at,
                    status=record.status,
                    source="orders",
                    ref=order_id,
                    incident_id=record.order.incident_id,
                    order_id=order_id,
                    detail={"by": fb.by, "via": fb.via, "note": fb.note},
                )

            def writes(p: Pipeline) -> None:
                p.set(key, updated.model_dump_json())
                self._drop_timers(p, updated)
                if refused is not None:
                    ev.add_to(p, self._settings, refused)
                for e in events:
                    self.outbox.add(p, e)

            return (decision, updated, [e.id for e in events]), writes

        return await self._txn([key], body)

    # ---- timer firings (claimed by gateway/orders/timers.py)

    async def fire(
        self, member: str, now: datetime, unit_of: Callable[[str], Awaitable[Unit | None]]
    ) -> list[str]:
        """Carry out one claimed timer; once per (order, milestone, kind) whatever happens."""
        order_id, milestone, kind = member.split("|")
        key = self.doc_key(order_id)

        async def body(pipe: Pipeline) -> tuple[list[str], Writes | None]:
            raw = await pipe.get(key)
            marker = f"{milestone}:{kind}"
            if not raw:
                return [], lambda p: p.zrem(self.claimed_key, member)
            record = OrderRecord.model_validate_json(raw)
            deadline = record.deadline(milestone)
            if (
                marker in record.fired
                or milestone not in record.pending_milestones()
                or deadline is None
            ):
                return [], lambda p: p.zrem(self.claimed_key, member)
            unit = await unit_of(record.order.unit_id) if kind == "breached" else None
            updated, events, evidence = self._firing(record, milestone, kind, deadline, now, unit)

            def writes(p: Pipeline) -> None:
                p.set(key, updated.model_dump_json())
                p.zrem(self.claimed_key, member)
                if evidence is not None:
                    ev.add_to(p, self._settings, evidence)
                for e in events:
                    self.outbox.add(p, e)

            return [e.id for e in events], writes

        return await self._txn([key], body)

    def _firing(
        self,
        record: OrderRecord,
        milestone: str,
        kind: str,
        deadline: datetime,
        now: datetime,
        unit: Unit | None,
    ) -> tuple[OrderRecord, list[CloudEvent], ev.Evidence | None]:
        o = record.order
        sla = SlaEvent(
            order_id=o.order_id,
            unit_id=o.unit_id,
            incident_id=o.incident_id,
            milestone=milestone,
            kind=kind,
            deadline=deadline,
            at=now,
            order_code=o.code,
        )
        history = [
            HistoryEntry(
                kind=f"sla.{kind}",
                at=now,
                recorded_at=utcnow(),
                by="sla",
                via="system",
                detail={"milestone": milestone, "deadline": deadline.isoformat()},
            )
        ]
        updated = record.model_copy(deep=True)
        updated.fired.append(f"{milestone}:{kind}")
        events = [self._event(sla, record)]
        evidence = None
        if kind == "breached":
            evidence = ev.Evidence(
                kind=BREACH_EVIDENCE[milestone],
                unit_id=o.unit_id,
                at=deadline,
                status=record.status,
                source="sla",
                ref=o.order_id,
                incident_id=o.incident_id,
                order_id=o.order_id,
                milestone=milestone,
                deadline=deadline,
                detail={"state_at_deadline": record.state.value, "tier": o.tier},
            )
            unanswered = PROGRESS_RANK.get(record.state, 9) < PROGRESS_RANK[OrderState.ACKNOWLEDGED]
            if milestone != "report" and unanswered and unit is not None:
                nxt = _next_liaison(unit, updated.tried)
                if nxt is not None:
                    updated.tried.append(nxt)
                    attempt = o.attempt + sum(1 for h in record.history if h.kind == "redispatch")
                    again = o.model_copy(update={"attempt": attempt + 1, "recipients": [nxt]})
                    events.append(self._event(again, record))
                    history.append(
                        HistoryEntry(
                            kind="redispatch",
                            at=now,
                            recorded_at=utcnow(),
                            by="sla",
                            via="system",
                            detail={"attempt": attempt + 1, "to": _mask(nxt)},
                        )
                    )
                else:
                    history.append(
                        HistoryEntry(
                            kind="redispatch_exhausted",
                            at=now,
                            recorded_at=utcnow(),
                            by="sla",
                            via="system",
                        )
                    )
        updated.history.extend(history)
        updated.version += 1
        return updated, events, evidence


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _next_liaison(unit: Unit, tried: list[str]) -> str | None:
    for liaison in unit.liaisons:
        if liaison.mobile not in tried:
            return liaison.mobile
    return None


def _mask(number: str) -> str:
    return number[:-8] + "****" + number[-4:] if len(number) > 8 else "****"


def _applied(record: OrderRecord, fb: OrderFeedback, decision: Decision) -> OrderRecord:
    """The record after an applied feedback (implied milestones first, at the same time)."""
    assert decision.new_state is not None
    updated = record.model_copy(deep=True)
    now = utcnow()
    for kind in decision.implied:
        updated.milestones.setdefault(kind, fb.at)
        updated.history.append(
            HistoryEntry(kind=kind, at=fb.at, recorded_at=now, by=fb.by, via=fb.via, implied=True)
        )
    if fb.kind == "reinforcement":
        updated.reinforcements += 1
    else:
        updated.milestones.setdefault(fb.kind, fb.at)
    if fb.kind == "handed_over":
        updated.handed_to_unit = fb.handed_to_unit
    updated.state = decision.new_state
    updated.feedback_ids.append(fb.feedback_id)
    detail: dict[str, Any] = {"handed_to_unit": fb.handed_to_unit} if fb.handed_to_unit else {}
    updated.history.append(
        HistoryEntry(
            kind=fb.kind,
            at=fb.at,
            recorded_at=now,
            by=fb.by,
            via=fb.via,
            note=fb.note,
            feedback_id=fb.feedback_id,
            state=decision.new_state,
            detail=detail,
        )
    )
    updated.version += 1
    return updated
