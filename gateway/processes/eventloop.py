"""The event loop every process runs on: uvloop where installed, stock asyncio otherwise.

uvloop's loop and transports are written in C; the gateway's processes spend much of
their CPU in the loop's I/O machinery (docs/benchmarks.md), so it is the default.
`LINKGATE_EVENT_LOOP=asyncio` falls back to the standard loop, e.g. to rule it out when
chasing a bug; `uvloop` insists on it and fails clearly where it is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from typing import Literal

LoopChoice = Literal["auto", "asyncio", "uvloop"]


class EventLoopUnavailable(RuntimeError):
    """`LINKGATE_EVENT_LOOP=uvloop` on a machine without uvloop."""


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def resolve(choice: LoopChoice) -> Literal["asyncio", "uvloop"]:
    """The loop `choice` means on this machine."""
    if choice == "asyncio":
        return "asyncio"
    if uvloop_available():
        return "uvloop"
    if choice == "uvloop":
        raise EventLoopUnavailable("LINKGATE_EVENT_LOOP=uvloop but uvloop is not installed")
    return "asyncio"


def loop_factory(choice: LoopChoice) -> Callable[[], asyncio.AbstractEventLoop]:
    """A constructor of new event loops of the chosen kind."""
    if resolve(choice) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop
