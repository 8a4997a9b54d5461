"""Opening AMQP connections so that one that fails to open is closed, not left to the GC.

`aio_pika.connect` and `connect_robust` build the connection object, then await its
`connect()`; when that raises (broker down, a timeout, a cancelled `wait_for`), the object is
dropped unclosed. Its `__del__` later calls `asyncio.ensure_future(self.close())`, which,
outside a running loop, leaves a `close()` coroutine nothing awaits (a RuntimeWarning, seen in
the readiness test) and, for a robust connection, whatever reconnect state it holds. These
helpers do what aio-pika's do and close the object on every failure.
"""

from __future__ import annotations

import contextlib

import aio_pika
from aio_pika.abc import AbstractConnection, AbstractRobustConnection
from aio_pika.connection import make_url


async def open_connection(url: str, *, timeout_s: float | None = None) -> AbstractConnection:
    """A plain connection (one-shot checks, the board's feed); closed if it fails to open."""
    connection = aio_pika.Connection(make_url(url))
    await _connect_or_close(connection, timeout_s)
    return connection


async def open_robust_connection(
    url: str, *, timeout_s: float | None = None
) -> AbstractRobustConnection:
    """A robust connection (reconnects by itself once open); closed if it fails to open."""
    connection = aio_pika.RobustConnection(make_url(url))
    await _connect_or_close(connection, timeout_s)
    return connection


async def _connect_or_close(connection: AbstractConnection, timeout_s: float | None) -> None:
    try:
        await connection.connect(timeout=timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            await connection.close()
        raise
