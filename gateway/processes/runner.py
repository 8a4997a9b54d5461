"""Run a process coroutine with logging set up and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from gateway.logging import configure_logging
from gateway.observability.metrics import start_metrics_server
from gateway.settings import Settings

log = structlog.get_logger(__name__)

ProcessMain = Callable[[Settings], Coroutine[Any, Any, None]]


async def _supervise(name: str, main: ProcessMain, settings: Settings) -> None:
    loop = asyncio.get_running_loop()
    start_metrics_server(settings)  # LINKGATE_METRICS_PORT (0 = off)
    task = asyncio.create_task(main(settings), name=name)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    log.info("process.started", process=name)
    try:
        await task
    except asyncio.CancelledError:
        log.info("process.stopping", process=name)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("process.stopped", process=name)


def run_process(name: str, main: ProcessMain, settings: Settings) -> None:
    """Block running `main` until it ends or a stop signal cancels it."""
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(_supervise(name, main, settings))
