"""AMI events → `contracts.CallEvent`, and recognition of a new inbound emergency call.

Pure functions: no I/O, so the mapping is tested frame by frame on the captures.
Only call-lifecycle events map; VarSet/Newexten (most of the traffic) are skipped.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from adapters.ami.frame import Frame
from contracts.call import CallEvent, CallState
from contracts.common import normalise_e164, utcnow

_NEWSTATE: dict[str, CallState] = {"Ring": "ringing", "Ringing": "ringing", "Up": "up"}
_SIMPLE: dict[str, CallState] = {
    "Newchannel": "new",
    "DialBegin": "dial-begin",
    "DialEnd": "dial-end",
    "BridgeEnter": "bridge-enter",
    "BridgeLeave": "bridge-leave",
    "BlindTransfer": "transfer",
    "Hangup": "hangup",
}
MAPPED_EVENTS = frozenset({*_SIMPLE, "Newstate"})
_UNKNOWN = ("", "<unknown>", "none")


class MappingError(ValueError):
    """A call event whose fields do not fit the contract (logged and counted, not published)."""


def event_time(frame: Frame) -> datetime:
    """The event's own `Timestamp` (UTC); now when Asterisk sent none (FullyBooted, lists)."""
    ts = frame.get("Timestamp")
    if ts:
        try:
            return datetime.fromtimestamp(float(ts), UTC)
        except (ValueError, OverflowError):
            pass
    return utcnow()


def _clean(value: str | None) -> str | None:
    return None if value is None or value in _UNKNOWN else value


def to_call_event(frame: Frame, inbound_contexts: Collection[str] = ()) -> CallEvent | None:
    """The CallEvent for a lifecycle event, None for everything else.

    Dial events of an Originate carry only `Dest*` headers (capture 03); they are keyed
    by the dialled channel. `BlindTransfer` is keyed by the transferer.
    """
    name = frame.name
    if frame.kind != "event" or name not in MAPPED_EVENTS:
        return None
    if name == "Newstate":
        state = _NEWSTATE.get(frame.get("ChannelStateDesc") or "")
        if state is None:
            return None
    else:
        state = _SIMPLE[name]
    prefix = ""
    if name == "BlindTransfer":
        prefix = "Transferer"
    elif name in ("DialBegin", "DialEnd") and "Uniqueid" not in frame:
        prefix = "Dest"
    uniqueid = _clean(frame.get(prefix + "Uniqueid"))
    channel = _clean(frame.get(prefix + "Channel"))
    if uniqueid is None or channel is None:
        return None
    variables = frame.variables(prefix + "ChanVariable")
    context = _clean(frame.get(prefix + "Context"))
    exten = _clean(frame.get(prefix + "Exten"))
    called = exten if context in inbound_contexts else None
    peer: str | None = None
    if name in ("DialBegin", "DialEnd") and prefix == "":
        peer = _clean(frame.get("DestChannel"))
    elif name == "BlindTransfer":
        peer = _clean(frame.get("TransfereeChannel"))
        called = _clean(frame.get("Extension"))
        context = _clean(frame.get("Context"))
    cause = frame.get("Cause") if name == "Hangup" else None
    try:
        return CallEvent(
            call_id=uniqueid,
            linked_id=_clean(frame.get(prefix + "Linkedid")),
            channel=channel,
            state=state,
            occurred_at=event_time(frame),
            caller_number=_clean(frame.get(prefix + "CallerIDNum")),
            called_number=called,
            context=context,
            dial_status=_clean(frame.get("DialStatus")) if name == "DialEnd" else None,
            cause=int(cause) if cause and cause.isdigit() else None,
            cause_txt=_clean(frame.get("Cause-txt")) if name == "Hangup" else None,
            bridge_id=_clean(frame.get("BridgeUniqueid")),
            peer_channel=peer,
            incident_id=variables.get("INCIDENT_ID") or None,
            order_id=variables.get("ORDER_ID") or None,
            source_event=name,
        )
    except ValidationError as exc:
        raise MappingError(f"{name} {uniqueid}: {exc.errors()[0]['msg']}") from exc


@dataclass(frozen=True)
class InboundCall:
    """A new call from outside to an emergency/hotline number: one alert per Linkedid."""

    uniqueid: str
    linkedid: str
    channel: str
    caller: str | None        # E.164, None when withheld or not a number we understand
    caller_raw: str | None
    called: str
    context: str
    at: datetime


def inbound_call(
    frame: Frame, *, numbers: Collection[str], contexts: Collection[str]
) -> InboundCall | None:
    """Is this snapshot (Newchannel, or a CoreShowChannel seen on reconcile) a new
    inbound call to one of `numbers` in one of `contexts`, and its call's first leg?"""
    if frame.name not in ("Newchannel", "CoreShowChannel"):
        return None
    context = frame.get("Context")
    exten = frame.get("Exten")
    uniqueid = _clean(frame.get("Uniqueid"))
    linkedid = _clean(frame.get("Linkedid")) or uniqueid
    channel = _clean(frame.get("Channel"))
    if context not in contexts or exten not in numbers or uniqueid is None or channel is None:
        return None
    if linkedid != uniqueid:  # a leg dialled by the call, not the call itself
        return None
    assert context is not None and exten is not None and linkedid is not None
    raw = _clean(frame.get("CallerIDNum"))
    caller: str | None = None
    if raw:
        try:
            caller = normalise_e164(raw)
        except ValueError:
            caller = None
    return InboundCall(uniqueid, linkedid, channel, caller, raw, exten, context, event_time(frame))


def snapshot_event(
    frame: Frame, state: CallState, source_event: str, inbound_contexts: Collection[str] = ()
) -> CallEvent:
    """A CallEvent from any channel snapshot (a CoreShowChannel seen on reconcile)."""
    variables = frame.variables()
    context = _clean(frame.get("Context"))
    try:
        return CallEvent(
            call_id=frame.get("Uniqueid") or "",
            linked_id=_clean(frame.get("Linkedid")),
            channel=frame.get("Channel") or "",
            state=state,
            occurred_at=event_time(frame),
            caller_number=_clean(frame.get("CallerIDNum")),
            called_number=_clean(frame.get("Exten")) if context in inbound_contexts else None,
            context=context,
            bridge_id=_clean(frame.get("BridgeId")),
            incident_id=variables.get("INCIDENT_ID") or None,
            order_id=variables.get("ORDER_ID") or None,
            source_event=source_event,
        )
    except ValidationError as exc:
        raise MappingError(f"{source_event}: {exc.errors()[0]['msg']}") from exc
