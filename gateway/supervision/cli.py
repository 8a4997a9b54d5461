"""`linkgate report`: the supervision report from the command line (same as the API)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from gateway.redis_client import connect_redis
from gateway.settings import Settings
from gateway.supervision.period import PeriodError, parse_period
from gateway.supervision.render import to_csv, to_html
from gateway.supervision.report import build_report
from gateway.supervision.rules import RulesError


async def _build(settings: Settings, start: str, end: str, unit: str | None, fmt: str) -> str:
    s, e = parse_period(start, end)
    redis = connect_redis(settings)
    try:
        report = await build_report(redis, settings, s, e, unit)
    finally:
        await redis.aclose()
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def report_command(
    settings: Settings, start: str, end: str, unit: str | None, fmt: str, out: Path | None
) -> int:
    """Write the report to `out` (or stdout); exit code 2 on a bad period or rule table."""
    if fmt not in {"json", "csv", "html"}:
        print(f"unknown format {fmt!r} (json|csv|html)", file=sys.stderr)
        return 2
    try:
        text = asyncio.run(_build(settings, start, end, unit, fmt))
    except PeriodError as exc:
        print(f"bad period: {exc.reason}", file=sys.stderr)
        return 2
    except RulesError as exc:
        print(f"deduction rules: {exc}", file=sys.stderr)
        return 2
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
    return 0
