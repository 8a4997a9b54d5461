"""`linkgate status`: broker, Redis, AMI link, queue and DLQ depths, spool, in rich tables.

Every check says what it could not read instead of showing a reassuring blank, and the
command exits non-zero when anything an alert depends on is down or a DLQ holds messages.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from bus.connection import open_connection
from bus.spool import Spool
from gateway.observability.ami_link import AmiLink, read_ami_link
from gateway.observability.queues import (
    DepthsUnavailable,
    QueueDepth,
    amqp_vhost,
    mgmt_client,
    queue_depths,
)
from gateway.redis_client import connect_redis
from gateway.settings import Settings

STALE_AFTER_S = 30.0


@dataclass
class Check:
    ok: bool
    detail: str


@dataclass
class StatusReport:
    """Everything `linkgate status` shows (also usable by other tools and tests)."""

    broker: Check
    vhost: str
    redis: Check
    ami: AmiLink
    queues: list[QueueDepth] = field(default_factory=list)
    queues_error: str | None = None
    spool_depth: int | None = None
    spool_error: str | None = None

    @property
    def ami_ok(self) -> bool:
        return self.ami.state == "connected" and not _stale(self.ami)

    @property
    def dead_letters(self) -> int:
        return sum(q.total for q in self.queues if q.kind == "dlq")

    @property
    def healthy(self) -> bool:
        return (
            self.broker.ok
            and self.redis.ok
            and self.ami_ok
            and self.queues_error is None
            and self.dead_letters == 0
            and self.spool_error is None
            and not self.spool_depth
        )


async def _check_broker(settings: Settings) -> Check:
    try:
        connection = await open_connection(settings.amqp_url, timeout_s=5.0)
    except Exception as exc:
        return Check(False, f"unreachable: {type(exc).__name__}: {exc}")
    await connection.close()
    version = ""
    base = str(settings.rabbitmq_mgmt_url).rstrip("/")
    with contextlib.suppress(Exception):
        async with mgmt_client(settings, 3) as http:
            overview = (await http.get(f"{base}/api/overview")).json()
            version = f"RabbitMQ {overview.get('rabbitmq_version', '?')}"
    return Check(True, f"reachable {version}".strip())


async def _check_redis(settings: Settings) -> tuple[Check, AmiLink]:
    redis = connect_redis(settings, socket_timeout=3, socket_connect_timeout=3)
    try:
        info = await redis.info("memory")
        server = await redis.info("server")
        ami = await read_ami_link(redis, settings)
        detail = (
            f"reachable, Redis {server.get('redis_version', '?')}, "
            f"memory {info.get('used_memory_human', '?')}"
            f" (peak {info.get('used_memory_peak_human', '?')})"
        )
        return Check(True, detail), ami
    except Exception as exc:
        return Check(False, f"unreachable: {type(exc).__name__}: {exc}"), AmiLink("unknown")
    finally:
        await redis.aclose()


def _spool_depth(settings: Settings) -> int:
    if not (settings.spool_dir / "spool.sqlite3").exists():
        return 0
    return Spool(settings.spool_dir, None).depth()


async def gather_status(settings: Settings) -> StatusReport:
    """Run every check concurrently, each bounded in time."""
    broker_task = asyncio.create_task(_check_broker(settings))
    redis_task = asyncio.create_task(_check_redis(settings))
    report = StatusReport(
        broker=Check(False, "?"),
        vhost=amqp_vhost(settings),
        redis=Check(False, "?"),
        ami=AmiLink("unknown"),
    )
    try:
        report.queues = await queue_depths(settings)
    except DepthsUnavailable as exc:
        report.queues_error = str(exc)
    try:
        report.spool_depth = await asyncio.to_thread(_spool_depth, settings)
    except Exception as exc:
        report.spool_error = repr(exc)
    report.broker = await broker_task
    report.redis, report.ami = await redis_task
    return report


def _stale(ami: AmiLink) -> bool:
    try:
        updated = datetime.fromisoformat(ami.updated)
    except ValueError:
        return True
    return (datetime.now(UTC) - updated).total_seconds() > STALE_AFTER_S


def _mark(ok: bool) -> str:
    return "[bold green]OK[/]" if ok else "[bold red]DOWN[/]"


def render_status(report: StatusReport, console: Console) -> None:
    """Print the report as rich tables."""
    services = Table(title="Linkage Gateway — services 服务状态", title_justify="left")
    services.add_column("component 组件")
    services.add_column("state 状态")
    services.add_column("detail 详情")
    services.add_row("broker (RabbitMQ)", _mark(report.broker.ok), report.broker.detail)
    services.add_row("vhost", "", report.vhost)
    services.add_row("Redis", _mark(report.redis.ok), report.redis.detail)
    ami = report.ami
    ami_state = ami.state + (" (stale)" if ami.state != "unknown" and _stale(ami) else "")
    colour = (
        "green"
        if report.ami_ok
        else ("yellow" if ami.state in {"connecting", "backoff"} else "red")
    )
    ami_detail = (
        f"since {ami.since or '?'}; {ami.version}".strip("; ")
        if ami.state != "unknown"
        else ("no report from the AMI process in the last minute")
    )
    services.add_row("AMI link (Asterisk)", f"[bold {colour}]{ami_state}[/]", ami_detail)
    if report.spool_error is not None:
        services.add_row("local spool", "[bold red]ERROR[/]", report.spool_error)
    else:
        depth = report.spool_depth or 0
        services.add_row(
            "local spool",
            "[bold green]empty[/]" if depth == 0 else f"[bold yellow]{depth} waiting[/]",
            str(report.spool_depth),
        )
    console.print(services)

    queues = Table(title="Queues 队列 (ready + unacked)", title_justify="left")
    for name, justify in (
        ("queue", "left"),
        ("kind", "left"),
        ("ready", "right"),
        ("unacked", "right"),
        ("consumers", "right"),
    ):
        queues.add_column(name, justify=justify)  # type: ignore[arg-type]
    if report.queues_error is not None:
        queues.add_row(f"[bold red]unknown: {report.queues_error}[/]", "", "", "", "")
    if report.queues_error is None and not report.queues:
        queues.add_row("[dim]no queues declared yet 暂无队列[/]", "", "", "", "")
    for q in report.queues:
        if q.exclusive:
            continue
        ready = str(q.ready) + ("" if q.exact else "~")
        if q.kind == "dlq" and q.total:
            ready = f"[bold red]{ready}[/]"
        kind = "[red]DLQ[/]" if q.kind == "dlq" else q.kind
        consumers = str(q.consumers)
        if q.kind == "work" and q.consumers == 0:
            consumers = "[bold yellow]0[/]"
        queues.add_row(q.name, kind, ready, str(q.unacked), consumers)
    console.print(queues)
    verdict = (
        "[bold green]all good 正常[/]" if report.healthy else "[bold red]attention needed 需处理[/]"
    )
    console.print(f"dead letters: {report.dead_letters} · {verdict}")


async def status_command(settings: Settings, console: Console | None = None) -> int:
    """Gather, render, and return the exit code (0 healthy, 1 otherwise)."""
    report = await gather_status(settings)
    render_status(report, console or Console())
    return 0 if report.healthy else 1
