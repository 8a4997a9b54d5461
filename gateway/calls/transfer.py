"""One-click transfer to 12345 (一键转接, 国办发〔2022〕12号): for matters clearly outside
110's scope the operator hands the caller to the hotline with one BlindTransfer.

The operator's channel is the transferer; its bridge peer (the caller) goes to
`hotline_context,hotline_exten`. Runs in the ami process; never retried after the action
was sent, since a caller transferred twice would land in the hotline queue twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis

from adapters.ami.errors import AmiActionError
from adapters.ami.port import TelephonyPort
from contracts.call import CallTransfer, TransferState
from contracts.common import EventStatus, new_id, utcnow
from contracts.envelope import CloudEvent, make_event
from gateway.calls.emit import Emit, emit_safely
from gateway.calls.legs import pick_legs
from gateway.calls.state import TERMINAL, RequestStore
from gateway.settings import Settings

log = structlog.get_logger(__name__)

SOURCE = "/linkgate/ami/transfer"
Clock = Callable[[], datetime]


def store_for(redis: Redis, settings: Settings) -> RequestStore:
    return RequestStore(redis, settings, "transfer")


class TransferOrchestrator:
    """Consumes `call.transfer.requested`; answers `call.transfer.{done,failed}`."""

    def __init__(
        self,
        *,
        port: TelephonyPort,
        redis: Redis,
        settings: Settings,
        emit: Emit,
        clock: Clock = utcnow,
        instance: str | None = None,
    ) -> None:
        self._port = port
        self._settings = settings
        self._emit = emit
        self._clock = clock
        self._store = store_for(redis, settings)
        self._instance = instance or new_id()

    async def handle_request(self, event: CloudEvent, model: BaseModel) -> None:
        """Bus handler for `call.transfer.requested`."""
        if not isinstance(model, CallTransfer) or model.state != "requested":
            return
        operator = model.operator_channel
        if operator is None:
            _, operator = pick_legs(await self._port.channels(), model.call_id)
        if not await self._store.claim(model.request_id, self._instance):
            owner = await self._store.claim_owner(model.request_id)
            view = await self._store.get(model.request_id)
            if owner != self._instance and view is not None and view["state"] not in TERMINAL:
                await self._finish(model, event.status, "failed", "unknown: worker restarted")
            return
        if operator is None:
            await self._finish(model, event.status, "failed", "operator leg not found")
            return
        try:
            await self._port.blind_transfer(
                channel=operator,
                context=self._settings.hotline_context,
                exten=self._settings.hotline_exten,
            )
        except Exception as exc:
            # a refusal (`Response: Error`) is known; anything else may have happened or not
            reason = f"refused: {exc.message}" if isinstance(exc, AmiActionError) else (
                f"unknown: {exc!r}"
            )
            await self._finish(model, event.status, "failed", reason[:128], operator)
            return
        await self._finish(model, event.status, "done", None, operator)

    async def _finish(
        self,
        req: CallTransfer,
        status: EventStatus,
        state: TransferState,
        reason: str | None,
        operator: str | None = None,
    ) -> None:
        now = self._clock()
        message = req.model_copy(
            update={
                "state": state,
                "reason": reason,
                "occurred_at": now,
                "operator_channel": operator or req.operator_channel,
            }
        )
        fields = message.model_dump(exclude_none=True, exclude={"state", "request_id"})
        await self._store.record(req.request_id, now, state, status=status.value, **fields)
        log.info("transfer.finished", request_id=req.request_id, state=state, reason=reason)
        event = make_event(message, source=SOURCE, subject=req.incident_id, status=status)
        await emit_safely(self._emit, event)
