"""Opening connections: one that fails to open is closed at once, not left to the GC.

aio-pika's own `connect`/`connect_robust` drop a connection object that failed to open
without closing it; its `__del__` later creates a `close()` coroutine nobody awaits (the
RuntimeWarning once seen in the readiness test). Ours close it on every failure.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable

import aio_pika
import pytest
from aio_pika.abc import AbstractConnection

from bus.connection import open_connection, open_robust_connection
from gateway.settings import Settings

UNREACHABLE = "amqp://guest:guest@127.0.0.1:1/"
Opener = Callable[..., Awaitable[AbstractConnection]]


def _connections() -> list[aio_pika.Connection]:
    return [o for o in gc.get_objects() if isinstance(o, aio_pika.Connection)]


async def _left_after_failure(open_: Opener, url: str, timeout_s: float) -> list[bool]:
    """The `is_closed` of every connection object the failed attempt created."""
    before = {id(c) for c in _connections()}
    with pytest.raises((ConnectionError, asyncio.TimeoutError, OSError)) as failure:
        await open_(url, timeout_s=timeout_s)
    left = [c.is_closed for c in _connections() if id(c) not in before]
    del failure
    return left


@pytest.mark.parametrize("open_", [open_connection, open_robust_connection])
async def test_a_refused_connection_is_closed_not_orphaned(open_: Opener) -> None:
    assert await _left_after_failure(open_, UNREACHABLE, 2.0) == [True]


async def test_aio_pikas_own_connect_robust_leaves_it_open_which_is_why_we_wrap_it() -> None:
    async def aio_pikas(url: str, timeout_s: float) -> AbstractConnection:
        return await aio_pika.connect_robust(url, timeout=timeout_s)

    assert await _left_after_failure(aio_pikas, UNREACHABLE, 2.0) == [False]


@pytest.mark.parametrize("open_", [open_connection, open_robust_connection])
async def test_a_connection_that_opens_works_and_closes(open_: Opener, settings: Settings) -> None:
    connection = await open_(settings.amqp_url, timeout_s=5.0)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await channel.default_exchange.publish(aio_pika.Message(b"ping"), queue.name)
        got = await queue.get(timeout=5, no_ack=True)
        assert got is not None and got.body == b"ping"
    finally:
        await connection.close()
    assert connection.is_closed
