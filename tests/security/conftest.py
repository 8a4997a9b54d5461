"""Security fixtures: an app with every peer secret set, signed-request helpers, a live
server (uvicorn in a thread, lifespan on) for the OpenAPI fuzzer."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import AnyUrl, SecretStr
from twilio.request_validator import RequestValidator

from gateway.settings import Settings
from tests.chaos.services import free_port

PUBLIC = "https://gw.example.cn"
TWILIO_TOKEN = "twilio-secret-auth-token-9f8e7d6c5b4a"
WECHAT_TOKEN = "wechat-secret-token-5a4b3c"
WECHAT_AES = "SecretAesKey0123456789abcdefghijklmnopqrstu"  # 43 characters
WECHAT_APPID = "wx1234567890abcdef"
API_KEY = "api-secret-key-0f1e2d3c4b5a69788796a5b4"
PLATFORM_SECRET = "platform-hmac-secret-77aa88bb99cc"


@pytest.fixture
def sec_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "public_base_url": AnyUrl(PUBLIC),
            "twilio_account_sid": "AC" + "1" * 32,
            "twilio_auth_token": SecretStr(TWILIO_TOKEN),
            "twilio_from_number": "+8612110",
            "wechat_token": SecretStr(WECHAT_TOKEN),
            "wechat_aes_key": SecretStr(WECHAT_AES),
            "wechat_app_id": WECHAT_APPID,
            "api_keys": {API_KEY: ["*"]},
            "platform_secrets": {"12345": SecretStr(PLATFORM_SECRET)},
            "log_json": True,
            # the fuzzer exercises the handlers, not the per-key limit (tested on its own)
            "api_rate_per_minute": 1_000_000,
        }
    )


@pytest.fixture
async def sec_app(
    sec_settings: Settings, app_factory: Callable[..., Awaitable[Any]]
) -> tuple[Any, httpx.AsyncClient]:
    """The app (lifespan running) and a client that sends NO credentials."""
    app, client = await app_factory(sec_settings, api_key=None)
    client.base_url = httpx.URL(PUBLIC)
    return app, client


def twilio_signed(path: str, form: dict[str, str]) -> dict[str, str]:
    sig = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form)
    return {"X-Twilio-Signature": sig}


def wechat_query(*extra: str) -> dict[str, str]:
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    sig = hashlib.sha1("".join(sorted([WECHAT_TOKEN, ts, nonce])).encode()).hexdigest()
    return {"timestamp": ts, "nonce": nonce, "signature": sig}


def sms_form(body: str = "楼下着火了", sid: str | None = None) -> dict[str, str]:
    return {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": "AC" + "1" * 32,
        "From": "+8613812345678",
        "To": "+8612110",
        "Body": body,
        "NumMedia": "0",
    }


@dataclass
class LiveServer:
    app: Any
    base_url: str
    settings: Settings


@pytest.fixture
def live_server(sec_settings: Settings) -> Iterator[LiveServer]:
    """uvicorn on a free loopback port in a thread: the real lifespan, the real socket."""
    from gateway.api.app import create_app

    app = create_app(sec_settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not (server.started and getattr(app.state, "publisher", None) is not None):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("live server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(app, f"http://127.0.0.1:{port}", sec_settings)
    finally:
        server.should_exit = True
        thread.join(15)
