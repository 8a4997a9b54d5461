"""`linkgate ami`: the AMI link, call events and inbound-call alerts onto the bus.

Also runs what needs the telephony port in this process (three-way calls, transfers,
duty checks: `gateway/calls/`). To add another such task, append one factory to
`TASKS` (or pass `extra_tasks`); each gets an `AmiContext` and runs until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from adapters.ami.bridge import CallBridge
from adapters.ami.client import AmiClient, AmiConfig, cancel_and_wait
from adapters.ami.telephony import AmiTelephony
from bus.publisher import Publisher
from bus.spool import Spool
from contracts.envelope import CloudEvent
from gateway.redis_client import connect_redis
from gateway.settings import Settings

log = logging.getLogger("linkgate.ami.process")

RECONCILE_INTERVAL_S = 300.0
PUBLISHER_RETRY_S = 5.0


@dataclass
class AmiContext:
    """What a task running inside the ami process gets."""

    settings: Settings
    redis: Redis
    client: AmiClient
    telephony: AmiTelephony
    emit: Callable[[CloudEvent], Awaitable[object]]
    spool: Spool


TaskFactory = Callable[[AmiContext], Awaitable[None]]


async def call_orchestration(ctx: AmiContext) -> None:
    """Three-way calls, transfers to 12345 and duty checks (gateway/calls)."""
    from gateway.calls.service import CallOrchestration
    from gateway.processes.common import run_consumers

    calls = CallOrchestration(
        port=ctx.telephony, redis=ctx.redis, settings=ctx.settings, emit=ctx.emit
    )
    await asyncio.gather(
        run_consumers(ctx.settings, calls.consumer_specs(), ctx.redis),
        calls.dutychecks.run_forever(),
    )


async def link_state(ctx: AmiContext) -> None:
    """The AMI link's state for `/metrics` and `linkgate status` (gateway/observability)."""
    from gateway.observability.ami_link import report_ami_link

    await report_ami_link(ctx)


TASKS: list[TaskFactory] = [call_orchestration, link_state]


async def _connect_publisher(settings: Settings, spool: Spool) -> Publisher:
    """Until the broker answers, events go to the durable spool; then publish directly."""
    while True:
        try:
            publisher = await Publisher.connect(settings)
        except Exception as exc:
            log.error("AMI process: broker unreachable (%r); spooling", exc)
            await asyncio.sleep(PUBLISHER_RETRY_S)
            continue
        spool.set_publisher(publisher)
        return publisher


async def run(
    settings: Settings,
    extra_tasks: Sequence[TaskFactory] | None = None,
    *,
    client_config: AmiConfig | None = None,
    reconcile_interval_s: float = RECONCILE_INTERVAL_S,
) -> None:
    """Run until cancelled. `extra_tasks` None means `TASKS`; pass [] to run the link alone."""
    redis = connect_redis(settings)
    spool = Spool(settings.spool_dir, None)
    emit = spool.publish_or_spool  # direct while the spool is empty, in order behind it
    client = AmiClient(client_config or AmiConfig.from_settings(settings))
    telephony = AmiTelephony(client)
    bridge = CallBridge(client, redis, settings, emit)
    ctx = AmiContext(settings, redis, client, telephony, emit, spool)
    publisher: Publisher | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        await redis.ping()
        try:
            publisher = await asyncio.wait_for(Publisher.connect(settings), PUBLISHER_RETRY_S)
            spool.set_publisher(publisher)
        except Exception as exc:
            log.error("AMI process: broker unreachable at start (%r); spooling", exc)
            tasks.append(asyncio.create_task(_late_publisher(settings, spool)))
        await client.start()
        tasks.append(asyncio.create_task(spool.run_drainer(), name="ami-spool-drainer"))
        tasks.append(asyncio.create_task(bridge.reconcile_every(reconcile_interval_s)))
        for factory in TASKS if extra_tasks is None else extra_tasks:
            tasks.append(asyncio.create_task(_guard(factory, ctx), name=f"ami-{factory.__name__}"))
        await asyncio.gather(*tasks)
    finally:
        await cancel_and_wait(tasks, grace_s=5.0)
        await client.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bridge.flush(), 10)  # what is in flight gets confirmed
        if publisher is not None:
            with contextlib.suppress(Exception):
                await publisher.close()
        await redis.aclose()


async def _late_publisher(settings: Settings, spool: Spool) -> None:
    await _connect_publisher(settings, spool)


async def _guard(factory: TaskFactory, ctx: AmiContext) -> None:
    """A task that fails is logged loudly and ends the process (restart, don't limp)."""
    try:
        await factory(ctx)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("AMI process task %s failed", factory.__name__)
        raise
