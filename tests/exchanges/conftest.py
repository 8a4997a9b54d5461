"""Exchange tests: platform secrets and URLs set, respx stands in for the platforms."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aio_pika
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage
from pydantic import AnyUrl, SecretStr
from redis.asyncio import Redis

from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from bus.topology import dlq_name
from gateway.exchanges.auth import sign
from gateway.exchanges.consumers import exchange_specs
from gateway.settings import Settings

SECRETS = {"12345": "s3cret-12345", "maritime-sar": "s3cret-msa", "ocean-fishery": "s3cret-ofc"}
HOTLINE = "http://hotline.test/api/"
MSA = "http://msa.test/v2/"
OFC = "http://ofc.test/"


@pytest.fixture
def xsettings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "platform_secrets": {k: SecretStr(v) for k, v in SECRETS.items()},
            "hotline_url": AnyUrl(HOTLINE),
            "maritime_sar_url": AnyUrl(MSA),
            "ocean_fishery_url": AnyUrl(OFC),
        }
    )


@pytest.fixture
async def pclient(
    xsettings: Settings, app_factory: Callable[..., Awaitable[Any]]
) -> httpx.AsyncClient:
    """A client on the app with no API key: platforms authenticate by signature only."""
    _, c = await app_factory(xsettings, api_key=None)
    assert isinstance(c, httpx.AsyncClient)
    return c


@pytest.fixture
async def exchange_runner(
    xsettings: Settings, redis: Redis, publisher: Publisher
) -> AsyncIterator[ConsumerRunner]:
    runner = ConsumerRunner(xsettings, redis, exchange_specs(redis, xsettings, lambda: publisher))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop()


def signed_headers(
    method: str,
    path: str,
    body: bytes,
    platform: str = "12345",
    *,
    secret: str | None = None,
    ts: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    ts_s = str(int(time.time()) if ts is None else ts)
    nonce = nonce or secrets.token_hex(8)
    sig = sign(secret or SECRETS[platform], method, path, ts_s, nonce, body)
    return {
        "Content-Type": "application/json",
        "X-Linkage-Platform": platform,
        "X-Linkage-Timestamp": ts_s,
        "X-Linkage-Nonce": nonce,
        "X-Linkage-Signature": sig,
    }


async def signed_post(
    client: httpx.AsyncClient, path: str, payload: dict[str, Any], platform: str = "12345",
    **kw: Any,
) -> httpx.Response:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return await client.post(path, content=body, headers=signed_headers("POST", path, body, platform, **kw))


async def dlq_messages(
    settings: Settings, queue: str, expect: int, timeout: float = 5.0
) -> list[AbstractIncomingMessage]:
    """Read (and ack) what sits in a queue's DLQ, as an operator would."""
    conn = await aio_pika.connect(settings.amqp_url)
    try:
        ch = await conn.channel()
        q = await ch.declare_queue(dlq_name(queue), durable=True, passive=True)
        out: list[AbstractIncomingMessage] = []
        async with asyncio.timeout(timeout):
            while len(out) < expect:
                msg = await q.get(no_ack=True, fail=False)
                if msg is None:
                    await asyncio.sleep(0.05)
                    continue
                out.append(msg)
        return out
    finally:
        await conn.close()
