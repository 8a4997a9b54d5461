"""Every durable work queue of the gateway and what it is bound to, in one place.

The API declares them all when it starts (and so does any process through its own
consumers), so an alert that arrives before its consumer first ran is queued, never
refused as unroutable: a webhook peer like Twilio does not retry, and a refused alert
would be a lost one. `tests/foundation/test_cli_and_processes.py` checks this list
against what each process really declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from aio_pika.abc import AbstractRobustConnection

from bus.topology import declare_consumer_queue
from gateway.routing.pipeline import NOTICE_BINDINGS
from gateway.settings import Settings


@dataclass(frozen=True)
class QueueDecl:
    name: str
    bindings: tuple[str, ...]
    process: str  # which `linkgate` process consumes it
    predeclare: bool = True  # False: only its consumer declares it (see the calls below)


QUEUES: tuple[QueueDecl, ...] = (
    # linkgate router: classify, then deliver every decision to the command centre
    # (12345 and the sea centres are served by `sla`'s exchanges below; a centre put in
    # LINKGATE_DIRECT_DELIVERY gets a `deliver.<id>` queue of its own from the router)
    QueueDecl("router.classify", ("alert.received.*",), "router"),
    QueueDecl("deliver.command-centre", ("alert.routed.*",), "router"),
    QueueDecl("notify.command-centre", tuple(NOTICE_BINDINGS), "router"),
    # linkgate channels: orders out by SMS / WeCom, fall back on failed delivery
    QueueDecl("channels.orders", ("order.issued",), "channels"),
    QueueDecl(
        "channels.delivery-failures",
        ("order.delivery.failed", "order.delivery.undelivered"),
        "channels",
    ),
    QueueDecl("channels.reminders", ("order.sla.warning",), "channels"),
    # linkgate sla: order lifecycle, exchanges with 12345 and the sea centres, duty checks
    QueueDecl("orders.issued", ("order.issued",), "sla"),
    QueueDecl("orders.feedback", ("order.feedback.#",), "sla"),
    QueueDecl("exchanges.hotline", ("alert.routed.12345",), "sla"),
    QueueDecl(
        "exchanges.sea", ("alert.routed.maritime-sar", "alert.routed.ocean-fishery"), "sla"
    ),
    QueueDecl("supervision.dutycheck", ("dutycheck.result.#",), "sla"),
    # linkgate ami: call commands from the API. Not declared ahead: a three-way call or a
    # transfer is wanted now or never, so with no ami process running the API refuses it
    # (503) instead of queueing it to ring a duty room minutes after the caller is gone.
    QueueDecl("calls.threeway", ("call.threeway.requested",), "ami", predeclare=False),
    QueueDecl("calls.transfer", ("call.transfer.requested",), "ami", predeclare=False),
    QueueDecl("calls.threeway.hangups", ("call.event.hangup",), "ami", predeclare=False),
)


async def declare_all(connection: AbstractRobustConnection, settings: Settings) -> None:
    """Declare every work queue meant to exist ahead of its consumer; idempotent."""
    channel = await connection.channel()
    try:
        for queue in (q for q in QUEUES if q.predeclare):
            await declare_consumer_queue(channel, settings, queue.name, queue.bindings)
    finally:
        await channel.close()
