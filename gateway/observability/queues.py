"""Queue and DLQ depths of this deployment's vhost.

The management API lists the queues (names, consumers, unacked), but its counters lag by
up to its statistics interval (5 s); so ready counts are read exactly by a passive declare
on the broker itself. Exclusive queues (board feeds, probes) belong to one connection and
are only listed.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httpx
from aio_pika.abc import AbstractChannel, AbstractRobustConnection

from bus.connection import open_robust_connection
from gateway.settings import Settings


class DepthsUnavailable(RuntimeError):
    """The management API did not answer: depths are unknown (never shown as zero)."""


@dataclass
class QueueDepth:
    """One queue's depth; `kind` is work, dlq or retry (from the topology's naming)."""

    name: str
    ready: int
    unacked: int
    consumers: int
    exclusive: bool = False
    exact: bool = False

    @property
    def kind(self) -> str:
        if self.name.endswith(".dlq"):
            return "dlq"
        if ".retry." in self.name:
            return "retry"
        return "work"

    @property
    def total(self) -> int:
        return self.ready + self.unacked


def amqp_vhost(settings: Settings) -> str:
    """The vhost named by the AMQP URL ('/' when the path is empty)."""
    path = urlsplit(settings.amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def amqp_credentials(settings: Settings) -> tuple[str, str]:
    """User and password of the AMQP URL (the management API takes the same)."""
    parts = urlsplit(settings.amqp_url)
    return unquote(parts.username or "guest"), unquote(parts.password or "guest")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: httpx would load the CA bundle again for every
    client, and the board and metrics poll the management API every few seconds."""
    return ssl.create_default_context()


def mgmt_client(settings: Settings, timeout_s: float) -> httpx.AsyncClient:
    """A client for the RabbitMQ management API (same credentials as the AMQP URL)."""
    return httpx.AsyncClient(
        auth=amqp_credentials(settings), timeout=timeout_s, verify=_tls_context()
    )


async def list_queues(settings: Settings, timeout_s: float = 5.0) -> list[QueueDepth]:
    """The vhost's queues from the management API (counts may lag a few seconds)."""
    base = str(settings.rabbitmq_mgmt_url).rstrip("/")
    url = f"{base}/api/queues/{quote(amqp_vhost(settings), safe='')}"
    params = {"columns": "name,messages_ready,messages_unacknowledged,consumers,exclusive"}
    try:
        async with mgmt_client(settings, timeout_s) as http:
            response = await http.get(url, params=params)
            response.raise_for_status()
            rows = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise DepthsUnavailable(f"management API {base}: {exc!r}") from exc
    return [
        QueueDepth(
            name=str(row["name"]),
            ready=int(row.get("messages_ready") or 0),
            unacked=int(row.get("messages_unacknowledged") or 0),
            consumers=int(row.get("consumers") or 0),
            exclusive=bool(row.get("exclusive")),
        )
        for row in rows
    ]


async def queue_depths(settings: Settings, timeout_s: float = 5.0) -> list[QueueDepth]:
    """Every queue of the vhost, ready counts made exact by a passive declare, sorted."""
    queues = await list_queues(settings, timeout_s)
    connection: AbstractRobustConnection | None = None
    try:
        connection = await open_robust_connection(settings.amqp_url, timeout_s=timeout_s)
        channel: AbstractChannel = await connection.channel()
        for queue in queues:
            if queue.exclusive:
                continue
            try:
                declared = await channel.declare_queue(queue.name, passive=True)
            except Exception:  # deleted meanwhile: the channel is closed, open another
                channel = await connection.channel()
                continue
            result = declared.declaration_result
            queue.ready = int(result.message_count or 0)
            queue.exact = True
    except Exception:
        pass  # keep the management API's (lagging) counts; `exact` stays False
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
    return sorted(queues, key=lambda q: q.name)
