"""The durable spool: accepted while the broker is down, published once it is back."""

from __future__ import annotations

from pathlib import Path

from bus.publisher import Publisher
from bus.spool import Spool
from contracts import Alert, make_event, utcnow
from gateway.settings import Settings
from tests.conftest import BusProbe


async def test_spooled_events_survive_a_restart_and_publish_in_order(
    settings: Settings, publisher: Publisher, bus_probe: BusProbe, tmp_path: Path
) -> None:
    probe = await bus_probe("alert.#")  # type: ignore[operator]
    events = [
        make_event(Alert(channel="sms", received_at=utcnow(), text=f"#{i}"), source="/t")
        for i in range(5)
    ]
    down = Spool(tmp_path, None)  # broker unreachable: no publisher at all
    for event in events:
        assert await down.publish_or_spool(event) is False
    await down.publish_or_spool(events[0])  # a peer's retry of the same event: kept once
    assert down.depth() == 5
    # a new process on the same host finds the spool and drains it
    back = Spool(tmp_path, publisher)
    assert await back.drain_once() == 5
    assert back.depth() == 0
    got = await probe.take(5)
    assert [e.id for e in got] == [e.id for e in events]
    await probe.assert_nothing(0.3)


async def test_publish_or_spool_publishes_directly_when_broker_is_up(
    settings: Settings, publisher: Publisher, bus_probe: BusProbe, tmp_path: Path
) -> None:
    probe = await bus_probe("alert.#")  # type: ignore[operator]
    spool = Spool(tmp_path, publisher)
    event = make_event(Alert(channel="wechat", received_at=utcnow(), text="x"), source="/t")
    assert await spool.publish_or_spool(event) is True
    assert spool.depth() == 0
    assert (await probe.take(1))[0].id == event.id


async def test_a_burst_spooled_together_is_kept_whole_and_drained_in_order(
    settings: Settings, publisher: Publisher, bus_probe: BusProbe, tmp_path: Path
) -> None:
    """300 webhooks spooling at once (group commit) while the broker is away; the drainer
    sends them back in their order, pipelined, in one pass; then the fast path resumes."""
    import asyncio

    probe = await bus_probe("alert.#")  # type: ignore[operator]
    events = [
        make_event(Alert(channel="sms", received_at=utcnow(), text=f"#{i}"), source="/t")
        for i in range(300)
    ]
    spool = Spool(tmp_path, None)
    results = await asyncio.gather(*(spool.publish_or_spool(e) for e in events))
    assert results == [False] * 300 and spool.depth() == 300
    spool.set_publisher(publisher)
    late = make_event(Alert(channel="sms", received_at=utcnow(), text="late"), source="/t")
    assert await spool.publish_or_spool(late) is False  # queues behind the backlog
    assert await spool.drain_once(batch=120) == 301  # 3 batches, one call
    assert spool.depth() == 0
    got = await probe.take(301, timeout=20)
    assert [e.id for e in got] == [e.id for e in events] + [late.id]
    after = make_event(Alert(channel="sms", received_at=utcnow(), text="after"), source="/t")
    assert await spool.publish_or_spool(after) is True  # the backlog is gone: direct again
    assert (await probe.take(1))[0].id == after.id
    await probe.assert_nothing(0.3)
