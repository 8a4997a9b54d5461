"""The router end to end on the real broker and Redis; `respx` stands in for the centres.

What a peer sees: `alert.routed.<destination>` on the exchange, and at each centre exactly
one accepted POST per alert (the command centre one for every alert), retried on 5xx and
timeouts, dead-lettered when it keeps failing, delivered once when replayed.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from redis.asyncio import Redis

from adapters.platforms import CentreAdapter, CentreConfig, PlatformClient, RetryPolicy
from bus.publisher import Publisher
from contracts import Alert, Channel, Destination, EventStatus, make_event, utcnow
from contracts.envelope import CloudEvent
from gateway.dlq import list_dead_letters, replay_dead_letters
from gateway.routing.pipeline import Router, delivery_queue
from gateway.routing.reload import RulesHolder
from gateway.settings import Settings

URLS = {
    Destination.COMMAND_CENTRE: "http://command-centre.test/v1/",
    Destination.HOTLINE_12345: "http://hotline.test/",
    Destination.MARITIME_SAR: "http://msa.test/",
    Destination.OCEAN_FISHERY: "http://fishery.test/",
}
ALL_ROUTED = "alert.routed.#"


async def until(cond: Callable[[], bool], timeout: float = 8.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)


@pytest.fixture
def centres() -> Iterator[dict[Destination, respx.Route]]:
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        yield {d: mock.post(f"{url}alerts", name=d.value).respond(202) for d, url in URLS.items()}


def adapters(attempts: int = 1) -> dict[Destination, CentreAdapter]:
    out = {}
    for dest, url in URLS.items():
        config = CentreConfig(dest, url, timeout_s=0.3, attempts=attempts)
        client = PlatformClient(
            dest.value, url, timeout_s=0.3,
            retry=RetryPolicy(attempts=attempts, base_delay_s=0.01, max_delay_s=0.02),
        )
        out[dest] = CentreAdapter(config, client)
    return out


@pytest.fixture
async def start_router(
    settings: Settings, redis: Redis
) -> AsyncIterator[Callable[..., Awaitable[Router]]]:
    routers: list[Router] = []

    async def make(holder: RulesHolder | None = None) -> Router:
        router = Router(settings, redis, holder or RulesHolder(), adapters())
        await router.start()
        routers.append(router)
        return router

    try:
        yield make
    finally:
        for router in routers:
            await router.stop()


def alert_event(text: str, channel: Channel = Channel.SMS, **kw: Any) -> CloudEvent:
    alert = Alert(channel=channel, received_at=utcnow(), text=text, caller="13800138000")
    return make_event(alert, source="/test", subject=alert.incident_id, **kw)


def accepted(route: respx.Route) -> list[httpx.Request]:
    return [
        c.request for c in route.calls
        if c.optional_response is not None and c.optional_response.is_success
    ]


async def test_each_destination_gets_exactly_one_delivery(
    start_router: Callable[..., Awaitable[Router]],
    publisher: Publisher,
    bus_probe: Callable[..., Awaitable[Any]],
    centres: dict[Destination, respx.Route],
) -> None:
    probe = await bus_probe(ALL_ROUTED)
    await start_router()
    events = {
        Destination.HOTLINE_12345: alert_event("路灯坏了好几天了"),
        Destination.COMMAND_CENTRE: alert_event("有人掉河里了", Channel.CALL),
        Destination.OCEAN_FISHERY: alert_event(
            "渔船进水了", Channel.WECHAT, status=EventStatus.EXERCISE
        ),
        Destination.MARITIME_SAR: alert_event("货轮在航道搁浅", Channel.API),
    }
    for event in events.values():
        await publisher.publish(event)
    await publisher.publish(events[Destination.HOTLINE_12345])  # a peer's retry: same id

    seen = await probe.take_with_keys(4)
    assert sorted(k for k, _ in seen) == sorted(f"alert.routed.{d.value}" for d in events)
    await until(lambda: len(centres[Destination.COMMAND_CENTRE].calls) >= 4)
    await asyncio.sleep(0.5)  # anything extra would arrive now
    await probe.assert_nothing(0.1)

    cc = accepted(centres[Destination.COMMAND_CENTRE])
    assert len(cc) == 4  # every decision, including those sent elsewhere
    for dest in (Destination.HOTLINE_12345, Destination.MARITIME_SAR, Destination.OCEAN_FISHERY):
        got = accepted(centres[dest])
        assert len(got) == 1, dest
        body = json.loads(got[0].content)
        assert body["data"]["decision"]["destination"] == dest.value
        assert body["subject"] == body["data"]["alert"]["incident_id"]
        assert got[0].headers["Idempotency-Key"] == body["id"]
    fishery = json.loads(accepted(centres[Destination.OCEAN_FISHERY])[0].content)
    assert fishery["status"] == "exercise"  # a drill stays a drill
    keys = {r.headers["Idempotency-Key"] for r in cc}
    assert len(keys) == 4


async def test_retries_on_5xx_and_timeouts_then_delivers_once(
    start_router: Callable[..., Awaitable[Router]],
    publisher: Publisher,
    centres: dict[Destination, respx.Route],
) -> None:
    centres[Destination.HOTLINE_12345].mock(
        side_effect=[httpx.Response(503), httpx.ReadTimeout("slow"), httpx.Response(200)]
    )
    await start_router()
    await publisher.publish(alert_event("咨询一下社保转移"))
    hotline = centres[Destination.HOTLINE_12345]
    await until(lambda: len(accepted(hotline)) == 1)
    await asyncio.sleep(0.4)
    assert hotline.call_count == 3 and len(accepted(hotline)) == 1
    assert len({c.request.headers["Idempotency-Key"] for c in hotline.calls}) == 1


async def test_gives_up_to_dlq_and_replay_delivers_once(
    settings: Settings,
    start_router: Callable[..., Awaitable[Router]],
    publisher: Publisher,
    centres: dict[Destination, respx.Route],
) -> None:
    msa = centres[Destination.MARITIME_SAR]
    msa.respond(500)
    await start_router()
    await publisher.publish(alert_event("有人从轮渡上掉到海里了", Channel.CALL))
    queue = delivery_queue(Destination.MARITIME_SAR)

    letters: list[Any] = []

    async def dead() -> bool:
        letters[:] = await list_dead_letters(settings, queue)
        return bool(letters)

    async with asyncio.timeout(8):
        while not await dead():
            await asyncio.sleep(0.1)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.reason == "max-attempts" and "http-500" in letter.detail
    assert letter.queue == queue
    assert msa.call_count == settings.max_attempts
    # the command centre was not held up by the dead sea centre
    assert len(accepted(centres[Destination.COMMAND_CENTRE])) == 1
    # listing does not remove
    assert len(await list_dead_letters(settings, queue)) == 1

    msa.respond(202)
    result = await replay_dead_letters(settings, queue=queue, ids={letter.id})
    assert [d.id for d in result.replayed] == [letter.id] and not result.missing
    await until(lambda: len(accepted(msa)) == 1)
    await asyncio.sleep(0.4)
    assert len(accepted(msa)) == 1
    assert accepted(msa)[0].headers["Idempotency-Key"] == letter.id
    assert await list_dead_letters(settings, queue) == []
    again = await replay_dead_letters(settings, queue=queue, ids={letter.id})
    assert again.missing == [letter.id]


async def test_refusal_is_dead_lettered_at_once(
    settings: Settings,
    start_router: Callable[..., Awaitable[Router]],
    publisher: Publisher,
    centres: dict[Destination, respx.Route],
) -> None:
    hotline = centres[Destination.HOTLINE_12345]
    hotline.respond(422, text="unknown category")
    await start_router()
    await publisher.publish(alert_event("楼上装修太吵了"))
    queue = delivery_queue(Destination.HOTLINE_12345)
    letters: list[Any] = []
    async with asyncio.timeout(8):
        while not letters:
            letters = await list_dead_letters(settings, queue)
            await asyncio.sleep(0.05)
    assert letters[0].reason == "rejected-422" and "unknown category" in letters[0].detail
    assert hotline.call_count == 1


RULES = """\
version: 1
rules:
  - id: lamp
    priority: 10
    destination: "12345"
    category: svc
    emergency: false
    when:
      any: [{phrase}]
"""


async def test_bad_rules_refused_routing_continues_on_old(
    tmp_path: Path,
    start_router: Callable[..., Awaitable[Router]],
    publisher: Publisher,
    bus_probe: Callable[..., Awaitable[Any]],
    centres: dict[Destination, respx.Route],
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.format(phrase="路灯"), encoding="utf-8")
    holder = RulesHolder(path)
    probe = await bus_probe(ALL_ROUTED)
    await start_router(holder)

    path.write_text(RULES.format(phrase="路灯") + "  - id: [broken\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert holder.check() is False
    assert holder.last_error is not None and "rules.yaml:" in holder.last_error

    await publisher.publish(alert_event("路灯坏了"))
    (key, event), = await probe.take_with_keys(1)
    assert key == "alert.routed.12345" and event.data["decision"]["rule"] == "lamp"

    path.write_text(RULES.format(phrase="垃圾"), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 2 * 10**9))
    assert holder.check() is True
    await publisher.publish(alert_event("路灯坏了"))
    (key, event), = await probe.take_with_keys(1)
    assert key == "alert.routed.command-centre" and event.data["decision"]["rule"] == "default"
