"""Channel test helpers: signed Twilio posts, WeChat callbacks, a test unit, orders."""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import time as dtime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
from pydantic import AnyUrl, SecretStr
from twilio.request_validator import RequestValidator

from contracts.common import new_id, utcnow
from contracts.directory import DutyWindow, Liaison, Unit
from contracts.order import Deadlines, Order
from gateway.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
PUBLIC = "https://gw.example.cn"
TWILIO_SID = "AC00000000000000000000000000000001"
TWILIO_TOKEN = "12345678901234567890123456789012"
WECHAT_TOKEN = "linkgate-wechat-token"
WECHAT_AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
WECHAT_APPID = "wx1234567890abcdef"
ROBOT_KEY = "robot-key-0001"
TWILIO_MESSAGES = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
WECOM_SEND = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"

LIAISON_A = "+8613911110001"  # on duty around the clock
LIAISON_B = "+8613911110002"  # practically never on duty (03:00:00 only)
DUTY_MOBILE = "+8613911110009"
DUTY_LANDLINE = "+865782000074"


@pytest.fixture
def chan_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": AnyUrl(PUBLIC),
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
            "twilio_from_number": "+8612110",
            "wechat_token": SecretStr(WECHAT_TOKEN),
            "wechat_aes_key": SecretStr(WECHAT_AES),
            "wechat_app_id": WECHAT_APPID,
            "wecom_robot_keys": {"t-robot": SecretStr(ROBOT_KEY)},
        }
    )


def make_unit(wecom: bool = True) -> Unit:
    never = DutyWindow(start=dtime(3, 0, 0), end=dtime(3, 0, 0))
    return Unit(
        id="t-fire",
        name="测试消防救援大队",
        tier=1,
        jurisdiction="lishui",
        duty_phones=[DUTY_LANDLINE, DUTY_MOBILE],
        liaisons=[
            Liaison(name="张伟", mobile=LIAISON_A),
            Liaison(name="罗刚", mobile=LIAISON_B, on_duty=[never]),
        ],
        wecom_robot="t-robot" if wecom else None,
    )


def make_order(code: str = "K7QFA", **kw: Any) -> Order:
    now = utcnow()
    data: dict[str, Any] = {
        "order_id": new_id(),
        "code": code,
        "incident_id": new_id(),
        "unit_id": "t-fire",
        "tier": 1,
        "instructions": "沿江路88号3号楼火情，五楼有人被困，请立即出动",
        "address": "丽水市莲都区沿江路88号",
        "issued_at": now,
        "issued_by": "operator-0317",
        "deadlines": Deadlines(arrive_by=now.replace(microsecond=0)),
        "via": ["sms"],
        **kw,
    }
    return Order.model_validate(data)


def sid(prefix: str = "SM") -> str:
    return prefix + uuid.uuid4().hex


def form_fixture(name: str, **subst: str) -> dict[str, str]:
    raw = (FIXTURES / name).read_text().strip()
    for key, value in subst.items():
        raw = raw.replace("{" + key + "}", quote(value, safe=""))
    return dict(parse_qsl(raw, keep_blank_values=True))


def twilio_signature(url: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


async def post_twilio(
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    *,
    query: str = "",
    signature: str | None = None,
    sign_url: str | None = None,
) -> httpx.Response:
    """POST form params as Twilio does, signed for the public URL unless told otherwise."""
    url = f"{path}?{query}" if query else path
    sig = signature if signature is not None else twilio_signature(sign_url or PUBLIC + url, params)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sig:
        headers["X-Twilio-Signature"] = sig
    return await client.post(url, content=urlencode(params), headers=headers)


def wechat_query(token: str = WECHAT_TOKEN, **extra: str) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}
