"""Who is on duty at a given moment (local time, Asia/Shanghai)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from contracts.directory import DutyWindow, Liaison, Unit

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def in_window(window: DutyWindow, at: datetime) -> bool:
    """True when `at` falls in the weekly window (windows may cross midnight)."""
    local = at.astimezone(LOCAL_TZ)
    now = local.time()
    if window.start <= window.end:
        return local.isoweekday() in window.weekdays and window.start <= now <= window.end
    # crosses midnight: the evening part belongs to the listed day, the morning to the next
    if now >= window.start:
        return local.isoweekday() in window.weekdays
    yesterday = (local.isoweekday() - 2) % 7 + 1
    return now <= window.end and yesterday in window.weekdays


def on_duty_liaisons(unit: Unit, at: datetime) -> list[Liaison]:
    """Liaisons on duty now, in directory order; all of them if the roster leaves a gap."""
    on = [li for li in unit.liaisons if any(in_window(w, at) for w in li.on_duty)]
    return on or list(unit.liaisons)


def accepts_orders_now(unit: Unit, at: datetime) -> bool:
    """Tier 3 units take orders in working hours only; tiers 1 and 2 around the clock."""
    if unit.tier != 3 or unit.working_hours is None:
        return True
    return in_window(unit.working_hours, at)
