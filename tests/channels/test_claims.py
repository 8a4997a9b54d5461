"""Inbound claims on real Redis: overlapping retries wait, take over, or are told to retry."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.channels.claims import ClaimState, InboundClaims
from gateway.settings import Settings


async def test_overlapping_claims(redis: Any, settings: Settings) -> None:
    claims = InboundClaims(redis, settings.key("test", "claims"), 60, wait_s=1.0)
    assert (await claims.claim("m1")).state is ClaimState.ACQUIRED
    # a retry overlapping the first waits for it and gets the very same answer
    waiting = asyncio.create_task(claims.claim("m1"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await claims.done("m1", "<Response/>")
    result = await waiting
    assert result.state is ClaimState.DONE and result.answer == "<Response/>"
    # the first fails and gives the claim back: the waiting retry takes over
    assert (await claims.claim("m2")).state is ClaimState.ACQUIRED
    waiting = asyncio.create_task(claims.claim("m2"))
    await asyncio.sleep(0.2)
    await claims.release("m2")
    assert (await waiting).state is ClaimState.ACQUIRED
    # the first is still at it when the wait ends: busy (the peer will retry)
    assert (await claims.claim("m2")).state is ClaimState.BUSY
    # many at once: exactly one acquires
    results = await asyncio.gather(*(claims.claim("m3") for _ in range(20)))
    assert sum(r.state is ClaimState.ACQUIRED for r in results) == 1
