"""Request state in Redis: the current view plus a full, append-only history.

Keys (all under `settings.key(...)`):
- `calls:<kind>:<id>`          hash: the current view (state, reason, number, …)
- `calls:<kind>:<id>:history`  list: one JSON object per transition, oldest first
- `calls:<kind>:<id>:claim`    string: which worker instance owns the request (SET NX)
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from gateway.settings import Settings

TERMINAL = frozenset({"ended", "failed", "done"})
_NUMERIC = frozenset({"attempt", "cause"})


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


class RequestStore:
    """State of one kind of call request (`threeway`, `transfer`)."""

    def __init__(self, redis: Redis, settings: Settings, kind: str) -> None:
        self._redis = redis
        self._settings = settings
        self._kind = kind
        self._ttl = settings.call_state_ttl_s

    def _key(self, request_id: str, *suffix: str) -> str:
        return self._settings.key("calls", self._kind, request_id, *suffix)

    async def record(self, request_id: str, at: datetime, state: str, **fields: Any) -> None:
        """Set the current view and append the transition to the history, atomically."""
        view: dict[FieldT, EncodableT] = {
            k: _text(v) for k, v in fields.items() if v is not None
        }
        view.update(state=state, updated_at=at.isoformat())
        entry = {"at": at.isoformat(), "state": state}
        entry.update({k: v for k, v in fields.items() if v is not None and k != "created_at"})
        key = self._key(request_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=view)
            pipe.rpush(self._key(request_id, "history"), json.dumps(entry, default=_text))
            pipe.expire(key, self._ttl)
            pipe.expire(self._key(request_id, "history"), self._ttl)
            await pipe.execute()

    async def note(self, request_id: str, at: datetime, event: str, **fields: Any) -> None:
        """Append a history entry that does not change the state (e.g. a failed attempt)."""
        entry = {"at": at.isoformat(), "event": event}
        entry.update({k: v for k, v in fields.items() if v is not None})
        await self._redis.rpush(self._key(request_id, "history"), json.dumps(entry, default=_text))

    async def get(self, request_id: str) -> dict[str, Any] | None:
        """The current view with its history, or None if the request is unknown."""
        raw = await self._redis.hgetall(self._key(request_id))
        if not raw:
            return None
        view: dict[str, Any] = {_s(k): _s(v) for k, v in raw.items()}
        for name in _NUMERIC & view.keys():
            view[name] = int(view[name]) if view[name].isdigit() else view[name]
        history = await self._redis.lrange(self._key(request_id, "history"), 0, -1)
        view["request_id"] = request_id
        view["history"] = [json.loads(item) for item in history]
        return view

    async def delete(self, request_id: str) -> None:
        """Forget a request that was never accepted (its command could not be queued)."""
        await self._redis.delete(self._key(request_id), self._key(request_id, "history"))

    async def claim(self, request_id: str, owner: str) -> bool:
        """Take the request for this worker; False if somebody already took it."""
        ok = await self._redis.set(self._key(request_id, "claim"), owner, nx=True, ex=self._ttl)
        return bool(ok)

    async def claim_owner(self, request_id: str) -> str | None:
        raw = await self._redis.get(self._key(request_id, "claim"))
        return None if raw is None else _s(raw)

    async def once(self, request_id: str, step: str) -> bool:
        """True the first time `step` happens for this request (e.g. `ended`), else False."""
        ok = await self._redis.set(self._key(request_id, "once", step), "1", nx=True, ex=self._ttl)
        return bool(ok)

    async def happened(self, request_id: str, step: str) -> bool:
        """Whether `once(request_id, step)` was called."""
        return bool(await self._redis.exists(self._key(request_id, "once", step)))

    async def link(self, name: str, value: str, request_id: str) -> None:
        """Index a request by something else (a channel's Uniqueid, a call + unit)."""
        await self._redis.set(self._key("by", name, value), request_id, ex=self._ttl)

    async def lookup(self, name: str, value: str) -> str | None:
        raw = await self._redis.get(self._key("by", name, value))
        return None if raw is None else _s(raw)

    async def reserve(self, name: str, value: str, request_id: str, ttl_s: int) -> str | None:
        """Reserve `name=value` for a request; returns the holder if already reserved."""
        key = self._key("by", name, value)
        if await self._redis.set(key, request_id, nx=True, ex=ttl_s):
            return None
        holder = await self._redis.get(key)
        return None if holder is None else _s(holder)

    async def release(self, name: str, value: str, request_id: str) -> None:
        """Drop a reservation if this request still holds it."""
        key = self._key("by", name, value)
        holder = await self._redis.get(key)
        if holder is not None and _s(holder) == request_id:
            await self._redis.delete(key)


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
