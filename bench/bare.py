"""Baselines: the least any gateway must do, measured on the same broker and Redis.

(a) `raw_publish`: raw aio-pika, persistent messages, publisher confirms, pipelined;
(b) `app` + `consumer`: a minimal FastAPI endpoint doing `SET NX` + a confirmed publish,
    and a minimal consumer that republishes each message with a confirm, then acks.

Configured by environment (`BARE_AMQP_URL`, `BARE_REDIS_URL`, `BARE_PREFIX`) so that
uvicorn and the consumer can run as their own processes:

    BARE_AMQP_URL=... uvicorn bench.bare:app --port 8181
    BARE_AMQP_URL=... python bench/bare.py consumer
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from redis.asyncio import Redis

IN_QUEUE = "bare.in"
OUT_QUEUE = "bare.out"
EXCHANGE = "bare.events"


async def declare(channel: aio_pika.abc.AbstractChannel) -> aio_pika.abc.AbstractExchange:
    exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
    q_in = await channel.declare_queue(IN_QUEUE, durable=True)
    await q_in.bind(exchange, routing_key="alert.received.*")
    q_out = await channel.declare_queue(OUT_QUEUE, durable=True)
    await q_out.bind(exchange, routing_key="alert.routed.*")
    return exchange


def _env() -> tuple[str, str, str]:
    return (
        os.environ["BARE_AMQP_URL"],
        os.environ.get("BARE_REDIS_URL", "redis://127.0.0.1:6379/0"),
        os.environ.get("BARE_PREFIX", "bare"),
    )


# --------------------------------------------------------------------------- (b) the API


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    amqp_url, redis_url, prefix = _env()
    app.state.redis = Redis.from_url(redis_url)
    app.state.prefix = prefix
    app.state.connection = await aio_pika.connect_robust(amqp_url)
    channel = await app.state.connection.channel(publisher_confirms=True)
    app.state.exchange = await declare(channel)
    try:
        yield
    finally:
        await app.state.connection.close()
        await app.state.redis.aclose()


app = FastAPI(lifespan=lifespan)


@app.post("/alert")
async def alert(request: Request) -> Response:
    body = await request.body()
    alert_id = request.headers.get("x-id") or str(time.time_ns())
    key = f"{app.state.prefix}:idem:{alert_id}"
    if not await app.state.redis.set(key, b"1", nx=True, ex=3600):
        return Response(b"dup", status_code=200)
    try:
        await app.state.exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             message_id=alert_id),
            routing_key="alert.received.api",
            mandatory=True,
        )
    except Exception as exc:
        await app.state.redis.delete(key)
        raise HTTPException(503, detail="publish-failed") from exc
    return Response(b"ok", status_code=202)


# --------------------------------------------------------------------------- (b) the consumer


async def consumer(prefetch: int = 256) -> None:
    amqp_url, _, _ = _env()
    connection = await aio_pika.connect_robust(amqp_url)
    out_channel = await connection.channel(publisher_confirms=True)
    exchange = await declare(out_channel)
    in_channel = await connection.channel()
    await in_channel.set_qos(prefetch_count=prefetch)
    queue = await in_channel.declare_queue(IN_QUEUE, durable=True)

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await exchange.publish(
            aio_pika.Message(message.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             message_id=message.message_id),
            routing_key="alert.routed.command-centre",
            mandatory=True,
        )
        await message.ack()

    await queue.consume(on_message)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await connection.close()


# --------------------------------------------------------------------------- (a) raw publishing


async def raw_publish(amqp_url: str, n: int, inflight: int, size: int = 1200) -> dict[str, Any]:
    """Persistent, confirmed, `inflight` publishes outstanding at a time."""
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue("bare.raw", durable=True)
        await queue.purge()
        body = b"x" * size
        sem = asyncio.Semaphore(inflight)

        async def one(i: int) -> None:
            async with sem:
                await channel.default_exchange.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                     message_id=str(i)),
                    routing_key="bare.raw",
                )

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        elapsed = time.perf_counter() - t0
        check = await channel.declare_queue("bare.raw", durable=True, passive=True)
        count = check.declaration_result.message_count
        await queue.delete(if_unused=False, if_empty=False)
        return {"messages": n, "inflight": inflight, "body_bytes": size,
                "confirmed_in_queue": count, "seconds": round(elapsed, 3),
                "msgs_per_s": round(n / elapsed)}
    finally:
        await connection.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["consumer"]:
        asyncio.run(consumer())
    else:
        raise SystemExit("usage: bare.py consumer")
