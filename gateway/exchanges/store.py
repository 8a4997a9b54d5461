"""Ticket and hand-over records in Redis, changed with their events in one transaction.

Keys: `xchg:<kind>:<id>` record JSON; `xchg:<kind>:alert:<alert id>` → record id (an
alert is transferred once); events go to the orders outbox (same MULTI) and are
published after the commit, so a crash in between loses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from bus.publisher import Publisher
from contracts.envelope import CloudEvent
from gateway.orders.outbox import Outbox
from gateway.settings import Settings

Doc = dict[str, Any]


class ExchangeStore:
    """Small JSON documents per kind ("ticket", "handover", "seareport")."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self.outbox = Outbox(redis, settings)

    def key(self, kind: str, *parts: str) -> str:
        return self._settings.key("xchg", kind, *parts)

    async def get(self, kind: str, ident: str) -> Doc | None:
        raw = await self._redis.get(self.key(kind, ident))
        return json.loads(raw) if raw else None

    async def id_for_alert(self, kind: str, alert_id: str) -> str | None:
        raw = await self._redis.get(self.key(kind, "alert", alert_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    async def create(
        self,
        kind: str,
        ident: str,
        doc: Doc,
        events: list[CloudEvent],
        *,
        alert_id: str | None = None,
    ) -> tuple[Doc, bool, list[str]]:
        """Store `doc` unless `ident` exists; returns (stored doc, created, event ids)."""
        key = self.key(kind, ident)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    existing = await pipe.get(key)
                    if existing:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return json.loads(existing), False, []
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, json.dumps(doc, ensure_ascii=False))
                    if alert_id:
                        pipe.set(self.key(kind, "alert", alert_id), ident)
                    for e in events:
                        self.outbox.add(pipe, e)
                    await pipe.execute()
                    return doc, True, [e.id for e in events]
                except WatchError:
                    await pipe.reset()  # type: ignore[no-untyped-call]

    async def update(
        self, kind: str, ident: str, change: Callable[[Doc], tuple[Doc, list[CloudEvent]] | None]
    ) -> tuple[Doc | None, bool, list[str]]:
        """Apply `change` (None = nothing to do) atomically; (doc, changed, event ids)."""
        key = self.key(kind, ident)
        async with self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)
                    if not raw:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return None, False, []
                    doc = json.loads(raw)
                    result = change(doc)
                    if result is None:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return doc, False, []
                    new_doc, events = result
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(key, json.dumps(new_doc, ensure_ascii=False))
                    for e in events:
                        self.outbox.add(pipe, e)
                    await pipe.execute()
                    return new_doc, True, [e.id for e in events]
                except WatchError:
                    await pipe.reset()  # type: ignore[no-untyped-call]

    async def flush(self, publisher: Publisher | None, ids: list[str]) -> None:
        await self.outbox.flush(publisher, ids)
