"""`linkgate orders watch`: a live table of open orders with deadline countdowns.

Colours follow the board: amber under five minutes, red once the deadline passed or a
breach fired. If the store cannot be read the table says so in red (never "no orders").
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from rich.console import Console
from rich.live import Live
from rich.table import Table

from gateway.ops.orders import OpenOrder, OrdersUnavailable, open_orders
from gateway.redis_client import connect_redis
from gateway.settings import Settings

AMBER_S = 5 * 60
SHANGHAI = ZoneInfo("Asia/Shanghai")


def countdown(seconds: float) -> str:
    """`12:03` left, or `+1:02:03` overdue."""
    total = abs(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    body = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"+{body} overdue 超时" if seconds < 0 else body


def orders_table(orders: list[OpenOrder], now: datetime, error: str | None = None) -> Table:
    """The table for one refresh (a pure function of the orders and the clock)."""
    local = now.astimezone(SHANGHAI).strftime("%H:%M:%S")
    table = Table(
        title=f"Open orders 在办指令 — {len(orders)} open · {local} 北京时间",
        title_justify="left",
    )
    for name, justify in (
        ("code 编号", "left"),
        ("unit 单位", "left"),
        ("tier", "right"),
        ("state 状态", "left"),
        ("next 节点", "left"),
        ("due 时限", "left"),
        ("left 剩余", "right"),
        ("incident", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    if error is not None:
        table.add_row(f"[bold red]cannot read orders: {error}[/]", *[""] * 7)
        return table
    if not orders:
        table.add_row("[dim]none 无[/]", *[""] * 7)
    for order in orders:
        remaining = order.remaining_s(now)
        style = ""
        if remaining is not None and (remaining < 0 or order.milestone in order.breached):
            style = "bold red"
        elif remaining is not None and remaining < AMBER_S:
            style = "bold yellow"
        code = order.code + (" [magenta]演练 DRILL[/]" if order.status != "actual" else "")
        due = order.due.astimezone(SHANGHAI).strftime("%H:%M:%S") if order.due else "—"
        table.add_row(
            code,
            order.unit_id,
            order.tier,
            order.state,
            order.milestone or "—",
            due,
            countdown(remaining) if remaining is not None else "—",
            order.incident_id,
            style=style,
        )
    return table


async def snapshot_table(redis: Redis, settings: Settings) -> Table:
    now = datetime.now(UTC)
    try:
        return orders_table(await open_orders(redis, settings), now)
    except OrdersUnavailable as exc:
        return orders_table([], now, error=str(exc))


async def watch_orders(
    settings: Settings,
    console: Console | None = None,
    refresh_s: float = 1.0,
    once: bool = False,
) -> None:
    """Refresh the table every `refresh_s` until interrupted (or print it once)."""
    console = console or Console()
    redis = connect_redis(settings, socket_timeout=3, socket_connect_timeout=3)
    try:
        if once:
            console.print(await snapshot_table(redis, settings))
            return
        with Live(await snapshot_table(redis, settings), console=console, screen=False) as live:
            while True:
                await asyncio.sleep(refresh_s)
                live.update(await snapshot_table(redis, settings))
    finally:
        await redis.aclose()
