"""Secrets never reach the logs, and phone numbers are masked, on the paths that handle
them: signed Twilio SMS, WeChat safe mode (AES), API keys (right and wrong), bad
signatures, and the router classifying and delivering the alert. Logs are captured
at DEBUG in the production JSON format."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import pytest
import structlog

from adapters.wechat.crypto import aes_key, encrypt, signature
from gateway.api.app import create_app
from gateway.logging import configure_logging
from gateway.settings import Settings
from tests.chaos.services import Receiver
from tests.chaos.stack import destination_urls, running_router
from tests.security.conftest import (
    API_KEY,
    PLATFORM_SECRET,
    PUBLIC,
    TWILIO_TOKEN,
    WECHAT_AES,
    WECHAT_APPID,
    WECHAT_TOKEN,
    sms_form,
    twilio_signed,
)

PHONE_DIGITS = "13812345678"  # the citizen's mobile in sms_form


async def test_secrets_and_phone_numbers_stay_out_of_the_logs(
    sec_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    receiver = Receiver()
    await receiver.start()
    settings = type(sec_settings)(**{**sec_settings.model_dump(), **destination_urls(receiver)})
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", json_logs=True)
    try:
        async with running_router(settings):
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                for _ in range(100):
                    if app.state.publisher is not None:
                        break
                    await asyncio.sleep(0.05)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url=PUBLIC) as c:
                    await exercise(c)
                    await receiver.wait_for(lambda: receiver.total() >= 2, 15)
    finally:
        await receiver.stop()
        structlog.reset_defaults()
        root.handlers[:], root.level = saved[0], saved[1]

    logs = capsys.readouterr()
    text = logs.out + logs.err
    assert "twilio.sms" in text and "router.delivered" in text, "nothing was logged?"
    for secret in (TWILIO_TOKEN, WECHAT_TOKEN, WECHAT_AES, API_KEY, "wrong-" + API_KEY,
                   PLATFORM_SECRET):
        assert secret not in text, f"a secret was logged: {secret[:6]}…"
    assert PHONE_DIGITS not in text, "a full phone number was logged"
    assert "+86138****5678" in text or "138****5678" in text, "caller not in the logs, masked"


async def exercise(c: Any) -> None:
    # a citizen's SMS, signed; then a forged one
    form = sms_form("楼下着火了，有人被困")
    r = await c.post("/webhooks/twilio/sms", data=form, headers=twilio_signed("/webhooks/twilio/sms", form))
    assert r.status_code == 200, r.text
    r = await c.post("/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": "forged"})
    assert r.status_code == 403
    # WeChat safe mode
    xml = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oUser1]]>"
        "</FromUserName><CreateTime>1763864107</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[河里有人落水 13812345678]]></Content><MsgId>91</MsgId></xml>"
    ).encode()
    enc = encrypt(xml, aes_key(WECHAT_AES), WECHAT_APPID, uuid.uuid4().bytes)
    ts, nonce = str(int(time.time())), "n0nce"
    params = {
        "timestamp": ts, "nonce": nonce, "encrypt_type": "aes",
        "signature": signature(WECHAT_TOKEN, ts, nonce),
        "msg_signature": signature(WECHAT_TOKEN, ts, nonce, enc),
    }
    body = f"<xml><ToUserName>gh_1</ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
    r = await c.post("/webhooks/wechat", params=params, content=body.encode())
    assert r.status_code == 200, r.text
    r = await c.post("/webhooks/wechat", params=params | {"msg_signature": "0" * 40},
                     content=body.encode())
    assert r.status_code == 403
    # the API with the right key, a wrong one, a bearer token
    r = await c.get("/v1/units", headers={"X-API-Key": API_KEY})
    assert r.status_code == 200
    r = await c.get("/v1/units", headers={"X-API-Key": "wrong-" + API_KEY})
    assert r.status_code == 401
    r = await c.post("/v1/routing/dry-run", headers={"Authorization": f"Bearer {API_KEY}"},
                     json={"text": "我的电话 13812345678 楼下着火", "channel": "sms"})
    assert r.status_code == 200, r.text
