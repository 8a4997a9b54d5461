"""End-to-end routing: alerts/s and latency from publish to the centre's HTTP receiver.

A fresh RabbitMQ vhost and Redis prefix; the real `Router` (classify consumer + one
delivery consumer per centre, idempotency in Redis, confirms); a local HTTP receiver
(uvicorn, its own process) standing in for the four centres. Alerts (the labelled texts)
are published with confirms, `--inflight` at a time; latency is publish start → the POST
for that alert reaching its destination centre. Every alert must reach the command centre
once and its own centre once: the run fails loudly otherwise.

Run: `.venv/bin/python bench/bench_router.py [--alerts 2000] [--inflight 100]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import socket
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from bus.publisher import Publisher  # noqa: E402
from contracts import Alert, Channel, make_event, utcnow  # noqa: E402
from gateway.routing.pipeline import Router, routed_event_id  # noqa: E402
from gateway.routing.reload import RulesHolder  # noqa: E402
from gateway.settings import load_settings  # noqa: E402
from tests.conftest import _create_vhost, _delete_prefix, _delete_vhost  # noqa: E402

CENTRES = {"command-centre": "cc", "12345": "hotline", "maritime-sar": "msa",
           "ocean-fishery": "fishery"}


class Receiver:
    """The four centres in a separate process (so it does not share the router's CPU or
    GIL); it appends `centre key monotonic-time` for every accepted POST to a file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(str(log), self.port), daemon=True
        )

    def start(self) -> None:
        self.log.write_text("")
        self.process.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("receiver did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)

    def received(self) -> list[tuple[str, str, float]]:
        out = []
        for line in self.log.read_text().splitlines():
            centre, key, at = line.split()
            out.append((centre, key, float(at)))
        return out


def _serve(log_path: str, port: int) -> None:
    fh = open(log_path, "a", buffering=1)

    async def alerts(request: Request) -> Response:
        body = await request.body()
        key = request.headers["Idempotency-Key"]
        assert json.loads(body)["id"] == key
        fh.write(f"{request.path_params['centre']} {key} {time.monotonic()}\n")
        return Response(status_code=202)

    app = Starlette(routes=[Route("/{centre}/alerts", alerts, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(alerts: int, inflight: int) -> dict[str, Any]:
    texts = [json.loads(line) for f in ("dev", "heldout")
             for line in (ROOT / "tests/routing/data" / f"{f}.jsonl").open(encoding="utf-8")]
    rng = random.Random(3)
    engine = RulesHolder().engine
    tag = uuid.uuid4().hex[:10]
    receiver = Receiver(Path(f"/tmp/lgbench-router-{tag}.log"))
    receiver.start()
    port = receiver.port
    vhost = f"lgbench-router-{tag}"
    await _create_vhost(vhost)
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        amqp_url=f"amqp://guest:guest@127.0.0.1:5672/{quote(vhost, safe='')}",
        redis_prefix=f"lgbench:{tag}", prefetch=64, log_level="WARNING",
        command_centre_url=f"{base}/cc/", hotline_url=f"{base}/hotline/",
        maritime_sar_url=f"{base}/msa/", ocean_fishery_url=f"{base}/fishery/",
    )
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    redis = Redis.from_url(settings.redis_url)
    router = Router(settings, redis, RulesHolder())
    await router.start()
    publisher = await Publisher.connect(settings)
    started: dict[str, float] = {}
    expected: dict[str, str] = {}
    try:
        sem = asyncio.Semaphore(inflight)

        async def one(row: dict[str, str]) -> None:
            alert = Alert(channel=Channel(row["channel"]), received_at=utcnow(), text=row["text"],
                          caller="13800138000")
            event = make_event(alert, source="/bench", subject=alert.incident_id)
            rid = routed_event_id(event.id)
            async with sem:
                started[rid] = time.monotonic()
                await publisher.publish(event)
            expected[rid] = engine.classify_alert(alert).destination.value

        t0 = time.monotonic()
        c0 = time.process_time()
        await asyncio.gather(*(one(rng.choice(texts)) for _ in range(alerts)))
        publish_s = time.monotonic() - t0
        want = sum(1 if d == "command-centre" else 2 for d in expected.values())
        deadline = time.monotonic() + 120
        while len(receiver.received()) < want and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # anything duplicated would show up now
        received = receiver.received()
        cpu_s = time.process_time() - c0
    finally:
        await publisher.close()
        await router.stop()
        await _delete_prefix(redis, settings.redis_prefix)
        await redis.aclose()
        await _delete_vhost(vhost)
        receiver.stop()
        receiver.log.unlink(missing_ok=True)

    counts = Counter((c, k) for c, k, _ in received)
    dupes = sum(1 for n in counts.values() if n > 1)
    latencies: list[float] = []
    done_at = 0.0
    for centre, key, at in received:
        dest = expected.get(key)
        if dest is not None and CENTRES[dest] == centre:
            latencies.append((at - started[key]) * 1000)
            done_at = max(done_at, at)
    missing = want - len(counts)
    total_s = done_at - t0
    return {
        "alerts": alerts,
        "inflight": inflight,
        "deliveries_expected": want,
        "deliveries_received": len(received),
        "duplicates": dupes,
        "missing": missing,
        "publish_alerts_per_s": round(alerts / publish_s),
        "routed_delivered_alerts_per_s": round(alerts / total_s),
        "latency_ms_p50": round(statistics.median(latencies), 1),
        "latency_ms_p99": round(pct(latencies, 99), 1),
        "latency_ms_max": round(max(latencies), 1),
        "by_destination": dict(Counter(expected.values())),
        "wall_s": round(total_s, 2),
        "router_process_cpu_ms_per_alert": round(cpu_s / alerts * 1000, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--inflight", type=int, default=100)
    args = parser.parse_args()
    result = asyncio.run(run(args.alerts, args.inflight))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if result["duplicates"] or result["missing"]:
        raise SystemExit("lost or duplicated deliveries")


if __name__ == "__main__":
    main()
