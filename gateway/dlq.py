"""Dead-letter queues: let an operator see what failed and why, and send it again.

Every consumer queue `Q` has `Q.dlq`; a dead-lettered message keeps its body and
`message_id` and carries the reason (`x-death-reason`, `x-death-detail`) and the queue it
came from (`x-original-queue`). Listing reads the messages without removing them (they
stay unacknowledged while read, then return to the queue). Replay publishes a copy
straight to the original queue — not to the exchange, which would fan it out to every
other consumer again — with the same message id, so the consumer's idempotency guard and
the centre's `Idempotency-Key` see the same key: a replayed message takes effect once.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from bus.connection import open_robust_connection
from bus.consumer import (
    ATTEMPTS_HEADER,
    DETAIL_HEADER,
    QUEUE_HEADER,
    REASON_HEADER,
    ROUTING_KEY_HEADER,
)
from bus.publisher import Publisher
from contracts import utcnow
from gateway.observability.queues import DepthsUnavailable, list_queues
from gateway.settings import Settings
from gateway.topology import QUEUES

DLQ_SUFFIX = ".dlq"
KNOWN_QUEUES = [q.name for q in QUEUES]  # the topology's work queues, if no management API
_DROP_ON_REPLAY = (
    ATTEMPTS_HEADER, REASON_HEADER, DETAIL_HEADER, "x-last-error", "x-death", "x-first-death-queue",
    "x-first-death-reason", "x-first-death-exchange", "x-last-death-queue", "x-last-death-reason",
    "x-last-death-exchange",
)


class DlqError(RuntimeError):
    """A DLQ operation that could not be done (message says what and where)."""


@dataclass(frozen=True)
class ReplayResult:
    """What was sent again, and which requested ids were not found."""

    replayed: list[DeadLetter]
    missing: list[str]


@dataclass(frozen=True)
class DeadLetter:
    """What an operator needs to decide about one dead-lettered message."""

    id: str
    dlq: str
    queue: str
    reason: str
    detail: str
    attempts: int
    routing_key: str
    type: str
    subject: str | None
    status: str | None
    size: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dlq_name(queue: str) -> str:
    return queue if queue.endswith(DLQ_SUFFIX) else queue + DLQ_SUFFIX


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _describe(dlq: str, message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    subject = status = None
    event_id = message.message_id
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        body = json.loads(message.body)
        if isinstance(body, dict):
            subject = body.get("subject")
            status = body.get("status")
            event_id = event_id or body.get("id")
    attempts = headers.get(ATTEMPTS_HEADER, 0)
    return DeadLetter(
        id=_text(event_id),
        dlq=dlq,
        queue=_text(headers.get(QUEUE_HEADER)) or dlq.removesuffix(DLQ_SUFFIX),
        reason=_text(headers.get(REASON_HEADER)) or "unknown",
        detail=_text(headers.get(DETAIL_HEADER)),
        attempts=attempts if isinstance(attempts, int) else 0,
        routing_key=_text(headers.get(ROUTING_KEY_HEADER)),
        type=_text(message.type),
        subject=subject if isinstance(subject, str) else None,
        status=status if isinstance(status, str) else None,
        size=len(message.body),
    )


async def _management_dlqs(settings: Settings) -> list[str]:
    """DLQ names from the RabbitMQ management API (LINKGATE_RABBITMQ_MGMT_URL), if reachable."""
    try:
        queues = await list_queues(settings, timeout_s=3.0)
    except DepthsUnavailable:
        return []
    return sorted(q.name for q in queues if q.name.endswith(DLQ_SUFFIX))


async def dlq_names(settings: Settings, queue: str | None) -> list[str]:
    """The DLQs to look at: the one asked for, or every one the broker knows."""
    if queue:
        return [dlq_name(queue)]
    found = await _management_dlqs(settings)
    return found or [dlq_name(q) for q in KNOWN_QUEUES]


async def _each(
    connection: AbstractRobustConnection, dlq: str, limit: int
) -> tuple[aio_pika.abc.AbstractChannel | None, list[AbstractIncomingMessage]]:
    """Fetch up to `limit` messages unacknowledged (they return when the channel closes)."""
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=0)
    try:
        queue = await channel.declare_queue(dlq, passive=True)
    except aio_pika.exceptions.ChannelClosed:
        return None, []
    messages: list[AbstractIncomingMessage] = []
    while len(messages) < limit:
        message = await queue.get(no_ack=False, fail=False, timeout=5)
        if message is None:
            break
        messages.append(message)
    return channel, messages


async def list_dead_letters(
    settings: Settings, queue: str | None = None, limit: int = 1000
) -> list[DeadLetter]:
    """Describe the dead letters (oldest first) without removing any."""
    out: list[DeadLetter] = []
    connection = await open_robust_connection(settings.amqp_url)
    try:
        for dlq in await dlq_names(settings, queue):
            channel, messages = await _each(connection, dlq, limit)
            out.extend(_describe(dlq, m) for m in messages)
            if channel is not None:
                await channel.close()
    finally:
        await connection.close()
    return out


def _replay_copy(message: AbstractIncomingMessage, replays: int) -> aio_pika.Message:
    headers = {k: v for k, v in (message.headers or {}).items() if k not in _DROP_ON_REPLAY}
    headers["x-replayed-at"] = utcnow().isoformat()
    headers["x-replays"] = replays
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        headers=headers,
    )


async def replay_dead_letters(
    settings: Settings,
    *,
    queue: str | None = None,
    ids: set[str] | None = None,
    replay_all: bool = False,
    limit: int = 10_000,
) -> ReplayResult:
    """Send dead letters back to their queue (by id, or all); returns what was replayed.

    Each copy is confirmed by the broker before its dead letter is removed, so a crash
    in between can at worst replay a message twice — which the idempotency key absorbs.
    """
    if not replay_all and not ids:
        raise DlqError("say which messages: --id ID (repeatable) or --all")
    replayed: list[DeadLetter] = []
    connection = await open_robust_connection(settings.amqp_url)
    try:
        publisher = await Publisher.connect(settings)
    except BaseException:
        await connection.close()
        raise
    try:
        for dlq in await dlq_names(settings, queue):
            channel, messages = await _each(connection, dlq, limit)
            try:
                for message in messages:
                    info = _describe(dlq, message)
                    if not replay_all and info.id not in (ids or set()):
                        continue
                    raw = (message.headers or {}).get("x-replays", 0)
                    copy = _replay_copy(message, (raw if isinstance(raw, int) else 0) + 1)
                    await publisher.publish_to_queue(copy, info.queue)
                    await message.ack()
                    replayed.append(info)
            finally:
                if channel is not None:
                    await channel.close()
    finally:
        await publisher.close()
        await connection.close()
    missing = sorted((ids or set()) - {d.id for d in replayed}) if not replay_all else []
    return ReplayResult(replayed, missing)


# --------------------------------------------------------------------------- CLI bodies


def list_command(settings: Settings, queue: str | None, limit: int) -> int:
    """`linkgate dlq list`: one JSON line per dead letter; exit 0."""
    import asyncio

    letters = asyncio.run(list_dead_letters(settings, queue, limit))
    for letter in letters:
        print(json.dumps(letter.as_dict(), ensure_ascii=False))
    return 0


def replay_command(
    settings: Settings, queue: str | None, ids: list[str], replay_all: bool
) -> int:
    """`linkgate dlq replay`: one JSON line per replayed message; exit 1 if an id is
    not found, 2 if the request itself is wrong."""
    import asyncio
    import sys

    try:
        result = asyncio.run(
            replay_dead_letters(settings, queue=queue, ids=set(ids), replay_all=replay_all)
        )
    except DlqError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    for letter in result.replayed:
        print(json.dumps({"replayed": letter.id, "to": letter.queue, "reason": letter.reason}))
    for missing in result.missing:
        print(f"not found in the dead-letter queues: {missing}", file=sys.stderr)
    return 1 if result.missing else 0
