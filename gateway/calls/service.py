"""Wiring for the `linkgate ami` process: the consumers and the duty-check loop it runs.

    calls = CallOrchestration(port=ami, redis=redis, settings=settings, emit=spool.publish_or_spool)
    runner = ConsumerRunner(settings, redis, [*other_specs, *calls.consumer_specs()])
    tasks.append(asyncio.create_task(calls.dutychecks.run_forever()))
"""

from __future__ import annotations

import random

from redis.asyncio import Redis

from adapters.ami.port import TelephonyPort
from bus.consumer import ConsumerSpec
from contracts.common import new_id, utcnow
from gateway.calls.dutycheck import Clock, DutyCheckRunner
from gateway.calls.emit import Emit
from gateway.calls.threeway import ThreeWayOrchestrator
from gateway.calls.transfer import TransferOrchestrator
from gateway.directory.store import DirectoryStore
from gateway.settings import Settings

THREEWAY_QUEUE = "calls.threeway"
TRANSFER_QUEUE = "calls.transfer"
HANGUP_QUEUE = "calls.threeway.hangups"


class CallOrchestration:
    """Everything the ami process does for call requests, sharing one instance id."""

    def __init__(
        self,
        *,
        port: TelephonyPort,
        redis: Redis,
        settings: Settings,
        emit: Emit,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        instance: str | None = None,
    ) -> None:
        instance = instance or new_id()
        directory = DirectoryStore(redis, settings)
        self.threeway = ThreeWayOrchestrator(
            port=port, redis=redis, settings=settings, directory=directory, emit=emit,
            clock=clock, instance=instance,
        )
        self.transfer = TransferOrchestrator(
            port=port, redis=redis, settings=settings, emit=emit, clock=clock, instance=instance
        )
        self.dutychecks = DutyCheckRunner(
            port=port, redis=redis, settings=settings, directory=directory, emit=emit,
            clock=clock, rng=rng, instance=instance,
        )

    def consumer_specs(self) -> list[ConsumerSpec]:
        """Queues of the ami process. Calls run long, so each queue takes many at once."""
        return [
            ConsumerSpec(
                THREEWAY_QUEUE, ["call.threeway.requested"], self.threeway.handle_request,
                prefetch=32,
            ),
            ConsumerSpec(
                TRANSFER_QUEUE, ["call.transfer.requested"], self.transfer.handle_request,
                prefetch=16,
            ),
            ConsumerSpec(HANGUP_QUEUE, ["call.event.hangup"], self.threeway.handle_call_event),
        ]
