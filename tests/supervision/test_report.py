"""The supervision report from real order records and the evidence stream: on-time
rates, medians, duty checks, deduction items with points; drills never count."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from contracts.common import EventStatus
from contracts.dutycheck import DutyCheckResult
from contracts.envelope import make_event
from gateway.calls.evidence import DutyLineMiss, append_miss
from gateway.directory.store import DirectoryStore
from gateway.orders.timers import SlaTimers
from gateway.settings import Settings
from gateway.supervision.cli import report_command
from gateway.supervision.dutychecks import dutycheck_spec
from gateway.supervision.rules import RulesError, rules
from tests.orders.conftest import feedback, issue

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
FIRE_LINE = "+865782000074"


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
async def client(
    redis: Redis, settings: Settings, example_directory_file: Path,
    app_factory: Callable[..., Awaitable[Any]],
) -> httpx.AsyncClient:
    await DirectoryStore(redis, settings).load_file(example_directory_file, by="test")
    _, c = await app_factory()
    assert isinstance(c, httpx.AsyncClient)
    return c


async def scenario(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher
) -> None:
    """A morning in Lishui: one police order on time, fire brigade late, refused, a drill."""
    police = (await issue(client, unit_id="ls-police"))["order_id"]
    await feedback(client, police, "acknowledged", at(2))
    await feedback(client, police, "arrived", at(8))
    await feedback(client, police, "completed", at(40))
    await feedback(client, police, "report", at(300))
    late = (await issue(client, unit_id="ls-fire", incident_id="INC-2"))["order_id"]
    refused = (await issue(client, unit_id="ls-fire", incident_id="INC-3"))["order_id"]
    await feedback(client, refused, "refused", at(3), note="不属于我单位职责")
    drill = (await issue(client, unit_id="ls-fire", incident_id="DRILL", status="exercise"))
    assert drill["status"] == "exercise"
    sla = SlaTimers(redis, settings, lambda: publisher)
    await sla.tick(T0 + timedelta(minutes=21))  # ack + arrival deadlines pass for INC-2
    await feedback(client, late, "arrived", at(26))
    await feedback(client, late, "completed", at(70))
    # three unanswered calls to the fire brigade's duty line (calls colleague's records)
    for i in range(3):
        await append_miss(redis, settings, DutyLineMiss(
            unit_id="ls-fire", number=FIRE_LINE, at=T0 + timedelta(hours=i + 1),
            result="no-answer", cause=19, source="dutycheck", ref=f"chk-{i}",
            status=EventStatus.ACTUAL,
        ))
    await append_miss(redis, settings, DutyLineMiss(
        unit_id="ls-fire", number=FIRE_LINE, at=T0 + timedelta(hours=5), result="no-answer",
        cause=19, source="dutycheck", ref="chk-drill", status=EventStatus.EXERCISE,
    ))
    # duty-check results on the bus (one answered by the police duty room)
    runner = ConsumerRunner(settings, redis, [dutycheck_spec(redis, settings)])
    await runner.start()
    try:
        result = DutyCheckResult(
            check_id="chk-p1", unit_id="ls-police", number="+865782000037", outcome="answered",
            started_at=T0 + timedelta(hours=1), ended_at=T0 + timedelta(hours=1, seconds=9),
        )
        await publisher.publish(make_event(result, source="/tests"))
        for _ in range(100):
            rows = await redis.xlen(settings.key("evidence"))
            if rows >= 9:
                break
            await asyncio.sleep(0.05)
    finally:
        await runner.stop()
    r = await client.post("/v1/reports/evidence", json={
        "kind": "unreported_liaison_change", "unit_id": "ls-fire", "at": at(600),
        "note": "抽查发现联络员罗刚手机已停用,未报备", "ref": "spot-check-11",
        "recorded_by": "市应急管理局 王",
    })
    assert r.status_code == 201, r.text


async def test_report_scores_the_facts(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher
) -> None:
    await scenario(client, redis, settings, publisher)
    r = await client.get("/v1/reports/supervision", params={"from": "2026-11-23", "to": "2026-11-24"})
    assert r.status_code == 200, r.text
    report = r.json()
    units = {u["unit_id"]: u for u in report["units"]}
    assert set(units) == {"ls-police", "ls-fire"}
    police, fire = units["ls-police"], units["ls-fire"]
    assert police["orders"] == 1 and police["deduction_points"] == 0
    assert police["arrived"] == {
        "due": 1, "done": 1, "on_time": 1, "on_time_rate": 1.0, "median_minutes": 8.0,
    }
    assert police["reports"]["on_time"] == 1
    assert police["duty_checks"] == {"answered": 1, "missed": 0, "line_misses": 0}
    assert fire["orders"] == 2  # the drill is not counted
    assert fire["states"] == {"completed": 1, "refused": 1}
    assert fire["acknowledged"]["on_time"] == 0 and fire["acknowledged"]["due"] == 2
    assert fire["arrived"]["on_time_rate"] == 0.0 and fire["arrived"]["median_minutes"] == 26.0
    kinds = sorted(d["kind"] for d in fire["deductions"])
    assert kinds == [
        "duty_line_unanswered", "late_arrival", "missing_feedback", "refused_order",
        "unreported_liaison_change",
    ]
    assert fire["deduction_points"] == 1.0 + 1.0 + 1.0 + 2.0 + 1.0
    duty = next(d for d in fire["deductions"] if d["kind"] == "duty_line_unanswered")
    assert len(duty["evidence_ids"]) == 3 and duty["item"] == 8
    assert report["totals"] == {"orders": 3, "deduction_items": 5, "deduction_points": 6.0}

    one = (await client.get(
        "/v1/reports/supervision", params={"from": "2026-11-23", "to": "2026-11-24", "unit": "ls-police"}
    )).json()
    assert [u["unit_id"] for u in one["units"]] == ["ls-police"]

    text = (await client.get("/v1/reports/supervision", params={
        "from": "2026-11-23", "to": "2026-11-24", "format": "csv"})).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["unit_id"]: r["deduction_points"] for r in rows} == {"ls-fire": "6.0", "ls-police": "0"}
    page = await client.get("/v1/reports/supervision", params={
        "from": "2026-11-23", "to": "2026-11-24", "format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") == 3 and "市消防救援支队" in page.text
    assert "<script" not in page.text


async def test_report_period_and_auth_checked(
    client: httpx.AsyncClient, app_factory: Callable[..., Awaitable[Any]]
) -> None:
    r = await client.get("/v1/reports/supervision", params={"from": "2026-11-24", "to": "2026-11-23"})
    assert (r.status_code, r.json()["detail"]) == (422, "empty-period")
    r = await client.get("/v1/reports/supervision", params={"from": "2026-11-23T00:00", "to": "2026-11-24"})
    assert (r.status_code, r.json()["detail"]) == (422, "datetime-needs-timezone")
    r = await client.get("/v1/reports/supervision", params={"from": "2026-11-23"})
    assert r.status_code == 422
    _, anon = await app_factory(api_key=None)
    assert (await anon.get("/v1/reports/supervision", params={"from": "2026-11-23", "to": "2026-11-24"})).status_code == 401
    r = await client.post("/v1/reports/evidence", json={
        "kind": "unreported_liaison_change", "unit_id": "nope", "at": at(1), "note": "x",
        "recorded_by": "y"})
    assert (r.status_code, r.json()["detail"]) == (422, "unknown-unit")


def test_deduction_table_is_configurable_within_lishui_range(settings: Settings) -> None:
    assert rules(settings)["refused_order"].points == 2.0
    tuned = settings.model_copy(update={"deduction_points": {"late_arrival": 1.5}})
    assert rules(tuned)["late_arrival"].points == 1.5
    for bad in ({"late_arrival": 3.0}, {"late_arrival": 0.1}, {"nonsense": 1.0}):
        with pytest.raises(RulesError):
            rules(settings.model_copy(update={"deduction_points": bad}))


async def test_cli_report_writes_json_csv_html(
    client: httpx.AsyncClient, redis: Redis, settings: Settings, publisher: Publisher,
    tmp_path: Path,
) -> None:
    await scenario(client, redis, settings, publisher)
    env = os.environ | {"LINKGATE_REDIS_URL": settings.redis_url,
                        "LINKGATE_REDIS_PREFIX": settings.redis_prefix}
    exe = str(Path(sys.executable).parent / "linkgate")
    outs = {}
    out = tmp_path / "report.json"  # the real console script once
    proc = await asyncio.create_subprocess_exec(
        exe, "report", "--from", "2026-11-23", "--to", "2026-11-24", "--format", "json",
        "--out", str(out), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    outs["json"] = out.read_text(encoding="utf-8")
    for fmt in ("csv", "html"):  # the same command in-process
        out = tmp_path / f"report.{fmt}"
        code = await asyncio.to_thread(
            report_command, settings, "2026-11-23", "2026-11-24", None, fmt, out
        )
        assert code == 0
        outs[fmt] = out.read_text(encoding="utf-8")
    assert json.loads(outs["json"])["totals"]["deduction_points"] == 6.0
    assert outs["csv"].startswith("unit_id,name,tier,orders")
    assert "<svg" in outs["html"]
    proc = await asyncio.create_subprocess_exec(
        exe, "report", "--from", "2026-11-24", "--to", "2026-11-23", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"empty-period" in err
