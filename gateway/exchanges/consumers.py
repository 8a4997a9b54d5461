"""The exchanges' bus consumers, run by `linkgate sla`."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from bus.consumer import ConsumerSpec
from bus.publisher import Publisher
from gateway.exchanges.hotline import Hotline
from gateway.exchanges.sea import SeaExchange
from gateway.settings import Settings


def exchange_specs(
    redis: Redis, settings: Settings, publisher_of: Callable[[], Publisher | None]
) -> list[ConsumerSpec]:
    hotline = Hotline(redis, settings, publisher_of)
    sea = SeaExchange(redis, settings, publisher_of)
    return [
        ConsumerSpec("exchanges.hotline", ["alert.routed.12345"], hotline.on_routed),
        ConsumerSpec(
            "exchanges.sea",
            ["alert.routed.maritime-sar", "alert.routed.ocean-fishery"],
            sea.on_routed,
        ),
    ]
