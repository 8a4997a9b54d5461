"""Call events derived from the PBX (Asterisk AMI) and three-way call progress."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.common import Identifier, StrictModel, UtcTime

CallState = Literal[
    "new",
    "ringing",
    "up",
    "dial-begin",
    "dial-end",
    "bridge-enter",
    "bridge-leave",
    "transfer",
    "hangup",
]


class CallEvent(StrictModel):
    """One step of a call's lifecycle, keyed by Asterisk Uniqueid/Linkedid."""

    call_id: Identifier = Field(description="Asterisk Uniqueid of the channel")
    linked_id: Identifier | None = Field(None, description="Asterisk Linkedid (the whole call)")
    channel: str = Field(max_length=256)
    state: CallState
    occurred_at: UtcTime
    caller_number: str | None = Field(None, max_length=64)
    called_number: str | None = Field(None, max_length=64)
    context: str | None = Field(None, max_length=80)
    dial_status: str | None = Field(None, max_length=32)
    cause: int | None = Field(None, ge=0, le=127, description="Q.850 cause on hangup")
    cause_txt: str | None = Field(None, max_length=128)
    bridge_id: str | None = Field(None, max_length=128)
    peer_channel: str | None = Field(None, max_length=256)
    incident_id: str | None = Field(None, max_length=128)
    order_id: str | None = Field(None, max_length=128)
    source_event: str = Field(max_length=64, description="the AMI event it came from")


ThreeWayState = Literal["requested", "ringing", "connected", "failed", "ended"]
FailureReason = Literal[
    "busy",
    "no-answer",
    "congestion",
    "unavailable",
    "rejected",
    "unknown",
    "caller-gone",
]


class ThreeWayCall(StrictModel):
    """Progress of a three-way call (caller + 110 operator + a unit's duty room)."""

    request_id: Identifier
    call_id: Identifier = Field(description="Uniqueid of the caller's channel")
    incident_id: Identifier
    unit_id: Identifier
    number: str | None = Field(None, max_length=64, description="the number being dialled")
    attempt: int = Field(1, ge=1)
    state: ThreeWayState
    reason: FailureReason | None = None
    cause: int | None = Field(None, ge=0, le=127)
    room: str | None = Field(None, max_length=64, description="ConfBridge room")
    occurred_at: UtcTime
    caller_channel: str | None = Field(None, max_length=256, description="caller leg, if known")
    operator_channel: str | None = Field(None, max_length=256, description="operator leg")
    order_id: Identifier | None = None


TransferState = Literal["requested", "done", "failed"]


class CallTransfer(StrictModel):
    """One-click transfer (一键转接) of a caller to 12345: command and its outcome."""

    request_id: Identifier
    call_id: Identifier = Field(description="Uniqueid of the caller's channel")
    incident_id: Identifier | None = None
    operator_channel: str | None = Field(None, max_length=256, description="the transferer")
    target: str = Field("12345", max_length=64, description="destination id (contract v1)")
    state: TransferState
    reason: str | None = Field(None, max_length=128)
    occurred_at: UtcTime
