"""API skeleton: health, readiness against the real services, auth, unit directory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis

from gateway.directory.store import DirectoryStore
from gateway.settings import Settings


async def test_healthz_and_readyz_check_real_services(api_client: httpx.AsyncClient) -> None:
    assert (await api_client.get("/healthz")).json() == {"status": "ok"}
    r = await api_client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"redis": "ok", "broker": "ok"}}


async def test_readyz_is_503_when_the_broker_is_unreachable(
    settings: Settings, app_factory: Callable[..., Awaitable[Any]]
) -> None:
    broken = settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/"})
    _, client = await app_factory(broken)
    r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["broker"].startswith("down") and r.json()["checks"]["redis"] == "ok"


async def test_api_requires_a_valid_key_with_scope(
    settings: Settings, app_factory: Callable[..., Awaitable[Any]]
) -> None:
    scoped = settings.model_copy(update={"api_keys": {"reader-key": ["units:read"]}})
    _, anonymous = await app_factory(scoped, api_key=None)
    assert (await anonymous.get("/v1/units")).status_code == 401
    _, wrong = await app_factory(scoped, api_key="guess")
    assert (await wrong.get("/v1/units")).json() == {"detail": "invalid-api-key"}
    _, reader = await app_factory(scoped, api_key="reader-key")
    assert (await reader.get("/v1/units")).status_code == 200
    r = await reader.put("/v1/units/x/liaisons", json={"liaisons": []})
    assert r.status_code == 403 and r.json()["detail"] == "scope-required:units:write"


async def test_oversized_body_is_413(api_client: httpx.AsyncClient, settings: Settings) -> None:
    r = await api_client.put(
        "/v1/units/ls-fire/liaisons",
        content=b"x" * (settings.max_body_bytes + 1),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and r.json() == {"detail": "body-too-large"}


async def test_liaison_change_takes_effect_at_once_and_is_recorded(
    api_client: httpx.AsyncClient, redis: Redis, settings: Settings, example_directory_file: Path
) -> None:
    store = DirectoryStore(redis, settings)
    await store.load_file(example_directory_file, by="test")
    new = [{"name": "钱新", "mobile": "139 0578 9999"}]
    r = await api_client.put("/v1/units/ls-fire/liaisons", json={"liaisons": new})
    assert r.status_code == 200 and r.json()["liaisons"][0]["mobile"] == "+8613905789999"
    found = await store.find_by_mobile("+8613905789999")
    assert found is not None and found[0].id == "ls-fire" and found[1] is not None
    # the old liaison's mobile no longer reaches the unit
    old_unit = (await api_client.get("/v1/units/ls-fire")).json()
    assert [li["name"] for li in old_unit["liaisons"]] == ["钱新"]
    change = (await store.changes("ls-fire"))[-1]
    assert change["kind"] == "liaison_changed" and change["by"].startswith("test")


async def test_bad_directory_entries_are_refused_whole(
    api_client: httpx.AsyncClient, redis: Redis, settings: Settings, example_directory_file: Path
) -> None:
    store = DirectoryStore(redis, settings)
    await store.load_file(example_directory_file, by="test")
    before = await store.get("ls-fire")
    bad = [{"name": "好号码", "mobile": "13900001111"}, {"name": "坏号码", "mobile": "12"}]
    r = await api_client.put("/v1/units/ls-fire/liaisons", json={"liaisons": bad})
    assert r.status_code == 422 and r.json()["detail"] == "invalid-request"
    assert await store.get("ls-fire") == before
    assert (
        await api_client.put("/v1/units/nope/liaisons", json={"liaisons": [bad[0]]})
    ).status_code == 404
    unit = before.model_dump(mode="json") if before else {}
    r = await api_client.put("/v1/units/other-id", json=unit)
    assert r.status_code == 422 and r.json()["detail"] == "unit-id-mismatch"
    tier1_without_duty_phone = {**unit, "duty_phones": []}
    assert (
        await api_client.put("/v1/units/ls-fire", json=tier1_without_duty_phone)
    ).status_code == 422
    assert await store.get("ls-fire") == before
