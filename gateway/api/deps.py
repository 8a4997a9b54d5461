"""FastAPI dependencies: settings, Redis, publisher/spool, directory, API-key auth."""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from redis.asyncio import Redis

from bus.publisher import Publisher
from bus.spool import Spool
from gateway.directory.store import DirectoryStore
from gateway.ratelimit import TokenBucket
from gateway.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def get_publisher(request: Request) -> Publisher:
    publisher: Publisher | None = request.app.state.publisher
    if publisher is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="broker-unavailable")
    return publisher


def get_spool(request: Request) -> Spool:
    spool: Spool = request.app.state.spool
    return spool


def get_directory(request: Request) -> DirectoryStore:
    directory: DirectoryStore = request.app.state.directory
    return directory


class Caller:
    """Who is calling the API (an API key's name) and what it may do."""

    def __init__(self, key_id: str, scopes: list[str]) -> None:
        self.key_id = key_id
        self.scopes = scopes

    def may(self, scope: str) -> bool:
        return scope in self.scopes or "*" in self.scopes


async def _throttle(request: Request, settings: Settings, key: str) -> None:
    """Per-source limit: one API key flooding gets 429 with Retry-After, others are served.

    Citizens' webhooks are not limited here: an alarm is never refused for coming in a
    burst. If Redis cannot answer, the request is served (availability first)."""
    bucket = getattr(request.app.state, "api_bucket", None)
    if bucket is None:
        bucket = TokenBucket(
            request.app.state.redis,
            settings.key("ratelimit", "api"),
            capacity=max(1, settings.api_rate_per_minute // 4),
            period_s=60.0 / 4,
            reserve=0,
        )
        request.app.state.api_bucket = bucket
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]  # never the key itself in Redis
    try:
        taken = await bucket.take(digest, emergency=True)
    except Exception:
        return
    if not taken.ok:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail="rate-limited",
            headers={"Retry-After": str(max(1, math.ceil(taken.wait_s)))},
        )


def require_scope(scope: str) -> Callable[..., Awaitable[Caller]]:
    """Dependency: a valid `X-API-Key` (or `Authorization: Bearer`) holding `scope`."""

    async def check(
        request: Request,
        settings: Annotated[Settings, Depends(get_settings)],
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Caller:
        presented = x_api_key
        if presented is None and authorization and authorization.lower().startswith("bearer "):
            presented = authorization[7:].strip()
        if not presented:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="missing-api-key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        for key, scopes in settings.api_keys.items():
            if hmac.compare_digest(key.encode(), presented.encode()):
                caller = Caller(key_id=key[:4] + "…", scopes=scopes)
                if not caller.may(scope):
                    raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"scope-required:{scope}")
                await _throttle(request, settings, key)
                return caller
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="invalid-api-key")

    return check
