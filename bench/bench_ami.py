"""AMI throughput: the frame parser alone, parse+map, and parse+map+publish end to end.

    .venv/bin/python bench/bench_ami.py [--calls 500] [--rounds 20]

1. parser: the 11-burst capture (1 651 frames, 20 calls) fed in 64 KiB reads;
2. parse + map: the same, each frame through `to_call_event` / `inbound_call`;
3. end to end: the burst replayed `calls/20` times with renamed ids, interleaved so
   ~`calls` calls are live at once, sent by the fake AMI server over TCP to the real
   `AmiClient` + `CallBridge` (Redis exactly-once marks) publishing with confirms
   through the spool onto the real RabbitMQ; timed until the last event is confirmed,
   then the queue is counted (nothing lost, nothing twice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aio_pika  # noqa: E402
from redis.asyncio import Redis  # noqa: E402

from adapters.ami.bridge import CallBridge  # noqa: E402
from adapters.ami.client import AmiClient, AmiConfig  # noqa: E402
from adapters.ami.events import inbound_call, to_call_event  # noqa: E402
from adapters.ami.frame import Frame, FrameParser  # noqa: E402
from adapters.ami.transcript import read_transcript  # noqa: E402
from bus.publisher import Publisher  # noqa: E402
from bus.spool import Spool  # noqa: E402
from bus.topology import declare_exchanges  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from tests.ami.captures import capture_path  # noqa: E402
from tests.ami.fake_server import FakeAmi, call_events, rename_ids  # noqa: E402
from tests.conftest import _create_vhost, _delete_prefix, _delete_vhost  # noqa: E402

NUMBERS = frozenset({"110", "12345", "12110"})
CONTEXTS = frozenset({"from-trunk"})
CHUNK = 65536


def bench_parser(data: bytes, rounds: int) -> dict[str, float]:
    events = 0
    t0 = time.perf_counter()
    for _ in range(rounds):
        parser = FrameParser()
        for i in range(0, len(data), CHUNK):
            events += sum(f.kind == "event" for f in parser.feed(data[i : i + CHUNK]))
    dt = time.perf_counter() - t0
    return {"events": events, "seconds": dt, "events_per_s": events / dt,
            "mb_per_s": len(data) * rounds / dt / 1e6}


def bench_parse_map(data: bytes, rounds: int) -> dict[str, float]:
    events = mapped = 0
    t0 = time.perf_counter()
    for _ in range(rounds):
        parser = FrameParser()
        for i in range(0, len(data), CHUNK):
            for f in parser.feed(data[i : i + CHUNK]):
                if f.kind != "event":
                    continue
                events += 1
                if to_call_event(f, CONTEXTS) is not None:
                    mapped += 1
                inbound_call(f, numbers=NUMBERS, contexts=CONTEXTS)
    dt = time.perf_counter() - t0
    return {"events": events, "mapped": mapped, "seconds": dt, "events_per_s": events / dt}


def interleaved_calls(calls: int) -> list[Frame]:
    """`calls/20` renamed copies of the burst, merged so all their calls overlap."""
    burst = [f for _, f in call_events("11")]
    copies = [[rename_ids(f, f"c{k}") for f in burst] for k in range(max(1, calls // 20))]
    return [copies[k][i] for i in range(len(burst)) for k in range(len(copies))]


async def bench_end_to_end(calls: int, *, via_spool: bool = True) -> dict[str, float | int]:
    tag = uuid.uuid4().hex[:10]
    vhost = f"lgbench-{tag}"
    await _create_vhost(vhost)
    spool_dir = Path("/tmp") / f"lgbench-{tag}"
    settings = load_settings(
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}",
        redis_prefix=f"lgbench:{tag}", spool_dir=spool_dir, log_json=False,
    )
    redis = Redis.from_url(settings.redis_url)
    conn = await aio_pika.connect_robust(settings.amqp_url)
    fake = FakeAmi()
    frames = interleaved_calls(calls)
    expected = sum(to_call_event(f, CONTEXTS) is not None for f in frames)
    expected_alerts = sum(
        inbound_call(f, numbers=NUMBERS, contexts=CONTEXTS) is not None for f in frames
    )
    try:
        channel = await conn.channel()
        exchange, _ = await declare_exchanges(channel, settings)
        sink = await channel.declare_queue(f"bench-{tag}", auto_delete=False)
        await sink.bind(exchange, "call.event.#")
        await sink.bind(exchange, "alert.received.#")
        publisher = await Publisher.connect(settings)
        spool = Spool(spool_dir, publisher)
        await fake.start()
        client = AmiClient(
            AmiConfig("127.0.0.1", fake.port, "gw", "s3cret", queue_size=10_000)
        )
        emit = spool.publish_or_spool if via_spool else publisher.publish
        bridge = CallBridge(client, redis, settings, emit)
        await client.start()
        await client.wait_connected(5)
        while bridge.stats["reconciles"] < 1:
            await asyncio.sleep(0.01)
        wire = b"".join(f.to_bytes() for f in frames)
        t0 = time.perf_counter()
        await fake.send_raw(wire)
        sent = time.perf_counter() - t0
        while bridge.stats["published"] + bridge.stats["alerts"] < expected + expected_alerts:
            await asyncio.sleep(0.005)
            if time.perf_counter() - t0 > 600:
                raise TimeoutError("end-to-end bench did not finish in 10 min")
        dt = time.perf_counter() - t0
        await asyncio.sleep(0.5)
        under = await channel.get_underlay_channel()
        queued = await under.queue_declare(f"bench-{tag}", passive=True)
        await client.close()
        await publisher.close()
        await fake.stop()
        return {
            "calls": len(frames) and calls, "ami_events": len(frames), "published": expected,
            "alerts": expected_alerts, "seconds": dt, "send_seconds": sent,
            "ami_events_per_s": len(frames) / dt,
            "published_per_s": (expected + expected_alerts) / dt,
            "on_queue": queued.message_count or 0, "spooled": spool.depth(),
            "duplicates": bridge.stats["duplicates"], "via_spool": via_spool,
        }
    finally:
        await conn.close()
        await _delete_vhost(vhost)
        await _delete_prefix(redis, settings.redis_prefix)
        await redis.aclose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    data = read_transcript(capture_path("11")).received()
    results: dict[str, dict[str, float | int]] = {
        "parser": bench_parser(data, args.rounds),
        "parse_map": bench_parse_map(data, args.rounds),
        "end_to_end": asyncio.run(bench_end_to_end(args.calls)),
    }
    if args.json:
        print(json.dumps(results, indent=2))
        return
    p, m, e = results["parser"], results["parse_map"], results["end_to_end"]
    print(f"parser      {p['events_per_s']:>10,.0f} events/s  ({p['mb_per_s']:.1f} MB/s)")
    print(f"parse + map {m['events_per_s']:>10,.0f} events/s")
    print(
        f"end to end  {e['ami_events_per_s']:>10,.0f} AMI events/s, "
        f"{e['published_per_s']:,.0f} published/s "
        f"({e['ami_events']:,} AMI events of {args.calls} concurrent calls -> "
        f"{e['published']:,} call events + {e['alerts']} alerts in {e['seconds']:.2f} s; "
        f"on queue {e['on_queue']:,}, spooled {e['spooled']}, duplicates {e['duplicates']})"
    )


if __name__ == "__main__":
    main()
