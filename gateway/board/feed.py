"""The board's bus feed: an exclusive, auto-delete queue that taps alerts and orders.

It must never change what the bus does. Publishers use `mandatory`, so a routing key with
no durable consumer queue is refused and the webhook answers 503 (the peer retries) rather
than losing the alert. A board queue bound to `alert.received.#` would make every such key
"routable" and hide that failure. So the feed binds exact keys only, and only those that a
durable, non-exclusive queue already takes (bindings read from the management API), re-checked
every `ops_refresh_s`; a key whose consumer queue disappears is unbound again.

It is a view: it consumes without acks and its queue is bounded. A lost link is shown on the
board at once ("feed down") and retried with backoff.
"""

from __future__ import annotations

import asyncio
import functools
from urllib.parse import quote

import httpx
import structlog
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage, AbstractQueue

from bus.connection import open_connection
from bus.topology import declare_exchanges
from contracts.common import Channel, Destination
from contracts.envelope import ContractError, parse_event
from contracts.order import FeedbackKind
from gateway.board.hub import BoardHub
from gateway.observability import metrics
from gateway.observability.queues import (
    DepthsUnavailable,
    amqp_vhost,
    list_queues,
    mgmt_client,
)
from gateway.settings import Settings

log = structlog.get_logger(__name__)

MAX_QUEUE = 10_000


def board_keys() -> list[str]:
    """Every routing key the board shows (contract v1), as exact keys."""
    from typing import get_args

    return [
        *(f"alert.received.{c.value}" for c in Channel),
        *(f"alert.routed.{d.value}" for d in Destination),
        "order.issued",
        *(f"order.feedback.{k}" for k in get_args(FeedbackKind)),
        "order.sla.warning",
        "order.sla.breached",
    ]


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: `*` is one word, `#` zero or more."""

    def match(p: list[str], k: list[str]) -> bool:
        if not p:
            return not k
        if p[0] == "#":
            return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
        return bool(k) and (p[0] == "*" or p[0] == k[0]) and match(p[1:], k[1:])

    return match(pattern.split("."), key.split("."))


async def routable_keys(settings: Settings, keys: list[str]) -> set[str]:
    """The keys some durable, non-exclusive queue is bound to on the events exchange."""
    durable = {q.name for q in await list_queues(settings) if not q.exclusive}
    base = str(settings.rabbitmq_mgmt_url).rstrip("/")
    vhost = quote(amqp_vhost(settings), safe="")
    url = f"{base}/api/exchanges/{vhost}/{quote(settings.exchange, safe='')}/bindings/source"
    try:
        async with mgmt_client(settings, 5) as http:
            response = await http.get(url)
            if response.status_code == 404:  # the exchange is not declared yet: nothing binds
                return set()
            response.raise_for_status()
            rows = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise DepthsUnavailable(f"management API {base}: {exc!r}") from exc
    patterns = [
        str(r["routing_key"])
        for r in rows
        if r.get("destination_type") == "queue" and r.get("destination") in durable
    ]
    return {k for k in keys if any(topic_matches(p, k) for p in patterns)}


def handle_message(hub: BoardHub, message: AbstractIncomingMessage) -> None:
    """Parse one delivery and fold it into the hub; a bad one is logged and counted."""
    try:
        event, model = parse_event(message.body)
    except ContractError as exc:
        metrics.OPS_REFRESH_ERRORS.labels("board-feed").inc()
        log.warning("board.bad_event", reason=exc.reason, routing_key=message.routing_key)
        return
    hub.apply(message.routing_key or "", event, model)


async def _sync_bindings(
    settings: Settings,
    hub: BoardHub,
    queue: AbstractQueue,
    events: AbstractExchange,
    bound: set[str],
) -> set[str]:
    """Bind newly routable keys, unbind keys that lost their consumer; show the result."""
    try:
        want = await routable_keys(settings, board_keys())
    except DepthsUnavailable as exc:  # cannot verify: keep what was verified before
        metrics.OPS_REFRESH_ERRORS.labels("board-bindings").inc()
        log.error("board.bindings_unverified", error=str(exc))
        want = bound
    for key in sorted(want - bound):
        await queue.bind(events, routing_key=key)
    for key in sorted(bound - want):
        await queue.unbind(events, routing_key=key)
    hub.tapped = sorted(want)
    if want:
        hub.set_feed("up")
    else:
        hub.set_feed("waiting", "no consumer queues bound yet (router/sla/channels not started?)")
    return want


async def run_feed(settings: Settings, hub: BoardHub, max_backoff_s: float = 10.0) -> None:
    """Consume until cancelled, reconnecting after any failure (the page shows the gap)."""
    delay = 0.5
    while True:
        try:
            connection = await open_connection(settings.amqp_url, timeout_s=5)
            try:
                closed = asyncio.ensure_future(connection.closed())
                channel = await connection.channel()
                await channel.set_qos(prefetch_count=512)
                events, _ = await declare_exchanges(channel, settings)
                queue = await channel.declare_queue(
                    exclusive=True,
                    auto_delete=True,
                    arguments={"x-max-length": MAX_QUEUE, "x-overflow": "drop-head"},
                )
                await queue.consume(functools.partial(_on_message, hub), no_ack=True)
                bound: set[str] = set()
                delay = 0.5
                while not closed.done():
                    bound = await _sync_bindings(settings, hub, queue, events, bound)
                    await asyncio.wait({closed}, timeout=settings.ops_refresh_s)
                raise ConnectionError("broker connection closed")
            finally:
                await connection.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            hub.set_feed("down", type(exc).__name__)
            log.error("board.feed_down", error=repr(exc), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)


async def _on_message(hub: BoardHub, message: AbstractIncomingMessage) -> None:
    handle_message(hub, message)
