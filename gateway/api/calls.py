"""Call actions for the 110 operator: three-way call with a unit, one-click transfer to 12345.

The API process has no AMI link: it records the request in Redis, queues the command
on the bus (spooled if the broker is down, so an accepted request is never lost) and
answers 202 with a request id; `linkgate ami` carries it out and records the progress.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field
from redis.asyncio import Redis

from bus.errors import UnroutableError
from bus.spool import Spool
from contracts.call import CallTransfer, ThreeWayCall
from contracts.common import E164, EventStatus, Identifier, new_id, utcnow
from contracts.envelope import make_event
from gateway.api.deps import (
    Caller,
    get_directory,
    get_redis,
    get_settings,
    get_spool,
    require_scope,
)
from gateway.calls import threeway, transfer
from gateway.calls.state import RequestStore
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

router = APIRouter(prefix="/v1/calls", tags=["calls"])

SOURCE = "/linkgate/api/calls"
ID_PATTERN = r"^[A-Za-z0-9._:@/+\-]{1,128}$"
# channel names go into AMI frames: no spaces or line breaks, ever
ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_.;@:+\-]{1,256}$")]
CallId = Annotated[str, Path(pattern=ID_PATTERN, description="Uniqueid of the caller's channel")]
RequestId = Annotated[str, Path(pattern=ID_PATTERN)]
THREEWAY_RESERVATION_S = 600
TRANSFER_RESERVATION_S = 60


class ThreeWayRequest(BaseModel):
    """Bring a unit's duty room into the caller's call."""

    model_config = ConfigDict(extra="forbid")
    unit_id: Identifier
    number: E164 | None = Field(None, description="try this number first")
    incident_id: Identifier | None = Field(None, description="defaults to the call id")
    order_id: Identifier | None = None
    operator_channel: ChannelName | None = None
    caller_channel: ChannelName | None = None
    status: EventStatus = EventStatus.ACTUAL


class TransferRequest(BaseModel):
    """Hand the caller over to the 12345 hotline."""

    model_config = ConfigDict(extra="forbid")
    operator_channel: ChannelName | None = None
    incident_id: Identifier | None = None
    status: EventStatus = EventStatus.ACTUAL


class Accepted(BaseModel):
    request_id: str
    state: str
    status_url: str


async def _queue(store: RequestStore, spool: Spool, request_id: str, event: Any) -> None:
    """Queue the command; if even the spool refuses, forget the request and say 503."""
    try:
        await spool.publish_or_spool(event)
    except UnroutableError:  # no queue bound: `linkgate ami` never started here
        await store.delete(request_id)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no-call-worker") from None
    except Exception:
        await store.delete(request_id)
        detail = "queue-unavailable"
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=detail) from None


async def _accept(
    store: RequestStore,
    spool: Spool,
    command: ThreeWayCall | CallTransfer,
    status_: EventStatus,
    reserved: str,
    status_url: str,
) -> Accepted:
    """Record the request with its history, queue the command, answer 202 — or, if it
    cannot be queued, release the reservation so the operator can try again."""
    fields = command.model_dump(exclude_none=True, exclude={"state", "request_id"})
    await store.record(command.request_id, command.occurred_at, "requested",
                       status=status_.value, created_at=command.occurred_at, **fields)
    event = make_event(command, source=SOURCE, subject=command.incident_id, status=status_)
    try:
        await _queue(store, spool, command.request_id, event)
    except HTTPException:
        await store.release("active", reserved, command.request_id)
        raise
    return Accepted(request_id=command.request_id, state="requested", status_url=status_url)


@router.post("/{call_id}/three-way", status_code=status.HTTP_202_ACCEPTED)
async def request_three_way(
    call_id: CallId,
    body: ThreeWayRequest,
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
    spool: Annotated[Spool, Depends(get_spool)],
    directory: Annotated[DirectoryStore, Depends(get_directory)],
    _: Annotated[Caller, Depends(require_scope("calls:write"))],
) -> Accepted:
    if await directory.get(body.unit_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown-unit")
    store = threeway.store_for(redis, settings)
    request_id = new_id()
    active = threeway.active_key(call_id, body.unit_id)
    holder = await store.reserve("active", active, request_id, THREEWAY_RESERVATION_S)
    if holder is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={"reason": "already-in-progress", "request_id": holder},
        )
    command = ThreeWayCall(
        request_id=request_id,
        call_id=call_id,
        incident_id=body.incident_id or call_id,
        unit_id=body.unit_id,
        order_id=body.order_id,
        number=body.number,
        state="requested",
        caller_channel=body.caller_channel,
        operator_channel=body.operator_channel,
        occurred_at=utcnow(),
    )
    return await _accept(
        store, spool, command, body.status, active, f"/v1/calls/three-way/{request_id}"
    )


@router.get("/three-way/{request_id}")
async def get_three_way(
    request_id: RequestId,
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
    _: Annotated[Caller, Depends(require_scope("calls:read"))],
) -> dict[str, Any]:
    view = await threeway.store_for(redis, settings).get(request_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown-request")
    return view


@router.post("/{call_id}/transfer-12345", status_code=status.HTTP_202_ACCEPTED)
async def transfer_to_12345(
    call_id: CallId,
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
    spool: Annotated[Spool, Depends(get_spool)],
    _: Annotated[Caller, Depends(require_scope("calls:write"))],
    body: Annotated[TransferRequest | None, Body()] = None,
) -> Accepted:
    body = body or TransferRequest()
    store = transfer.store_for(redis, settings)
    request_id = new_id()
    holder = await store.reserve("active", call_id, request_id, TRANSFER_RESERVATION_S)
    if holder is not None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail={"reason": "already-in-progress", "request_id": holder},
        )
    command = CallTransfer(
        request_id=request_id,
        call_id=call_id,
        incident_id=body.incident_id,
        operator_channel=body.operator_channel,
        state="requested",
        occurred_at=utcnow(),
    )
    return await _accept(
        store, spool, command, body.status, call_id, f"/v1/calls/transfers/{request_id}"
    )


@router.get("/transfers/{request_id}")
async def get_transfer(
    request_id: RequestId,
    settings: Annotated[Settings, Depends(get_settings)],
    redis: Annotated[Redis, Depends(get_redis)],
    _: Annotated[Caller, Depends(require_scope("calls:read"))],
) -> dict[str, Any]:
    view = await transfer.store_for(redis, settings).get(request_id)
    if view is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown-request")
    return view
