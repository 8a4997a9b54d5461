"""`linkgate`: the gateway's processes and operator tools (interface contract v1)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Linkage Gateway: telephony and message-bus gateway of social emergency linkage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(help="Inspect and replay dead-lettered messages.", no_args_is_help=True)
contracts_app = typer.Typer(help="Message contracts.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
app.add_typer(contracts_app, name="contracts")
orders_app = typer.Typer(help="Orders to linkage units.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _run(name: str) -> None:
    from gateway.processes.runner import run_process

    module = importlib.import_module(f"gateway.processes.{name}")
    run_process(name, module.run, _settings())


@app.command()
def api(
    workers: Annotated[int | None, typer.Option(help="uvicorn worker processes")] = None,
) -> None:
    """Serve the HTTP API and webhooks (LINKGATE_HTTP_HOST:LINKGATE_HTTP_PORT)."""
    import uvicorn

    from gateway.logging import configure_logging
    from gateway.processes.eventloop import EventLoopUnavailable, resolve

    settings = _settings()
    configure_logging(settings.log_level, settings.log_json)
    try:
        loop = resolve(settings.event_loop)
    except EventLoopUnavailable as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    uvicorn.run(
        "gateway.api.main:app",
        host=settings.http_host,
        port=settings.http_port,
        workers=workers or settings.http_workers,
        proxy_headers=True,
        log_config=None,
        timeout_graceful_shutdown=20,
        loop=loop,
        http="auto",  # httptools where installed (a dependency), h11 otherwise
    )


@app.command()
def router() -> None:
    """Consume received alerts, route them, deliver them to the centres."""
    _run("router")


@app.command()
def ami() -> None:
    """Hold the Asterisk AMI link: call events in, call actions out."""
    _run("ami")


@app.command()
def sla() -> None:
    """Track orders against their deadlines: reminders, breaches, evidence."""
    _run("sla")


@app.command()
def channels() -> None:
    """Send orders to liaisons by SMS and WeCom; fall back when one does not arrive."""
    _run("channels")


@app.command()
def route(
    text: Annotated[
        str | None, typer.Option(help="alert text; JSON lines on stdin if omitted")
    ] = None,
    channel: Annotated[str, typer.Option(help="sms|wechat|call|api")] = "api",
    rules: Annotated[
        Path | None, typer.Option(help="rules file (default: LINKGATE_RULES_FILE)")
    ] = None,
) -> None:
    """Classify alerts offline: one JSON object per alert (destination, category, rule)."""
    from gateway.routing.cli import route_command

    raise typer.Exit(route_command(text=text, channel=channel, rules_file=rules))


@app.command()
def status() -> None:
    """Broker, Redis, AMI link, queue and DLQ depths, spool (exit 1 if anything needs care)."""
    import asyncio

    from gateway.ops.status import status_command

    raise typer.Exit(asyncio.run(status_command(_settings())))


@orders_app.command("watch")
def orders_watch(
    once: Annotated[bool, typer.Option(help="print the table once and exit")] = False,
    refresh: Annotated[float, typer.Option(help="seconds between refreshes")] = 1.0,
) -> None:
    """Live table of open orders with deadline countdowns (Ctrl-C to stop)."""
    import asyncio
    import contextlib

    from gateway.ops.watch import watch_orders

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(watch_orders(_settings(), refresh_s=refresh, once=once))


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Option(help="consumer queue (default: all DLQs)")] = None,
    limit: Annotated[int, typer.Option(help="at most this many per queue")] = 1000,
) -> None:
    """Show dead-lettered messages (id, queue, reason) without removing them."""
    from gateway.dlq import list_command

    raise typer.Exit(list_command(_settings(), queue, limit))


@dlq_app.command("replay")
def dlq_replay(
    id_: Annotated[list[str] | None, typer.Option("--id", help="message id (repeatable)")] = None,
    all_: Annotated[bool, typer.Option("--all", help="replay every dead letter")] = False,
    queue: Annotated[str | None, typer.Option(help="consumer queue (default: all DLQs)")] = None,
) -> None:
    """Send dead letters back to their queue, same message id (delivered once)."""
    from gateway.dlq import replay_command

    raise typer.Exit(replay_command(_settings(), queue, id_ or [], all_))


@app.command()
def report(
    start: Annotated[str, typer.Option("--from", help="date (Asia/Shanghai) or ISO datetime")],
    end: Annotated[str, typer.Option("--to", help="end, exclusive")],
    unit: Annotated[str | None, typer.Option(help="one unit id")] = None,
    fmt: Annotated[str, typer.Option("--format", help="json|csv|html")] = "json",
    out: Annotated[Path | None, typer.Option(help="write to FILE instead of stdout")] = None,
) -> None:
    """Supervision report: per unit on-time rates, duty checks, deduction items."""
    from gateway.supervision.cli import report_command

    raise typer.Exit(report_command(_settings(), start, end, unit, fmt, out))


@contracts_app.command("export")
def contracts_export(target: Path) -> None:
    """Write the JSON Schema of every message into TARGET."""
    from contracts.export import export_schemas

    for path in export_schemas(target):
        typer.echo(str(path))


def main() -> None:  # pragma: no cover - console entry point alias
    app(sys.argv[1:])


@app.command()
def demo(
    once: Annotated[bool, typer.Option(help="one round of traffic, then a summary")] = False,
    rounds: Annotated[int, typer.Option(min=1, max=100, help="times the script is sent")] = 1,
) -> None:
    """Run the whole stack with simulated peers and drive real traffic through it."""
    from gateway.demo.run import DemoOptions, demo_main

    raise typer.Exit(demo_main(_settings(), DemoOptions(once=once, rounds=rounds)))
