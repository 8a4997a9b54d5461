"""Report periods as supervisors write them: a date is midnight in Asia/Shanghai
(a month runs 2026-11-01 to 2026-12-01); a datetime must carry its timezone."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


class PeriodError(ValueError):
    """`reason` is machine-readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_when(raw: str) -> datetime:
    raw = raw.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=LOCAL)
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise PeriodError("bad-date") from None
    if at.tzinfo is None:
        raise PeriodError("datetime-needs-timezone")
    return at


def parse_period(start: str, end: str) -> tuple[datetime, datetime]:
    s, e = parse_when(start), parse_when(end)
    if s >= e:
        raise PeriodError("empty-period")
    return s, e
