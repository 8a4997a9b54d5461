"""Order texts for liaisons: a concise Chinese SMS and a WeCom markdown card.

An SMS order carries the short code, what, where, the arrival deadline (Asia/Shanghai
local time) and how to reply, within `MAX_ORDER_UNITS` UTF-16 units (the carrier's unit:
70 per single SMS, 67 per segment). Only the instructions are shortened to fit.
"""

from __future__ import annotations

from datetime import datetime

from adapters.sms.length import truncate_units, utf16_units
from contracts.order import Order
from gateway.directory.schedule import LOCAL_TZ

MAX_ORDER_UNITS = 320


def local_time(at: datetime, now: datetime | None = None) -> str:
    """`10:35` today, `11月24日10:35` another day (local time)."""
    local = at.astimezone(LOCAL_TZ)
    today = (now or at).astimezone(LOCAL_TZ).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    return f"{local.month}月{local.day}日{local.strftime('%H:%M')}"


def deadline_text(order: Order) -> str:
    d = order.deadlines
    if d.arrive_by is not None:
        return f"{local_time(d.arrive_by, order.issued_at)}前到场"
    if d.acknowledge_by is not None:
        return f"{local_time(d.acknowledge_by, order.issued_at)}前回复"
    return ""


def reply_hint(code: str) -> str:
    return f"回复:1收到 2到达 3完成 4增援 移交+单位,多条指令请带代码{code}"


def order_sms(order: Order) -> str:
    """The SMS text of an order, at most MAX_ORDER_UNITS UTF-16 units."""
    head = f"【应急联动{'·紧急' if order.emergency else ''}】指令{order.code}:"
    parts = []
    if order.address:
        parts.append(f"地点:{order.address}")
    if deadline := deadline_text(order):
        parts.append(deadline)
    parts.append(reply_hint(order.code))
    tail = "。" + "。".join(parts)
    budget = MAX_ORDER_UNITS - utf16_units(head) - utf16_units(tail)
    if budget < 10:  # an absurdly long address: shorten it too
        tail = truncate_units(tail, MAX_ORDER_UNITS // 2)
        budget = MAX_ORDER_UNITS - utf16_units(head) - utf16_units(tail)
    return head + truncate_units(order.instructions, budget) + tail


def order_markdown(order: Order, unit_name: str) -> str:
    """The WeCom group card of an order (markdown subset WeCom renders)."""
    colour = "warning" if order.emergency else "info"
    lines = [
        f'## <font color="{colour}">应急联动指令 {order.code}</font>',
        f"> 单位:{unit_name}",
        f"> 内容:{order.instructions}",
    ]
    if order.address:
        lines.append(f"> 地点:{order.address}")
    if deadline := deadline_text(order):
        lines.append(f"> 时限:{deadline}")
    lines.append(f"> 下达:{local_time(order.issued_at)} ({order.issued_by})")
    lines.append(reply_hint(order.code))
    return "\n".join(lines)


def notice_markdown(code: str, text: str) -> str:
    """A liaison notice for the unit's group (delivery failure, fallback)."""
    return f"**指令{code}通知**\n> {text}"
