"""Run a process coroutine with logging set up and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from gateway.logging import configure_logging
from gateway.observability.metrics import start_metrics_server
from gateway.observability.tracing import setup_tracing
from gateway.processes.eventloop import EventLoopUnavailable, loop_factory
from gateway.settings import Settings

log = structlog.get_logger(__name__)

ProcessMain = Callable[[Settings], Coroutine[Any, Any, None]]


async def _supervise(name: str, main: ProcessMain, settings: Settings) -> int:
    loop = asyncio.get_running_loop()
    start_metrics_server(settings)  # LINKGATE_METRICS_PORT (0 = off)
    setup_tracing()  # spans recorded (and exported if OTEL_TRACES_EXPORTER says so)
    task = asyncio.create_task(main(settings), name=name)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    log.info("process.started", process=name, event_loop=type(loop).__module__.split(".")[0])
    code = 0
    try:
        await task
    except asyncio.CancelledError:
        log.info("process.stopping", process=name)
    except Exception as exc:  # a process that cannot run says why, in one line, and exits 1
        log.error("process.failed", process=name, error=f"{type(exc).__name__}: {exc}")
        code = 1
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("process.stopped", process=name, exit_code=code)
    return code


def run_process(name: str, main: ProcessMain, settings: Settings) -> None:
    """Block running `main` until it ends or a stop signal cancels it.

    Unlike `asyncio.run`, leftovers get a bounded wait: a library task that swallows its
    cancellation (a robust AMQP reconnect caught mid-connect) must not keep a stopped
    process alive past its grace period.
    """
    configure_logging(settings.log_level, settings.log_json)
    try:
        loop = loop_factory(settings.event_loop)()
    except EventLoopUnavailable as exc:
        log.error("process.failed", process=name, error=str(exc))
        raise SystemExit(2) from None
    asyncio.set_event_loop(loop)
    try:
        code = loop.run_until_complete(_supervise(name, main, settings))
        _cancel_leftovers(loop, name, LEFTOVER_GRACE_S)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    if code:
        raise SystemExit(code)


LEFTOVER_GRACE_S = 5.0


def _cancel_leftovers(loop: asyncio.AbstractEventLoop, name: str, grace_s: float) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not tasks:
        return
    for task in tasks:
        task.cancel()
    _, pending = loop.run_until_complete(asyncio.wait(tasks, timeout=grace_s))
    if pending:
        log.warning(
            "process.leftover_tasks",
            process=name,
            tasks=sorted(t.get_name() + ":" + repr(t.get_coro())[:80] for t in pending),
        )
