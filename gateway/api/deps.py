"""FastAPI dependencies: settings, Redis, publisher/spool, directory, API-key auth."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from redis.asyncio import Redis

from bus.publisher import Publisher
from bus.spool import Spool
from gateway.directory.store import DirectoryStore
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


def require_scope(scope: str) -> Callable[..., Awaitable[Caller]]:
    """Dependency: a valid `X-API-Key` (or `Authorization: Bearer`) holding `scope`."""

    async def check(
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
                return caller
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="invalid-api-key")

    return check
