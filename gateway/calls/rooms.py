"""One ConfBridge room per incident. Dialplan extensions must be digits, incident ids are
not, so each incident gets a number from a Redis counter, kept as long as call state."""

from __future__ import annotations

from redis.asyncio import Redis

from gateway.settings import Settings


async def room_for(redis: Redis, settings: Settings, incident_id: str) -> str:
    """The incident's room number; the same for every three-way call of that incident."""
    key = settings.key("calls", "room", incident_id)
    existing = await redis.get(key)
    if existing is None:
        seq = await redis.incr(settings.key("calls", "room-seq"))
        candidate = str(settings.conference_room_base + seq)
        await redis.set(key, candidate, nx=True, ex=settings.call_state_ttl_s)
        existing = await redis.get(key)  # the winner's number if two workers raced
    assert existing is not None
    return existing.decode() if isinstance(existing, bytes) else str(existing)


async def mark_joined(redis: Redis, settings: Settings, incident_id: str) -> None:
    """Remember that caller and operator were moved into the incident's room."""
    key = settings.key("calls", "room", incident_id, "joined")
    await redis.set(key, "1", ex=settings.call_state_ttl_s)


async def was_joined(redis: Redis, settings: Settings, incident_id: str) -> bool:
    return bool(await redis.exists(settings.key("calls", "room", incident_id, "joined")))
