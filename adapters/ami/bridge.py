"""From PBX to bus: call events and inbound-call alerts, each published exactly once.

Asterisk does not replay events after a reconnect, so after every login (and on
`FullyBooted`) we reconcile with `CoreShowChannels`: a call that began while the
link was down gets its `new` event (and its alert, if it is an emergency call we
never saw); a channel we knew that is gone gets a synthetic `hangup`. Exactly-once
is kept in Redis, race-free against live events still in the queue:

* `<prefix>:ami:channels` hash Uniqueid → what we know; `HSETNX` decides who
  publishes `new` (the live Newchannel or the reconcile), never both;
* `<prefix>:ami:ended:<Uniqueid>` `SET NX` decides who publishes `hangup`;
* `<prefix>:ami:alerted:<Linkedid>` `SET NX` gives one alert per call, ever.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis

from adapters.ami.client import AmiClient
from adapters.ami.errors import AmiError
from adapters.ami.events import (
    InboundCall,
    MappingError,
    inbound_call,
    snapshot_event,
    to_call_event,
)
from adapters.ami.frame import Frame
from bus.errors import UnroutableError
from contracts.alert import Alert
from contracts.call import CallEvent
from contracts.common import Channel, utcnow
from contracts.envelope import CloudEvent, make_event

log = logging.getLogger("linkgate.ami.bridge")

Emit = Callable[[CloudEvent], Awaitable[object]]
SOURCE = "/linkgate/ami"
MARK_TTL_S = 3 * 24 * 3600


def mask_number(number: str | None) -> str:
    """`+8613800138000` → `+86138****8000` (numbers never appear whole in logs)."""
    if not number:
        return "-"
    if len(number) <= 8:
        return number[:1] + "*" * (len(number) - 1)
    return number[: max(1, len(number) - 8)] + "****" + number[-4:]


class BridgeConfig(Protocol):
    """What the bridge needs from `gateway.settings.Settings` (adapters never import gateway)."""

    emergency_numbers: list[str]
    ami_inbound_contexts: list[str]

    def key(self, *parts: str) -> str: ...


class CallBridge:
    """Turns the AMI event stream into `call.event.*` and `alert.received.call`."""

    def __init__(
        self, client: AmiClient, redis: Redis, settings: BridgeConfig, emit: Emit,
        *, source: str = SOURCE, window: int = 64,
    ) -> None:
        self.client = client
        self.redis = redis
        self.settings = settings
        self.emit = emit
        self.source = source
        self.numbers = frozenset(settings.emergency_numbers)
        self.contexts = frozenset(settings.ami_inbound_contexts)
        self.stats = {"published": 0, "alerts": 0, "duplicates": 0, "mapping_errors": 0,
                      "reconciles": 0, "synthetic_hangups": 0, "recovered_calls": 0,
                      "publish_errors": 0, "unroutable": 0, "alert_errors": 0}
        self._unroutable_seen: set[str] = set()
        self._reconcile_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._window = window
        self._in_flight: collections.deque[asyncio.Task[None]] = collections.deque()
        client.add_handler(self.handle)
        client.on_connect(self.reconcile)

    # ------------------------------------------------------------------ keys
    def _channels_key(self) -> str:
        return self.settings.key("ami", "channels")

    def _ended_key(self, uid: str) -> str:
        return self.settings.key("ami", "ended", uid)

    def _alerted_key(self, linkedid: str) -> str:
        return self.settings.key("ami", "alerted", linkedid)

    # ------------------------------------------------------------------ live events
    async def handle(self, frame: Frame) -> None:
        """Dispatcher handler: one frame, in PBX order."""
        if frame.name == "FullyBooted":
            self._spawn(self.reconcile())  # never await a list action inside the dispatcher
            return
        try:
            event = to_call_event(frame, self.contexts)
        except MappingError as exc:
            self.stats["mapping_errors"] += 1
            log.warning("AMI event not mapped: %s", exc)
            return
        if event is None:
            return
        if event.state == "new":
            call = inbound_call(frame, numbers=self.numbers, contexts=self.contexts)
            if call is not None:
                await self._alert_or_log(call)
            if not await self._remember(event, frame.generation):
                self.stats["duplicates"] += 1
                return
        elif event.state == "hangup":
            if not await self._end(event.call_id):
                self.stats["duplicates"] += 1
                return
        await self._publish(event)

    async def _remember(self, event: CallEvent, generation: int) -> bool:
        record = {
            "channel": event.channel, "linked_id": event.linked_id, "gen": generation,
            "caller": event.caller_number, "called": event.called_number,
            "context": event.context, "incident_id": event.incident_id,
        }
        added = await self.redis.hsetnx(self._channels_key(), event.call_id, json.dumps(record))
        return bool(added)

    async def _end(self, uid: str) -> bool:
        """True for the one who gets to publish this channel's hangup."""
        first = await self.redis.set(self._ended_key(uid), "1", nx=True, ex=MARK_TTL_S)
        await self.redis.hdel(self._channels_key(), uid)
        return bool(first)

    async def _publish(self, event: CallEvent) -> None:
        """Start the confirmed publish; up to `window` are in flight, started in PBX order
        (one AMQP channel keeps that order), so broker round trips do not serialise us."""
        cloud = make_event(event, source=self.source, subject=event.incident_id)
        task = asyncio.ensure_future(self._emit_counted(cloud))
        self._in_flight.append(task)
        pending = self._in_flight
        while pending and (len(pending) >= self._window or pending[0].done()):
            await pending.popleft()

    async def _emit_counted(self, cloud: CloudEvent) -> None:
        try:
            await self.emit(cloud)
        except UnroutableError as exc:
            # nobody subscribes to this call state: not a loss, but say so once per key
            self.stats["unroutable"] += 1
            if str(exc) not in self._unroutable_seen:
                self._unroutable_seen.add(str(exc))
                log.warning("AMI call events dropped by the broker: %s", exc)
            return
        except Exception:
            self.stats["publish_errors"] += 1
            log.exception("AMI call event %s (%s) NOT published", cloud.id, cloud.type)
            return
        self.stats["published"] += 1

    async def flush(self) -> None:
        """Wait for every publish in flight (before a reconcile and at shutdown)."""
        while self._in_flight:
            await self._in_flight.popleft()

    async def _alert_or_log(self, call: InboundCall) -> None:
        """A failed alert must not cost the call's events; the next reconcile retries it
        (the call is still live, and its `alerted` mark was removed)."""
        try:
            await self._alert(call)
        except Exception:
            self.stats["alert_errors"] += 1
            log.exception("AMI alert for call %s NOT published; reconcile will retry",
                          call.uniqueid)

    async def _alert(self, call: InboundCall) -> None:
        key = self._alerted_key(call.linkedid)
        if not await self.redis.set(key, call.uniqueid, nx=True, ex=MARK_TTL_S):
            return
        alert = Alert(
            channel=Channel.CALL, received_at=call.at, caller=call.caller, called=call.called,
            call_id=call.uniqueid, source_ref=call.linkedid,
        )
        event = make_event(
            alert, source=self.source, subject=alert.incident_id,
            event_id=f"ami-alert-{call.linkedid}",
        )
        try:
            await self.emit(event)
        except BaseException:
            await self.redis.delete(key)  # not alerted: the next reconcile may try again
            raise
        self.stats["alerts"] += 1
        log.info("AMI inbound %s call from %s: alert %s", call.called,
                 mask_number(call.caller or call.caller_raw), alert.alert_id)

    # ------------------------------------------------------------------ reconcile
    async def reconcile(self) -> None:
        """Make the bus agree with the PBX's live channels (after a (re)connect)."""
        async with self._reconcile_lock:
            generation = self.client.generation
            try:
                _, items = await self.client.list_action("CoreShowChannels")
                _, bridges = await self.client.list_action("BridgeList")
            except AmiError as exc:
                log.warning("AMI reconcile not done (%s); the next connect will do it", exc)
                return
            self.stats["reconciles"] += 1
            live = {
                i["Uniqueid"]: i for i in items if i.name == "CoreShowChannel" and "Uniqueid" in i
            }
            known = await self.redis.hgetall(self._channels_key())
            for raw_uid, raw in known.items():
                uid = raw_uid.decode() if isinstance(raw_uid, bytes) else str(raw_uid)
                record = json.loads(raw)
                if uid in live or record.get("gen") == generation:  # seen live on this link
                    continue
                if await self._end(uid):
                    self.stats["synthetic_hangups"] += 1
                    await self._publish(_synthetic_hangup(uid, record))
            for item in live.values():
                try:
                    event = snapshot_event(item, "new", "CoreShowChannel", self.contexts)
                except MappingError as exc:
                    self.stats["mapping_errors"] += 1
                    log.warning("AMI channel not mapped: %s", exc)
                    continue
                call = inbound_call(item, numbers=self.numbers, contexts=self.contexts)
                if call is not None:
                    await self._alert_or_log(call)
                if await self._remember(event, generation):
                    self.stats["recovered_calls"] += 1
                    await self._publish(event)
            await self.flush()
            log.info("AMI reconciled: %d live channels, %d bridges", len(live), len(bridges))

    async def reconcile_every(self, interval_s: float) -> None:
        """Periodic safety net for state left by events queued across a reconnect."""
        while True:
            await asyncio.sleep(interval_s)
            if self.client.connected:
                await self.reconcile()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _synthetic_hangup(uid: str, record: dict[str, object]) -> CallEvent:
    """The hangup we did not see: the channel is gone from the PBX (cause unknown)."""
    def s(key: str) -> str | None:
        value = record.get(key)
        return str(value) if value else None

    return CallEvent(
        call_id=uid, linked_id=s("linked_id"), channel=s("channel") or uid, state="hangup",
        occurred_at=utcnow(), caller_number=s("caller"), called_number=s("called"),
        context=s("context"), incident_id=s("incident_id"), source_event="Reconcile",
    )
