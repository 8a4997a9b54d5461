"""Orders through the API, checked on the bus as a peer sees them and in the stored state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from redis.asyncio import Redis

from bus.publisher import Publisher
from gateway.orders.outbox import Outbox
from gateway.orders.store import OrderStore
from gateway.settings import Settings
from tests.orders.conftest import feedback, issue

Probe = Callable[..., Awaitable[Any]]


async def test_issue_publishes_order_with_code_and_deadlines(
    client: httpx.AsyncClient, bus_probe: Probe
) -> None:
    probe = await bus_probe("order.#")
    body = await issue(client, unit_id="ls-police")
    [(key, event)] = await probe.take_with_keys(1)
    assert key == "order.issued"
    assert event.subject == "INC-1"
    data = event.data
    assert data["order_id"] == body["order_id"] and data["code"] == body["code"]
    assert len(data["code"]) == 5 and not set(data["code"]) & set("0O1IL2Z5S8B6G")
    assert data["deadlines"]["arrive_by"] == "2026-11-23T02:10:00Z"  # police: 10 minutes
    assert data["deadlines"]["report_by"] == "2026-11-24T02:00:00Z"  # Lishui profile: 24 h
    assert body["state"] == "issued"


async def test_deadline_profiles_by_tier_area_and_jurisdiction(client: httpx.AsyncClient) -> None:
    fire = await issue(client, unit_id="ls-fire")  # Lishui tier 1: 20 min
    tier2 = await issue(client, unit_id="ls-culture")  # Lishui tier 2: 30 min
    sea = await issue(client, unit_id="zs-maritime-sar")  # Zhoushan tier 1: 30 min
    rural = await issue(client, unit_id="ah-township-meicheng")  # Anhua rural: 60 min, 12 h
    desk = await issue(client, unit_id="ls-ndrc", on_site=False)  # tier 3 desk work
    assert fire["order"]["deadlines"]["arrive_by"] == "2026-11-23T02:20:00Z"
    assert tier2["order"]["deadlines"]["arrive_by"] == "2026-11-23T02:30:00Z"
    assert sea["order"]["deadlines"]["arrive_by"] == "2026-11-23T02:30:00Z"
    assert rural["order"]["deadlines"]["arrive_by"] == "2026-11-23T03:00:00Z"
    assert rural["order"]["deadlines"]["report_by"] == "2026-11-23T14:00:00Z"
    assert desk["order"]["deadlines"].get("arrive_by") is None


async def test_unknown_unit_or_bad_body_changes_nothing(
    client: httpx.AsyncClient, bus_probe: Probe, redis: Redis, settings: Settings
) -> None:
    probe = await bus_probe("order.#")
    r = await client.post(
        "/v1/orders", json={"incident_id": "I", "unit_id": "nope", "instructions": "x"}
    )
    assert (r.status_code, r.json()["detail"]) == (422, "unknown-unit")
    r = await client.post("/v1/orders", json={"incident_id": "I", "unit_id": "ls-fire"})
    assert (r.status_code, r.json()["detail"]) == (422, "invalid-request")
    r = await client.post(
        "/v1/orders",
        json={"incident_id": "I", "unit_id": "ls-fire", "instructions": "x",
              "issued_at": "2026-11-23T02:00:00"},
    )
    assert r.status_code == 422
    r = await client.post(
        "/v1/orders",
        json={"incident_id": "I", "unit_id": "ls-fire", "instructions": "x",
              "issued_at": "9999-12-31T23:00:00+00:00"},
    )
    assert (r.status_code, r.json()["detail"]) == (422, "issued-at-out-of-range")
    await probe.assert_nothing(within=0.3)
    assert await redis.keys(settings.key("orders", "*")) == []


async def test_auth_required(
    directory: object, app_factory: Callable[..., Awaitable[Any]]
) -> None:
    _, anon = await app_factory(api_key=None)
    r = await anon.post("/v1/orders", json={})
    assert r.status_code == 401
    r = await anon.get("/v1/orders/x")
    assert r.status_code == 401


async def test_full_lifecycle_on_time_with_history(
    client: httpx.AsyncClient, bus_probe: Probe
) -> None:
    body = await issue(client)
    oid = body["order_id"]
    probe = await bus_probe("order.feedback.#")
    for kind, at in [
        ("delivered", "02:00:10"), ("acknowledged", "02:01:00"), ("arrived", "02:15:00"),
        ("completed", "02:50:00"), ("report", "08:00:00"),
    ]:
        r = await feedback(client, oid, kind, f"2026-11-23T{at}+00:00")
        assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
    keys = [k for k, _ in await probe.take_with_keys(5)]
    assert keys == [
        "order.feedback.delivered", "order.feedback.acknowledged", "order.feedback.arrived",
        "order.feedback.completed", "order.feedback.report",
    ]
    got = (await client.get(f"/v1/orders/{oid}")).json()
    assert got["state"] == "reported"
    assert [h["kind"] for h in got["history"]] == [
        "issued", "delivered", "acknowledged", "arrived", "completed", "report",
    ]
    assert got["milestones"]["arrived"] == "2026-11-23T02:15:00Z"


async def test_duplicate_and_out_of_order_feedback(
    client: httpx.AsyncClient, bus_probe: Probe, redis: Redis, settings: Settings
) -> None:
    oid = (await issue(client))["order_id"]
    probe = await bus_probe("order.feedback.#")
    r = await feedback(client, oid, "arrived", "2026-11-23T02:12:00+00:00")  # no ack first
    assert r.json()["implied"] == ["delivered", "acknowledged"]
    await probe.take(1)
    r = await feedback(client, oid, "arrived", "2026-11-23T02:13:00+00:00")  # SMS + app both
    assert r.status_code == 200 and r.json()["outcome"] == "duplicate"
    r = await feedback(client, oid, "acknowledged", "2026-11-23T02:01:00+00:00")  # late receipt
    assert r.status_code == 200 and r.json()["reason"] == "already-past"
    r = await feedback(client, oid, "completed", "2026-11-23T02:40:00+00:00", feedback_id="F-1")
    r2 = await feedback(client, oid, "completed", "2026-11-23T02:40:00+00:00", feedback_id="F-1")
    assert r.json()["outcome"] == "applied" and r2.json()["reason"] == "same-feedback"
    assert len(await probe.take(1)) == 1
    await probe.assert_nothing(within=0.3)
    got = (await client.get(f"/v1/orders/{oid}")).json()
    assert [(h["kind"], h["implied"]) for h in got["history"]][1:] == [
        ("delivered", True), ("acknowledged", True), ("arrived", False), ("completed", False),
    ]
    timers = await OrderStore(redis, settings).timers(oid)
    assert set(timers) == {f"{oid}|report|warning", f"{oid}|report|breached"}


async def test_impossible_transition_is_409_and_changes_nothing(
    client: httpx.AsyncClient, bus_probe: Probe
) -> None:
    oid = (await issue(client))["order_id"]
    assert (await feedback(client, oid, "cancelled", "2026-11-23T02:03:00+00:00")).status_code == 200
    before = (await client.get(f"/v1/orders/{oid}")).json()
    probe = await bus_probe("order.#")
    r = await feedback(client, oid, "arrived", "2026-11-23T02:10:00+00:00")
    assert (r.status_code, r.json()["detail"]) == (409, "order-cancelled")
    r = await feedback(client, oid, "reinforcement", "2026-11-23T02:10:00+00:00")
    assert r.status_code == 409
    await probe.assert_nothing(within=0.3)
    assert (await client.get(f"/v1/orders/{oid}")).json() == before
    r = await feedback(client, "01NOPE", "arrived", "2026-11-23T02:10:00+00:00")
    assert (r.status_code, r.json()["detail"]) == (404, "order-not-found")


async def test_handed_over_then_reported(client: httpx.AsyncClient, redis: Redis, settings: Settings) -> None:
    oid = (await issue(client, unit_id="ls-police"))["order_id"]
    r = await feedback(client, oid, "handed_over", "2026-11-23T02:20:00+00:00")
    assert (r.status_code, r.json()["detail"]) == (422, "handed-to-unit-required")
    r = await feedback(
        client, oid, "handed_over", "2026-11-23T02:20:00+00:00", handed_to_unit="ls-fire",
        note="消防到场后移交",
    )
    assert r.json()["state"] == "handed_over" and r.json()["implied"] == [
        "delivered", "acknowledged", "arrived",
    ]
    assert (await feedback(client, oid, "completed", "2026-11-23T02:30:00+00:00")).status_code == 409
    assert set(await OrderStore(redis, settings).timers(oid)) == {
        f"{oid}|report|warning", f"{oid}|report|breached",
    }
    r = await feedback(client, oid, "report", "2026-11-23T05:00:00+00:00")
    assert r.json()["state"] == "reported"
    assert await OrderStore(redis, settings).timers(oid) == {}


async def test_escalated_closes_the_order_and_its_timers(
    client: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    body = await issue(client)
    oid = body["order_id"]
    r = await feedback(client, oid, "reinforcement", "2026-11-23T02:05:00+00:00", note="需增援")
    assert r.json()["state"] == "issued" and r.json()["order"]["reinforcements"] == 1
    r = await feedback(client, oid, "escalated", "2026-11-23T02:06:00+00:00", by="值班长")
    assert r.json()["state"] == "escalated"
    store = OrderStore(redis, settings)
    assert await store.timers(oid) == {}
    assert await store.id_by_code(body["code"]) is None  # the code is free again


async def test_repeated_order_id_is_idempotent(client: httpx.AsyncClient, bus_probe: Probe) -> None:
    probe = await bus_probe("order.issued")
    first = await issue(client, order_id="CC-ORDER-1")
    r = await client.post(
        "/v1/orders",
        json={"incident_id": "INC-1", "unit_id": "ls-fire", "instructions": "again",
              "order_id": "CC-ORDER-1"},
    )
    assert r.status_code == 200 and r.json()["code"] == first["code"]
    r = await client.post(
        "/v1/orders",
        json={"incident_id": "INC-OTHER", "unit_id": "ls-fire", "instructions": "x",
              "order_id": "CC-ORDER-1"},
    )
    assert (r.status_code, r.json()["detail"]) == (409, "order-id-in-use")
    await probe.take(1)
    await probe.assert_nothing(within=0.3)


async def test_broker_down_nothing_lost_outbox_publishes_later(
    directory: object, app_factory: Callable[..., Awaitable[Any]], bus_probe: Probe,
    redis: Redis, settings: Settings, publisher: Publisher,
) -> None:
    app, c = await app_factory()
    app.state.publisher = None  # the broker is down for this API process
    probe = await bus_probe("order.#")
    body = await issue(c)
    r = await feedback(c, body["order_id"], "acknowledged", "2026-11-23T02:01:00+00:00")
    assert r.status_code == 200
    await probe.assert_nothing(within=0.3)
    outbox = Outbox(redis, settings)
    assert await outbox.pending() == 2
    assert await outbox.drain(publisher, min_age_s=0) == 2  # what a drainer does later
    keys = sorted(k for k, _ in await probe.take_with_keys(2))
    assert keys == ["order.feedback.acknowledged", "order.issued"]
    assert await outbox.pending() == 0


async def test_tier3_order_outside_working_hours_is_issued_with_a_note(
    client: httpx.AsyncClient,
) -> None:
    # Sunday 2026-11-22 03:00 Asia/Shanghai: the development commission's office is closed
    night = await issue(client, unit_id="ls-ndrc", issued_at="2026-11-21T19:00:00+00:00")
    assert night["history"][0]["note"] == "outside-working-hours"
    day = await issue(client, unit_id="ls-ndrc", issued_at="2026-11-23T02:00:00+00:00")
    assert day["history"][0]["note"] is None
