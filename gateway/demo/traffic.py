"""Send citizen reports through the gateway's real webhooks, as the peers would."""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

import httpx
from twilio.request_validator import RequestValidator

from adapters.wechat import crypto
from contracts.common import new_id
from gateway.demo.scenario import DemoAlert


@dataclass(frozen=True)
class PeerSecrets:
    """The shared secrets the demo's peers sign with (the gateway checks them)."""

    twilio_auth_token: str
    twilio_number: str
    wechat_token: str
    wechat_app_id: str
    wechat_aes_key: str


class Citizens:
    """Citizens texting 12110 (via Twilio) and writing to the WeChat official account."""

    def __init__(self, client: httpx.AsyncClient, base_url: str, peer: PeerSecrets) -> None:
        self._client = client
        self._base = base_url.rstrip("/")
        self._peer = peer
        self._twilio = RequestValidator(peer.twilio_auth_token)
        self._n = 0

    def _mobile(self) -> str:
        self._n += 1
        return f"+86138{57800000 + self._n:08d}"

    async def sms(self, alert: DemoAlert, *, retries: int = 0) -> int:
        """Post a signed inbound SMS; `retries` re-posts the same MessageSid like Twilio does."""
        url = f"{self._base}/webhooks/twilio/sms"
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "ACdemo",
            "From": self._mobile(),
            "To": self._peer.twilio_number,
            "Body": alert.text,
            "NumMedia": "0",
        }
        status = 0
        for _ in range(1 + retries):
            status = await self._post_form(url, params)
        return status

    async def _post_form(self, url: str, params: Mapping[str, str]) -> int:
        sig = self._twilio.compute_signature(url, dict(params))
        r = await self._client.post(url, data=dict(params), headers={"X-Twilio-Signature": sig})
        return r.status_code

    async def wechat(self, alert: DemoAlert, *, retries: int = 0) -> int:
        """Post an encrypted (safe mode) WeChat message; retries reuse the MsgId."""
        openid = "oDemo" + secrets.token_hex(10)
        now = str(int(time.time()))
        msg_id = str(secrets.randbelow(10**18))
        if alert.lat is not None and alert.lon is not None:
            inner = (
                f"<xml><ToUserName><![CDATA[gh_demo]]></ToUserName>"
                f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{now}</CreateTime>"
                f"<MsgType><![CDATA[location]]></MsgType><Location_X>{alert.lat}</Location_X>"
                f"<Location_Y>{alert.lon}</Location_Y><Scale>15</Scale>"
                f"<Label><![CDATA[{alert.label or ''}]]></Label><MsgId>{msg_id}</MsgId></xml>"
            )
            await self._post_wechat(inner, now, retries)
            msg_id = str(secrets.randbelow(10**18))
        inner = (
            f"<xml><ToUserName><![CDATA[gh_demo]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{now}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{alert.text}]]></Content>"
            f"<MsgId>{msg_id}</MsgId></xml>"
        )
        return await self._post_wechat(inner, now, retries)

    async def _post_wechat(self, inner: str, now: str, retries: int) -> int:
        p = self._peer
        key = crypto.aes_key(p.wechat_aes_key)
        encrypted = crypto.encrypt(inner.encode(), key, p.wechat_app_id, secrets.token_bytes(16))
        nonce = secrets.token_hex(5)
        body = (
            f"<xml><ToUserName>{escape('gh_demo')}</ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        query = {
            "signature": crypto.signature(p.wechat_token, now, nonce),
            "timestamp": now,
            "nonce": nonce,
            "openid": "demo",
            "encrypt_type": "aes",
            "msg_signature": crypto.signature(p.wechat_token, now, nonce, encrypted),
        }
        status = 0
        for _ in range(1 + retries):
            r = await self._client.post(
                f"{self._base}/webhooks/wechat",
                params=query,
                content=body.encode(),
                headers={"Content-Type": "text/xml"},
            )
            status = r.status_code
        return status


def demo_secrets() -> PeerSecrets:
    """Fresh secrets per demo run (nothing real is ever used by the demo)."""
    return PeerSecrets(
        twilio_auth_token=secrets.token_hex(16),
        twilio_number="+8657812110",
        wechat_token="demo" + secrets.token_hex(6),
        wechat_app_id="wxdemo" + secrets.token_hex(5),
        wechat_aes_key=secrets.token_urlsafe(32)[:43].replace("-", "A").replace("_", "B"),
    )


def call_suffix() -> str:
    """A unique suffix so each simulated 110 call has its own channel ids."""
    return new_id()[-6:].lower()
