"""Which orders are open for which mobile, and which order a short code names.

Shared with the orders capability: it calls `index_order` when an order is issued
and `unindex_order` when it is closed; the SMS dispatcher also indexes what it sends
(it knows the mobiles), so replies resolve even before the orders side does.

Keys (namespaced by `settings.key`):
- `chan:code`            hash  code → order id (open orders only)
- `chan:open:<mobile>`   hash  order id → code (a mobile's open orders)
- `chan:mobiles:<order>` set   mobiles indexed for the order (to unindex)
"""

from __future__ import annotations

from collections.abc import Iterable

from redis.asyncio import Redis

from contracts.order import Order
from gateway.settings import Settings


def _code_key(settings: Settings) -> str:
    return settings.key("chan", "code")


def _open_key(settings: Settings, mobile: str) -> str:
    return settings.key("chan", "open", mobile)


def _mobiles_key(settings: Settings, order_id: str) -> str:
    return settings.key("chan", "mobiles", order_id)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def index_order(
    redis: Redis, settings: Settings, order: Order, mobiles: Iterable[str]
) -> None:
    """Make `order` findable by its code and as open for each mobile (idempotent)."""
    mobiles = list(mobiles)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(_code_key(settings), order.code, order.order_id)
        for mobile in mobiles:
            pipe.hset(_open_key(settings, mobile), order.order_id, order.code)
        if mobiles:
            pipe.sadd(_mobiles_key(settings, order.order_id), *mobiles)
        await pipe.execute()


async def unindex_order(redis: Redis, settings: Settings, order_id: str, code: str) -> None:
    """Forget a closed order: its code no longer resolves, no mobile lists it."""
    mobiles = [_s(m) for m in await redis.smembers(_mobiles_key(settings, order_id))]
    async with redis.pipeline(transaction=True) as pipe:
        current = await redis.hget(_code_key(settings), code)
        if current is not None and _s(current) == order_id:
            pipe.hdel(_code_key(settings), code)
        for mobile in mobiles:
            pipe.hdel(_open_key(settings, mobile), order_id)
        pipe.delete(_mobiles_key(settings, order_id))
        await pipe.execute()


async def open_orders_for(redis: Redis, settings: Settings, mobile: str) -> list[tuple[str, str]]:
    """(order id, code) of the mobile's open orders, oldest first (ULIDs sort by time)."""
    raw = await redis.hgetall(_open_key(settings, mobile))
    return sorted((_s(k), _s(v)) for k, v in raw.items())


async def order_by_code(redis: Redis, settings: Settings, code: str) -> str | None:
    """The open order a short code names, if any."""
    raw = await redis.hget(_code_key(settings), code.upper())
    return _s(raw) if raw is not None else None
