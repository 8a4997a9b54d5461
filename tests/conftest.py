"""Shared fixtures: every test gets its own RabbitMQ vhost and Redis key prefix.

Tests talk to the real RabbitMQ and Redis on loopback; isolation is by unique names,
never by mocks. The management API (port 15672) creates vhosts in milliseconds; when it
is not enabled, `rabbitmqctl` does the same more slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aio_pika
import httpx
import pytest
import respx.mocks
from redis.asyncio import Redis

from bus.publisher import Publisher
from bus.topology import declare_exchanges
from contracts.envelope import CloudEvent
from gateway.settings import Settings, load_settings

AMQP_HOST = os.environ.get("LINKGATE_TEST_AMQP_HOST", "127.0.0.1")
MGMT_URL = os.environ.get("LINKGATE_TEST_MGMT_URL", "http://127.0.0.1:15672")
REDIS_URL = os.environ.get("LINKGATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_API_KEY = "test-key-all-scopes"

# respx mocks at the httpx client (`using="httpx"`), not inside httpcore's pool: the centres'
# client carries its requests over aiohttp (adapters/platforms/transport.py), and every
# httpx client, whatever its transport, goes through the client layer. respx reads this
# default each time a mock starts (respx.router.MockRouter.using).
respx.mocks.DEFAULT_MOCKER = respx.mocks.HTTPXMocker.name


async def _create_vhost(name: str) -> None:
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as client:
        try:
            r = await client.put(f"{MGMT_URL}/api/vhosts/{quote(name, safe='')}")
            if r.status_code in (201, 204):
                r = await client.put(
                    f"{MGMT_URL}/api/permissions/{quote(name, safe='')}/guest",
                    json={"configure": ".*", "write": ".*", "read": ".*"},
                )
                r.raise_for_status()
                return
        except httpx.HTTPError:
            pass
    ctl = shutil.which("rabbitmqctl") or "rabbitmqctl"
    await asyncio.to_thread(
        subprocess.run, [ctl, "add_vhost", name], check=True, capture_output=True
    )
    await asyncio.to_thread(
        subprocess.run,
        [ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )


async def _delete_vhost(name: str) -> None:
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as client:
        with contextlib.suppress(httpx.HTTPError):
            r = await client.delete(f"{MGMT_URL}/api/vhosts/{quote(name, safe='')}")
            if r.status_code in (204, 404):
                return
    ctl = shutil.which("rabbitmqctl") or "rabbitmqctl"
    await asyncio.to_thread(subprocess.run, [ctl, "delete_vhost", name], capture_output=True)


async def _delete_prefix(redis: Redis, prefix: str) -> None:
    async for key in redis.scan_iter(match=f"{prefix}:*", count=1000):
        await redis.delete(key)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
async def settings(unique: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings pointing at a fresh vhost and a unique Redis prefix (both removed after)."""
    vhost = f"lgt-{unique}"
    await _create_vhost(vhost)
    s = load_settings(
        amqp_url=f"amqp://guest:guest@{AMQP_HOST}:5672/{quote(vhost, safe='')}",
        redis_url=REDIS_URL,
        redis_prefix=f"lgt:{unique}",
        spool_dir=tmp_path / "spool",
        retry_delays_ms=[50, 100, 200],
        max_attempts=3,
        api_keys={TEST_API_KEY: ["*"]},
        log_json=False,
    )
    try:
        yield s
    finally:
        await _delete_vhost(vhost)
        r = Redis.from_url(REDIS_URL)
        try:
            await _delete_prefix(r, s.redis_prefix)
        finally:
            await r.aclose()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[Publisher]:
    pub = await Publisher.connect(settings)
    try:
        yield pub
    finally:
        await pub.close()


class BusProbe:
    """A peer's view of the exchange: an exclusive queue bound to some routing keys."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self._queue = queue
        self._items: asyncio.Queue[tuple[str, CloudEvent, dict[str, Any]]] = asyncio.Queue()

    async def start(self) -> None:
        async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            async with message.process():
                event = CloudEvent.model_validate_json(message.body)
                await self._items.put((message.routing_key or "", event, dict(message.headers)))

        await self._queue.consume(on_message)

    async def take_with_keys(self, n: int, timeout: float = 5.0) -> list[tuple[str, CloudEvent]]:
        """Exactly the next `n` (routing key, event) pairs, or fail after `timeout`."""
        out: list[tuple[str, CloudEvent]] = []
        async with asyncio.timeout(timeout):
            while len(out) < n:
                key, event, _ = await self._items.get()
                out.append((key, event))
        return out

    async def take(self, n: int, timeout: float = 5.0) -> list[CloudEvent]:
        return [event for _, event in await self.take_with_keys(n, timeout)]

    async def assert_nothing(self, within: float = 0.5) -> None:
        """Fail if anything (more) arrives within `within` seconds."""
        await asyncio.sleep(within)
        assert self._items.empty(), f"unexpected: {[i[0] for i in self._items._queue]}"  # type: ignore[attr-defined]

    def pending(self) -> int:
        return self._items.qsize()


@pytest.fixture
async def bus_probe(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[BusProbe]]]:
    connection = await aio_pika.connect_robust(settings.amqp_url)
    channel = await connection.channel()
    events, _ = await declare_exchanges(channel, settings)

    async def make(*patterns: str) -> BusProbe:
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        for pattern in patterns:
            await queue.bind(events, routing_key=pattern)
        probe = BusProbe(queue)
        await probe.start()
        return probe

    try:
        yield make
    finally:
        await connection.close()


@pytest.fixture
async def app_factory(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Build the API app with its lifespan running; returns (app, client)."""
    from gateway.api.app import create_app

    stack = contextlib.AsyncExitStack()

    async def make(s: Settings | None = None, api_key: str | None = TEST_API_KEY) -> Any:
        app = create_app(s or settings)
        await stack.enter_async_context(app.router.lifespan_context(app))
        for _ in range(100):  # the publisher connects in the background
            if app.state.publisher is not None:
                break
            await asyncio.sleep(0.05)
        headers = {"X-API-Key": api_key} if api_key else {}
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
        )
        await stack.enter_async_context(client)
        return app, client

    try:
        yield make
    finally:
        await stack.aclose()


@pytest.fixture
async def api_client(app_factory: Callable[..., Awaitable[Any]]) -> httpx.AsyncClient:
    """An httpx client on the running app with an all-scopes API key."""
    _, client = await app_factory()
    return client


@pytest.fixture(scope="session")
def example_directory_file() -> Iterator[Path]:
    yield Path(__file__).resolve().parents[1] / "gateway" / "directory" / "example_units.yaml"
