"""Three-way calls (三方通话): caller + 110 operator + a linkage unit's duty room.

Runs in the `linkgate ami` process, which holds the AMI link. For each
`call.threeway.requested` command it dials the unit's numbers one after the other
(requested number, duty phones, on-duty liaisons' mobiles) into the incident's
ConfBridge room; only when a unit answered are the caller and operator legs moved
into the room with one dual Redirect, so a failed attempt never disturbs the caller.
Every unanswered attempt is duty-line miss evidence. A lost link gives `unknown`
and is never re-dialled blindly: a duty room must not be rung twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis

from adapters.ami.errors import AmiActionError
from adapters.ami.port import OriginateOutcome, TelephonyPort
from contracts.call import CallEvent, FailureReason, ThreeWayCall, ThreeWayState
from contracts.common import EventStatus, new_id, utcnow
from contracts.envelope import CloudEvent, make_event
from gateway.calls.emit import Emit, emit_safely
from gateway.calls.evidence import DutyLineMiss, append_miss
from gateway.calls.legs import find_legs
from gateway.calls.numbers import dial_order, dial_string, line_kind, mask_phone
from gateway.calls.rooms import mark_joined, room_for, was_joined
from gateway.calls.state import TERMINAL, RequestStore
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

log = structlog.get_logger(__name__)

SOURCE = "/linkgate/ami/threeway"
Clock = Callable[[], datetime]

REASONS: dict[str, FailureReason] = {
    "busy": "busy",
    "no-answer": "no-answer",
    "congestion": "congestion",
    "unavailable": "unavailable",
    "failed": "rejected",
    "unknown": "unknown",
}


def active_key(call_id: str, unit_id: str) -> str:
    """Reservation name that stops two live three-way requests for one call and unit."""
    return f"{call_id}:{unit_id}"


def store_for(redis: Redis, settings: Settings) -> RequestStore:
    return RequestStore(redis, settings, "threeway")


@dataclass
class _Call:
    """One request being worked on: the command, its drill status and what we learnt."""

    req: ThreeWayCall
    status: EventStatus
    room: str | None = None
    caller: str | None = None
    operator: str | None = None
    duty_phones: tuple[str, ...] = ()


class ThreeWayOrchestrator:
    """Consumes `call.threeway.requested` and `call.event.hangup`; drives the port."""

    def __init__(
        self,
        *,
        port: TelephonyPort,
        redis: Redis,
        settings: Settings,
        directory: DirectoryStore,
        emit: Emit,
        clock: Clock = utcnow,
        instance: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        reconcile_pauses: Sequence[float] = (0.5, 2.0, 5.0),
    ) -> None:
        self._port = port
        self._sleep = sleep
        self._reconcile_pauses = tuple(reconcile_pauses)
        self._redis = redis
        self._settings = settings
        self._directory = directory
        self._emit = emit
        self._clock = clock
        self._store = store_for(redis, settings)
        self._instance = instance or new_id()

    # ------------------------------------------------------------------ commands
    async def handle_request(self, event: CloudEvent, model: BaseModel) -> None:
        """Bus handler for `call.threeway.requested`."""
        if not isinstance(model, ThreeWayCall) or model.state != "requested":
            return
        call = _Call(model, event.status)
        # read-only lookups first: if the link is down the bus retries, nothing dialled
        call.caller, call.operator = await find_legs(
            self._port, model.call_id, model.caller_channel, model.operator_channel
        )
        if not await self._store.claim(model.request_id, self._instance):
            await self._duplicate(call)
            return
        await self._run(call)

    async def _duplicate(self, call: _Call) -> None:
        """A request seen again: ignore it, unless a previous worker died holding it."""
        request_id = call.req.request_id
        owner = await self._store.claim_owner(request_id)
        view = await self._store.get(request_id)
        log.info("threeway.duplicate_ignored", request_id=request_id, owner=owner)
        if owner == self._instance or view is None or view.get("state") in TERMINAL:
            return
        # we cannot know whether the unit was rung: say so rather than dial again
        await self._fail(call, "unknown", detail="worker restarted mid-call; not re-dialled")

    async def _run(self, call: _Call) -> None:
        req = call.req
        unit = await self._directory.get(req.unit_id)
        if unit is None:
            await self._fail(call, "rejected", detail="unknown-unit")
            return
        if call.caller is None or call.operator is None:
            await self._fail(call, "caller-gone", detail="caller or operator leg not found")
            return
        call.duty_phones = tuple(unit.duty_phones)
        liaisons = self._directory.on_duty_liaisons(unit, self._clock())
        numbers = dial_order(unit.duty_phones, [li.mobile for li in liaisons], req.number)
        call.room = await room_for(self._redis, self._settings, req.incident_id)
        await self._store.link("uniqueid", req.call_id, req.request_id)  # caller hang-ups
        last: tuple[int, str, OriginateOutcome] | None = None
        for attempt, number in enumerate(numbers, start=1):
            if await self._store.happened(req.request_id, "caller-gone"):
                await self._fail(call, "caller-gone", attempt=max(attempt - 1, 1),
                                 detail="caller hung up; no further number rung")
                return
            await self._progress(call, "ringing", attempt=attempt, number=number)
            started = self._clock()
            outcome = await self._originate(call, attempt, number)
            if outcome.result == "answered":
                await self._connect(call, attempt, number, outcome)
                return
            if outcome.result == "unknown":
                outcome = await self._find_out(call, attempt, outcome)
                if outcome.result == "answered":
                    await self._connect(call, attempt, number, outcome)
                    return
                await self._fail(
                    call, "unknown", attempt=attempt, number=number,
                    detail=outcome.cause_txt or "link lost",
                )
                return
            await self._missed(call, attempt, number, outcome, started)
            last = (attempt, number, outcome)
        if last is None:
            await self._fail(call, "unavailable", detail="unit has no number to call")
            return
        attempt, number, outcome = last
        await self._fail(
            call, REASONS[outcome.result], attempt=attempt, number=number, cause=outcome.cause
        )

    async def _originate(self, call: _Call, attempt: int, number: str) -> OriginateOutcome:
        req = call.req
        dial_id = f"{req.request_id}-{attempt}"
        variables = {"INCIDENT_ID": req.incident_id, "LG_REQUEST_ID": req.request_id}
        if req.order_id:
            variables["ORDER_ID"] = req.order_id
        assert call.room is not None
        try:
            return await self._port.originate(
                request_id=dial_id,
                endpoint=dial_string(number, self._settings),
                context=self._settings.conference_context,
                exten=call.room,
                caller_id=self._settings.originate_caller_id,
                timeout_s=self._settings.threeway_ring_timeout_s,
                variables=variables,
            )
        except Exception as exc:  # the port could not tell: treat as unknown, never redial
            log.error("threeway.originate_error", request_id=req.request_id, error=repr(exc))
            return OriginateOutcome(request_id=dial_id, result="unknown")

    async def _find_out(
        self, call: _Call, attempt: int, outcome: OriginateOutcome
    ) -> OriginateOutcome:
        """After a lost link, ask Asterisk (never re-dial): is the unit's leg there?

        Up → the unit answered and waits in the room: carry on with the Redirect.
        Still ringing → we cannot follow it any more: hang it up (the caller was never
        touched). Gone or unreachable → unknown.
        """
        dial_id = f"{call.req.request_id}-{attempt}"
        for pause in self._reconcile_pauses:
            await self._sleep(pause)
            try:
                live = await self._port.channels()
            except Exception as exc:
                log.warning("threeway.reconcile_failed", request_id=dial_id, error=repr(exc))
                continue
            leg = next((c for c in live if c.uniqueid == dial_id), None)
            if leg is None:
                return OriginateOutcome(dial_id, "unknown", cause_txt="link lost; leg gone")
            if leg.state == "Up":
                log.info("threeway.reconciled_answered", request_id=dial_id)
                return OriginateOutcome(dial_id, "answered", channel=leg.channel, uniqueid=dial_id)
            with contextlib.suppress(Exception):
                await self._port.hangup(channel=leg.channel)
            return OriginateOutcome(
                dial_id, "unknown", cause_txt="link lost while ringing; leg hung up"
            )
        return outcome

    async def _missed(
        self, call: _Call, attempt: int, number: str, outcome: OriginateOutcome, started: datetime
    ) -> None:
        now = self._clock()
        req = call.req
        await append_miss(
            self._redis,
            self._settings,
            DutyLineMiss(
                unit_id=req.unit_id,
                number=number,
                at=now,
                started_at=started,
                result=outcome.result,
                cause=outcome.cause,
                source="threeway",
                ref=req.request_id,
                status=call.status,
                incident_id=req.incident_id,
                order_id=req.order_id,
                line=line_kind(call.duty_phones, number),
            ),
        )
        await self._store.note(
            req.request_id,
            now,
            "attempt-failed",
            attempt=attempt,
            number=number,
            reason=REASONS[outcome.result],
            cause=outcome.cause,
        )
        log.info(
            "threeway.attempt_failed",
            request_id=req.request_id,
            number=mask_phone(number),
            result=outcome.result,
            cause=outcome.cause,
        )

    async def _connect(
        self, call: _Call, attempt: int, number: str, outcome: OriginateOutcome
    ) -> None:
        req = call.req
        unit_uniqueid = outcome.uniqueid or f"{req.request_id}-{attempt}"
        await self._store.link("uniqueid", unit_uniqueid, req.request_id)
        await self._store.link("uniqueid", req.call_id, req.request_id)
        assert call.caller is not None and call.room is not None
        if await self._caller_in_room(call):
            # a second unit joining the incident's room: caller and operator stay put
            await self._progress(
                call, "connected", attempt=attempt, number=number, unit_channel=outcome.channel,
                detail="caller already in the room",
            )
            return
        try:
            await self._port.redirect(
                channel=call.caller,
                extra_channel=call.operator,
                context=self._settings.conference_context,
                exten=call.room,
            )
        except Exception as exc:
            # only a refusal by the PBX (e.g. "Channel does not exist") says where we stand
            unknown = not isinstance(exc, AmiActionError)
            if not unknown and outcome.channel:
                # the caller left while the unit answered: do not keep the unit waiting alone
                with contextlib.suppress(Exception):
                    await self._port.hangup(channel=outcome.channel)
            await self._fail(
                call,
                "unknown" if unknown else "caller-gone",
                attempt=attempt,
                number=number,
                detail=f"redirect failed: {exc}",
            )
            return
        await mark_joined(self._redis, self._settings, req.incident_id)
        await self._progress(
            call, "connected", attempt=attempt, number=number, unit_channel=outcome.channel
        )

    async def _caller_in_room(self, call: _Call) -> bool:
        """True when an earlier three-way call already put the caller in this room."""
        if not await was_joined(self._redis, self._settings, call.req.incident_id):
            return False
        try:
            live = await self._port.channels()
        except Exception:  # cannot tell: a Redirect into the same room only re-joins
            return False
        return any(
            c.channel == call.caller
            and c.context == self._settings.conference_context
            and c.exten == call.room
            for c in live
        )

    # ------------------------------------------------------------------ call events
    async def handle_call_event(self, event: CloudEvent, model: BaseModel) -> None:
        """Bus handler for `call.event.hangup`: a unit or caller leg left → `ended`;
        the caller left while units are rung → no further number is dialled."""
        if not isinstance(model, CallEvent) or model.state != "hangup":
            return
        request_id = await self._store.lookup("uniqueid", model.call_id)
        if request_id is None:
            return
        view = await self._store.get(request_id)
        if view is None:
            return
        if view.get("state") in ("requested", "ringing") and model.call_id == view["call_id"]:
            # the caller left while units are being rung: stop before the next number
            await self._store.once(request_id, "caller-gone")
            return
        if view.get("state") != "connected":
            return
        if not await self._store.once(request_id, "ended"):
            return
        call = _Call(_from_view(view, self._clock()), EventStatus(view.get("status", "actual")))
        call.room = view.get("room") or None
        attempt = int(view.get("attempt") or 1)
        await self._progress(
            call,
            "ended",
            attempt=attempt,
            number=view.get("number") or None,
            cause=model.cause,
            ended_by=model.channel,
        )
        active = active_key(call.req.call_id, call.req.unit_id)
        await self._store.release("active", active, request_id)

    # ------------------------------------------------------------------ state + events
    async def _fail(self, call: _Call, reason: FailureReason, **fields: Any) -> None:
        await self._progress(call, "failed", reason=reason, **fields)
        req = call.req
        await self._store.release("active", active_key(req.call_id, req.unit_id), req.request_id)

    async def _progress(
        self,
        call: _Call,
        state: ThreeWayState,
        *,
        attempt: int = 1,
        number: str | None = None,
        reason: FailureReason | None = None,
        cause: int | None = None,
        **extra: Any,
    ) -> None:
        """Record the transition in Redis, then publish `call.threeway.<state>`."""
        req = call.req
        now = self._clock()
        message = ThreeWayCall(
            request_id=req.request_id,
            call_id=req.call_id,
            incident_id=req.incident_id,
            unit_id=req.unit_id,
            order_id=req.order_id,
            number=number,
            attempt=attempt,
            state=state,
            reason=reason,
            cause=cause,
            room=call.room,
            caller_channel=call.caller,
            operator_channel=call.operator,
            occurred_at=now,
        )
        fields = message.model_dump(exclude_none=True, exclude={"state", "request_id"})
        await self._store.record(
            req.request_id, now, state, status=call.status.value, **fields, **extra
        )
        log.info(
            "threeway.progress",
            request_id=req.request_id,
            state=state,
            reason=reason,
            attempt=attempt,
            number=mask_phone(number or ""),
        )
        event = make_event(message, source=SOURCE, subject=req.incident_id, status=call.status)
        await emit_safely(self._emit, event)


def _from_view(view: dict[str, Any], now: datetime) -> ThreeWayCall:
    """Rebuild the command from the stored view (for events that arrive later)."""
    return ThreeWayCall(
        request_id=view["request_id"],
        call_id=view["call_id"],
        incident_id=view["incident_id"],
        unit_id=view["unit_id"],
        order_id=view.get("order_id") or None,
        number=view.get("number") or None,
        state="requested",
        caller_channel=view.get("caller_channel") or None,
        operator_channel=view.get("operator_channel") or None,
        occurred_at=now,
    )
