"""Order tests: the example directory loaded, helpers to issue orders and post feedback."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway.directory.store import DirectoryStore
from gateway.settings import Settings


@pytest.fixture
async def directory(redis: Redis, settings: Settings, example_directory_file: Path) -> DirectoryStore:
    store = DirectoryStore(redis, settings)
    await store.load_file(example_directory_file, by="test")
    return store


@pytest.fixture
async def client(
    directory: DirectoryStore, app_factory: Callable[..., Awaitable[Any]]
) -> httpx.AsyncClient:
    _, c = await app_factory()
    assert isinstance(c, httpx.AsyncClient)
    return c


async def issue(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "incident_id": "INC-1",
        "unit_id": "ls-fire",
        "instructions": "莲都区紫金路 12 号民房起火,请立即出警",
        "issued_at": "2026-11-23T02:00:00+00:00",
    } | overrides
    r = await client.post("/v1/orders", json=body)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def feedback(
    client: httpx.AsyncClient, order_id: str, kind: str, at: str, **extra: Any
) -> httpx.Response:
    body = {"kind": kind, "by": "张伟", "at": at} | extra
    return await client.post(f"/v1/orders/{order_id}/feedback", json=body)
