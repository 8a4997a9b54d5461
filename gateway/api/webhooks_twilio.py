"""Twilio webhooks: inbound SMS and delivery status callbacks.

Both check `X-Twilio-Signature` with twilio's RequestValidator against the public URL
(`LINKGATE_PUBLIC_BASE_URL` + path + query): 403 and nothing published otherwise.
Inbound messages are claimed by `MessageSid`, status callbacks by
`MessageSid:MessageStatus`; a duplicate gets the same answer and publishes nothing.
"""

from __future__ import annotations

import re

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from adapters.sms import twiml
from adapters.sms.signature import public_url, valid_signature
from contracts.common import new_id, utcnow
from contracts.envelope import CloudEvent, make_event
from contracts.order import OrderDelivery, OrderFeedback
from gateway.channels import metrics
from gateway.channels.accept import accept_once
from gateway.channels.claims import InboundClaims
from gateway.channels.delivery import FAILED, DeliveryStore
from gateway.channels.inbound_sms import handle_sms
from gateway.settings import Settings

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])

STATUS_SOURCE = "/linkgate/webhooks/twilio/status"
_SID = re.compile(r"^[A-Za-z]{2}[0-9a-fA-F]{32}$")
_MID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


async def _verified_form(request: Request, settings: Settings) -> dict[str, str]:
    form = await request.form()
    params = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    url = public_url(str(settings.public_base_url), request.url.path, request.url.query)
    token = settings.twilio_auth_token.get_secret_value()
    if not valid_signature(token, url, params, request.headers.get("X-Twilio-Signature")):
        log.warning("twilio.bad_signature", path=request.url.path)
        metrics.INBOUND.labels("sms", "bad-signature").inc()
        raise HTTPException(403, detail="bad-signature")
    return params


def _claims(request: Request, scope: str) -> InboundClaims:
    settings: Settings = request.app.state.settings
    return InboundClaims(
        request.app.state.redis,
        settings.key("chan", "inbound", scope),
        settings.idempotency_ttl_s,
    )


@router.post("/webhooks/twilio/sms")
async def twilio_sms(request: Request) -> Response:
    """A text to our number: an alarm from a citizen or a liaison's answer to an order."""
    settings: Settings = request.app.state.settings
    form = await _verified_form(request, settings)
    sid = form.get("MessageSid", "")
    if not _SID.match(sid):
        raise HTTPException(400, detail="missing-message-sid")

    async def work() -> tuple[list[CloudEvent], str]:
        outcome = await handle_sms(
            form, request.app.state.redis, settings, request.app.state.directory
        )
        log.info("twilio.sms", sid=sid, kind=outcome.kind)
        return outcome.events, twiml.reply(outcome.reply)

    answer = await accept_once(
        _claims(request, "sms"), sid, request.app.state.spool, work, channel="sms"
    )
    return Response(answer, media_type=twiml.CONTENT_TYPE)


@router.post("/webhooks/twilio/status")
async def twilio_status(request: Request, mid: str = "") -> Response:
    """A delivery receipt for an order SMS (our message id `mid` in the query string)."""
    settings: Settings = request.app.state.settings
    form = await _verified_form(request, settings)
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "").lower()
    if not _SID.match(sid) or not status:
        raise HTTPException(400, detail="missing-message-sid-or-status")
    if not _MID.match(mid):
        raise HTTPException(400, detail="bad-message-id")
    store = DeliveryStore(request.app.state.redis, settings)

    async def work() -> tuple[list[CloudEvent], str]:
        record = await store.get(mid)
        if record is None:
            log.warning("twilio.status_unknown_message", mid=mid, status=status)
            return [], ""
        code = form.get("ErrorCode") or None
        applied = await store.apply(mid, status, sid=sid, error_code=code, source="callback")
        log.info("twilio.status", mid=mid, status=status, applied=applied)
        metrics.RECEIPTS.labels(status, str(bool(applied)).lower()).inc()
        if not applied:
            return [], ""
        return _status_events(record.fields, mid, sid, status, code), ""

    ident = f"{sid}:{status}"
    await accept_once(
        _claims(request, "status"), ident, request.app.state.spool, work, channel="sms-status"
    )
    return Response(status_code=204)


def _status_events(
    rec: dict[str, str], mid: str, sid: str, status: str, code: str | None
) -> list[CloudEvent]:
    """`delivered` → OrderFeedback(delivered); `undelivered`/`failed` → OrderDelivery."""
    incident = rec.get("incident_id") or None
    if status == "delivered":
        fb = OrderFeedback(
            feedback_id=new_id(),
            order_id=rec["order_id"],
            order_code=rec.get("code"),
            kind="delivered",
            by=rec.get("name") or "sms",
            via="sms",
            at=utcnow(),
        )
        return [
            make_event(
                fb,
                source=STATUS_SOURCE,
                subject=incident,
                event_id=f"twilio-status-{sid}-delivered",
            )
        ]
    if status in FAILED:
        report = OrderDelivery(
            delivery_id=mid,
            order_id=rec["order_id"],
            unit_id=rec["unit_id"],
            incident_id=incident,
            channel="sms",
            status=status,
            to=rec.get("to"),
            provider_ref=sid,
            error_code=code,
            at=utcnow(),
        )
        return [
            make_event(
                report,
                source=STATUS_SOURCE,
                subject=incident,
                event_id=f"twilio-status-{sid}-{status}",
            )
        ]
    return []
