"""Publishing progress from the ami process without letting a broker hiccup redial a phone.

Progress events are facts already recorded in Redis; if publishing fails we log loudly
instead of raising, because a raise would make the bus retry the whole command.
In the ami process `emit` is the spool's `publish_or_spool`, which keeps what it accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog

from bus.errors import UnroutableError
from contracts.envelope import CloudEvent

log = structlog.get_logger(__name__)

Emit = Callable[[CloudEvent], Awaitable[object]]


async def emit_safely(emit: Emit, event: CloudEvent) -> bool:
    """Publish; on failure log an error naming the event and return False."""
    try:
        await emit(event)
    except UnroutableError:  # nobody subscribes to this key: the fact is in Redis anyway
        log.warning("calls.event_unrouted", type=event.type, id=event.id)
        return False
    except Exception as exc:
        log.error("calls.emit_failed", type=event.type, id=event.id, error=repr(exc))
        return False
    return True
