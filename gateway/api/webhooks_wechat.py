"""WeChat official-account callback: URL verification, plain and safe (AES) mode.

Every request's `signature` (sha1 of sorted token/timestamp/nonce) is checked, and in
safe mode `msg_signature` over the `Encrypt` field too; a stale timestamp is refused.
Messages are claimed by `MsgId` (events by FromUserName+CreateTime+Event) before
anything is published; the answer is always `success` (WeChat shows an error to the
user for anything else), given well within WeChat's 5 s.
"""

from __future__ import annotations

import time

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import PlainTextResponse

from adapters.wechat.crypto import WeChatCryptoError, aes_key, check_signature, decrypt
from adapters.wechat.message import MAX_BYTES, WeChatMessageError, message_from, parse_xml
from contracts.envelope import CloudEvent
from gateway.channels import metrics
from gateway.channels.accept import accept_once
from gateway.channels.claims import InboundClaims
from gateway.channels.inbound_wechat import alert_event, alert_from_wechat
from gateway.settings import Settings

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])

SUCCESS = "success"


def _check_request(request: Request, settings: Settings) -> tuple[str, str, str]:
    """Token, timestamp and nonce of a correctly signed, fresh request (else 403)."""
    q = request.query_params
    token = settings.wechat_token.get_secret_value()
    timestamp, nonce = q.get("timestamp", ""), q.get("nonce", "")
    if not token or not timestamp or not nonce:
        raise HTTPException(403, detail="bad-signature")
    if not check_signature(q.get("signature"), token, timestamp, nonce):
        log.warning("wechat.bad_signature")
        metrics.INBOUND.labels("wechat", "bad-signature").inc()
        raise HTTPException(403, detail="bad-signature")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > (
        settings.platform_replay_window_s
    ):
        raise HTTPException(403, detail="stale-timestamp")
    return token, timestamp, nonce


@router.get("/webhooks/wechat", response_class=PlainTextResponse)
async def wechat_verify(request: Request) -> PlainTextResponse:
    """WeChat's server check when the callback URL is configured: echo `echostr`."""
    settings: Settings = request.app.state.settings
    q = request.query_params
    token = settings.wechat_token.get_secret_value()
    if not token or not check_signature(
        q.get("signature"), token, q.get("timestamp", ""), q.get("nonce", "")
    ):
        raise HTTPException(403, detail="bad-signature")
    return PlainTextResponse(q.get("echostr", ""))


@router.post("/webhooks/wechat", response_class=PlainTextResponse)
async def wechat_message(request: Request) -> PlainTextResponse:
    """A user's message to the official account → an alert (events publish nothing)."""
    settings: Settings = request.app.state.settings
    token, timestamp, nonce = _check_request(request, settings)
    body = await request.body()
    if len(body) > MAX_BYTES:
        raise HTTPException(413, detail="body-too-large")
    try:
        root = parse_xml(body)
        encrypt_type = request.query_params.get("encrypt_type", "raw").lower()
        if encrypt_type == "aes":
            encrypted = root.findtext("Encrypt") or ""
            if not encrypted or not check_signature(
                request.query_params.get("msg_signature"), token, timestamp, nonce, encrypted
            ):
                raise HTTPException(403, detail="bad-msg-signature")
            key = aes_key(settings.wechat_aes_key.get_secret_value())
            root = parse_xml(decrypt(encrypted, key, settings.wechat_app_id))
        elif encrypt_type != "raw":
            raise HTTPException(400, detail="unsupported-encrypt-type")
    except WeChatCryptoError as exc:
        log.warning("wechat.bad_ciphertext", reason=exc.reason)
        metrics.INBOUND.labels("wechat", exc.reason).inc()
        status = 403 if exc.reason == "wrong-app-id" else 400
        raise HTTPException(status, detail=exc.reason) from exc
    except WeChatMessageError as exc:
        raise HTTPException(400, detail=exc.reason) from exc
    msg = message_from(root)
    ident = msg.dedup_key()
    if ident is None:
        raise HTTPException(400, detail="missing-msgid")

    async def work() -> tuple[list[CloudEvent], str]:
        alert = alert_from_wechat(msg)
        log.info("wechat.message", type=msg.msg_type, alert=alert is not None)
        return ([alert_event(alert, ident)] if alert else []), SUCCESS

    claims = InboundClaims(
        request.app.state.redis,
        settings.key("chan", "inbound", "wechat"),
        settings.idempotency_ttl_s,
    )
    answer = await accept_once(claims, ident, request.app.state.spool, work, channel="wechat")
    return PlainTextResponse(answer)
