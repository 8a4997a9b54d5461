"""Accept an inbound peer message exactly once: claim, build, publish or spool, answer.

The claim is taken before anything is published; the answer is stored with it, so a
duplicate gets the same answer and publishes nothing. Whatever fails before the
message is safely published or spooled gives the claim back and answers 503, so the
peer's retry does the work (Redis down: 503, nothing published).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import structlog
from fastapi import HTTPException
from redis.exceptions import RedisError

from bus.errors import UnroutableError
from bus.spool import Spool
from contracts.envelope import CloudEvent
from gateway.channels import metrics
from gateway.channels.claims import ClaimState, InboundClaims

log = structlog.get_logger(__name__)

Work = Callable[[], Awaitable[tuple[list[CloudEvent], str]]]


async def accept_once(
    claims: InboundClaims, ident: str, spool: Spool, work: Work, channel: str = "unknown"
) -> str:
    """Run `work` once per `ident`; return the answer for the peer."""
    try:
        result = await claims.claim(ident)
    except RedisError as exc:
        log.error("inbound.redis_unavailable", error=repr(exc))
        metrics.INBOUND.labels(channel, "redis-unavailable").inc()
        raise HTTPException(503, detail="redis-unavailable") from exc
    if result.state is ClaimState.DONE:
        log.info("inbound.duplicate", ident=ident)
        metrics.INBOUND.labels(channel, "duplicate").inc()
        return result.answer
    if result.state is ClaimState.BUSY:
        metrics.INBOUND.labels(channel, "busy").inc()
        raise HTTPException(503, detail="in-progress", headers={"Retry-After": "2"})
    try:
        events, answer = await work()
        for event in events:
            await spool.publish_or_spool(event)
        await claims.done(ident, answer)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await claims.release(ident)
        if isinstance(exc, RedisError):
            log.error("inbound.redis_unavailable", error=repr(exc))
            metrics.INBOUND.labels(channel, "redis-unavailable").inc()
            raise HTTPException(503, detail="redis-unavailable") from exc
        if isinstance(exc, UnroutableError):
            log.error("inbound.unroutable", ident=ident, error=str(exc))
            metrics.INBOUND.labels(channel, "unroutable").inc()
            raise HTTPException(503, detail="unroutable") from exc
        raise
    metrics.INBOUND.labels(channel, "accepted").inc()
    return answer
